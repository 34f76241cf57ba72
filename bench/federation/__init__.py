"""Catalogue federation (目录管理节点) between two installations: how long a lower platform's whole
catalogue takes to reconcile into a higher one's, and how soon a published entry is visible there.

    .venv/bin/python -m bench.federation [--entries 10000] [--publishes 10]

Two ``govshare serve`` processes on loopback, each with its own SQLite database: the city, and the
district registered at it as a catalogue node.  The district's entries are written straight into its
database as published (cataloguing them one by one is not what is measured).  Printed, as JSON:

- ``baseline_s``: the district building every entry's document and digest in process (the work no
  federation can skip), the same run's baseline;
- ``reconcile_s``: ``govshare federation reconcile`` sending all of them to an empty city (target
  ≤ 60 s for 10,000), with its ratio to the baseline and entries per second;
- ``in_step_s``: the same command again, when nothing differs;
- ``visible_s``: for each of ``--publishes`` entries published at the district (by the catalogue's
  actions, its server running the federation loop), the seconds until the city holds it (target ≤ 5 s).
"""
