"""The open catalogue (开放目录) harvested as DCAT-AP: how long a harvester takes to read all of it.

    .venv/bin/python -m bench.dcat [--entries 10000]

One ``govshare serve`` on loopback with its own SQLite database, holding ``--entries`` published
entries open to the public (written straight into the database).  A harvester's walk over HTTP,
as CKAN's DCAT harvester makes it: every page of ``/catalogue/dcat.ttl`` and of
``/catalogue/dcat.jsonld`` (500 datasets a page), then every page again with the ETag it got
(``If-None-Match``: 304, nothing built).  Printed, as JSON: each walk's seconds, its slowest page,
its bytes, and each page's median against the same run's baseline - a 304 answer (the request,
the entries' list and the tag, with no graph built or written).
"""
