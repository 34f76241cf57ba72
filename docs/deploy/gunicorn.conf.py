"""gunicorn settings for one machine of the platform (docs/deploy.md): ``gunicorn -c gunicorn.conf.py
server:application``.  Every ``GOVSHARE_*`` setting comes from the environment (the systemd unit's
EnvironmentFile); these are the HTTP server's own, each overridable by ``GUNICORN_*`` below."""

import os
import tempfile

# behind the reverse proxy, on the machine's own address (the proxy does TLS)
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8080")
# processes: about one per core; each is a whole platform (SOAP services, portal) on the one database
workers = int(os.environ.get("GUNICORN_WORKERS", os.cpu_count() or 2))
# threads in each: requests wait on the database and on 逻辑集中 providers, not on the CPU alone
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# a SubmitBatch of 100,000 records streams for tens of seconds; a 逻辑集中 provider may take its time
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "300"))
graceful_timeout = 60  # SIGTERM: requests in progress finish, then the worker ends
keepalive = 5
# the application is built in each worker after the fork (its database pools are its own): no preload
preload_app = False
# the proxy's address: its X-Forwarded-Proto is believed, nobody else's
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# logs to the journal: access lines with the time taken (microseconds), the platform's own lines as it writes them
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(D)sus "%({x-forwarded-for}i)s"'
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# gunicorn's control socket (gunicornc) is one path per user: two servers of one user would share it
control_socket_disable = True

# /metrics adds up the workers' metrics (prometheus_client's multi-process mode): each worker writes its
# own under this folder, made fresh as the server starts unless the unit names one (RuntimeDirectory)
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="govshare-metrics-")


def child_exit(server, worker):
    """A worker that ended: its gauges leave the sum (its counters stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
