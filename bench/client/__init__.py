"""Benchmark of the department client: ``govshare-client submit`` and ``changes --follow`` (issue 17).

    .venv/bin/python -m bench.client                          # SQLite: 1,000,000-row CSV, then 20 s at 10k/s
    .venv/bin/python -m bench.client --rows 50000 --seconds 8 # a quick look

What is measured, and why.  A department sends its nightly export with ``govshare-client submit``
and follows another department's resource with ``changes --follow``; the client must not be what
limits either.  Issue 17's targets:

* **submit**: a 1,000,000-row CSV of 人口基础信息 sent by the real command reaches ≥ 0.8× the
  server's SubmitBatch rate, as the exchange benchmark measures it (prebuilt envelopes POSTed with
  ``requests``: the server's rate, without any client work) in the same run, on the same server and
  database, with batches of the same size; and the client's peak RSS stays ≤ 150 MB;
* **follow**: ``changes CODE --follow`` keeps up with a provider submitting 10,000 records/s: its
  lag stays bounded while the provider runs and it has caught up within a few seconds (5) after
  the provider stops.

How.  ``platform`` migrates a fresh database (SQLite file, or with ``--db postgresql`` the throwaway
database ``govshare_bench_client``), publishes 公安局's 户籍登记信息 (无条件共享) as
``bench.exchange.workload`` does, registers 民政局 as the reading department, and serves the real
application with ``bench.exchange``'s ``served`` (waitress, 4 threads, its own process, server-side
timing) with ``GOVSHARE_WSS=optional``: every request here is **unsigned**, the client's
(``GOVSHARE_CLIENT_REQUESTER`` naming the department) and the baseline's alike; bench/security
measures what signing costs.

1. ``export`` writes the CSV (the ``Person`` format's field names as the header, values as the
   format encodes them, 174 MiB for 1,000,000 rows).  After a 1,000-record warm-up, ``--repeat``
   exchange-benchmark batches of ``--batch-size`` fresh records are POSTed; then
   ``.venv/bin/govshare-client submit CODE FILE --batch-size N`` runs as a child process (timed from
   exec to exit: start-up, WSDL, the file's SHA-256 run id, reading, building, digesting, sending)
   while ``watch`` polls its peak RSS (``VmHWM``); its receipts must add up to every row accepted;
   then ``--repeat`` more baseline batches, so a database grown by the client's rows weighs on both
   sides.  Ratio: the command's records/s over the median of the baseline batches.
2. In a second fresh database, ``provider`` (its own process, batches built before the clock
   starts) POSTs ``--provider-batch`` records every ``batch / --rate`` seconds for ``--seconds``, or
   as fast as the server answers when it is slower; ``govshare-client changes CODE --follow
   --interval 1`` (the command's default interval is 10 s) runs beside it from the start as 民政局.
   Every 0.25 s the benchmark compares the records committed (the provider's receipts) with the new
   changes the follower has printed: records behind, and seconds behind (now minus the receipt time
   of the oldest record not yet printed), until the follower has printed every record or 60 s after
   the provider's last receipt.

``__main__`` prints the figures, the ratios and the verdicts, and writes them as JSON under
``bench/results/`` (git-ignored).  Traffic stays on 127.0.0.1; every loop is bounded by count or time.
"""
