"""Operations (运维, MISSION O1): the platform's background work as jobs.

What runs in the background - adapter runs when their schedules say, UDDI subscription notifications,
federation push, reconciliation and deliveries to the higher platform, audit checkpoints by age - runs
either as threads of ``govshare serve`` (``GOVSHARE_JOBS=inprocess``, the embedded SQLite default) or as
jobs on procrastinate's PostgreSQL queue, run by any number of ``govshare worker`` processes
(``GOVSHARE_JOBS=procrastinate``, the default on PostgreSQL).  README, "Background work (jobs)".

    engine.py    the procrastinate application: connector, tasks, periodic schedule, retries
    tasks.py     what each job does, as plain functions over the platform's actions
    listing.py   the action ``jobs.list`` behind the portal's 后台作业 page
    failed.py    the actions ``jobs.retry`` and ``jobs.purge``: the jobs that failed every attempt
    cli.py       ``govshare worker``

This package sits at the top layer, beside server.py and the portal: its tasks call the adapters,
federation, the directory and the audit log.
"""
