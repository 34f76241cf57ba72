"""Benchmark of the front-end exchange node (前置交换节点): delivery through its outbox, and its
gateway's overhead (issue 18).

    .venv/bin/python -m bench.node              # 1,000,000 records, batches of 5,000 (the node's default); 500 calls
    .venv/bin/python -m bench.node --rows 50000 --calls 100   # a quick look
    .venv/bin/python -m bench.node --profile            # the node under cProfile (figures then not of record)

Issue 18's targets:

* **delivery**: the node drains a backlog of 1,000,000 records from its outbox at ≥ 0.8× the
  server's SubmitBatch rate, as the exchange benchmark measures it (prebuilt envelopes POSTed
  with ``requests``) in the same run, on the same server and database, with batches of the
  node's ``[delivery] batch_size``; the node's peak RSS stays ≤ 200 MB;
* **gateway**: a legacy system's unsigned QueryRecords by key through the node's gateway takes
  at most 10 ms more (p50) than the same question asked of the centre directly, signed.

How (``bench.node.world``, ``.centre``, ``.delivery``, ``.gateway``).  A fresh SQLite database
holds 公安局's published 户籍登记信息 (无条件共享) and 民政局; the platform CA (``pki.init_ca``)
issues each a certificate.  The platform is ``bench.directory.server``'s application (waitress,
4 threads, its own process, server-side timing) on a port chosen beforehand (``bench.node.centre``),
``GOVSHARE_WSS=optional``: signed requests are verified and answered signed.  Every request in
measurement 1 is signed, the node's and the baseline's alike.

1. With the centre up, ``govshare node run --once`` (the node reads the standard formats once and
   keeps them, as a node that has run before has them), a 1,000-record warm-up and ``--repeat``
   baseline batches of ``--batch-size`` fresh records, each signed with 公安局's key just before
   it is POSTed.  Then **the centre is stopped**; a CSV of ``--rows`` 人口基础信息 rows
   (``bench.client.export``, none of them in the baseline's batches) is put in the node's drop
   folder and ``govshare node run node.toml`` starts (``retry_first 0.1``, ``retry_max 0.5``,
   ``poll 0.2``): it takes the file into its outbox as batches while its courier finds the centre
   unreachable.  When every batch is in the outbox, **the centre is started again** on the same
   port, and the drain is timed from the moment it listens to the last receipt stored in the node's
   database (``outbox.delivered_at``); the centre's own time on the node's requests and the node's
   CPU time over the same span show who waited for whom.  The node's peak RSS is its ``VmHWM``
   (``bench.client.watch.PeakRss``) from start to stop, the take included.  Then ``--repeat``
   more baseline batches on the same server; ratio = drain records/s over the median of all of them.
2. 民政局's node with a ``[gateway]`` for its legacy system (calling from 127.0.0.1) starts in
   front of the same centre; ``--calls`` calls of each of: the legacy system's unsigned POST to the
   gateway, a signed POST straight to the centre (signed and its answer verified in the calling
   process, as the gateway does it), and ``client.exchange.Exchange.query`` (zeep, for reference),
   taking turns call by call, each asking for another person the node delivered; p50/p90 of each.

``__main__`` prints the figures, the ratios and the verdicts, and writes them as JSON under
``bench/results/`` (git-ignored).  Traffic stays on 127.0.0.1; every wait is bounded.
"""
