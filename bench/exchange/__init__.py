"""Benchmark of the exchange service: SubmitBatch of 10,000 population records end to end.

What is measured, and why.  Departments push their records to the centre as batches, so
SubmitBatch's throughput decides how long a nightly full load of a base database takes.
Issue 3 sets the target at 10,000 records/s end to end (HTTP -> parse -> validate -> input
and core tiers): what DataX's single-channel PostgreSQL writer does without any validation.
Two measurements of the same records in the same run say where the end-to-end time stands:

* (a) parse and validate only: the batch streamed with ``iterparse`` and each record checked
  with its format's compiled lxml schema (the service's fast path, a1) or with
  ``validate_record`` (structure, decoding and the semantic rules, a2);
* (b) a raw bulk insert of the same rows (key, fields as the core stores them) with one
  SQLAlchemy Core ``executemany`` into a table shaped like ``core_record``.

How.  ``workload`` publishes a population resource in a fresh database (SQLite file or a
throwaway PostgreSQL database) and builds batches of fresh records with fresh batch ids, so
the service never finds a record unchanged.  The real application is served by waitress in
its own process (``bench.directory.server``, which also times each request inside the
server) on a free 127.0.0.1 port; ``measure`` posts each batch with ``requests``, checks the
receipt and GetBatchStatus (all accepted, none quarantined or unchanged), and runs (a) and
(b).  One large batch (100,000 records) shows streaming: ``memory`` reads the server's peak
RSS while receiving it and what one lxml DOM of the same document takes.  ``report`` prints
records/s (median of the repetitions), the ratios end-to-end/(a) and end-to-end/(b) and the
verdict, and writes the figures as JSON under ``bench/results/`` (git-ignored).
``profiling`` runs one batch in-process under cProfile to show where the server's time goes.
BENCHMARKS.md records the figures.
"""
