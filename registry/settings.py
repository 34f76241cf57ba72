"""Every behaviour switch of the platform, read once from the environment.

| variable                 | default                           |
|--------------------------|-----------------------------------|
| GOVSHARE_DB_URL          | sqlite:///<var>/govshare.db       |
| GOVSHARE_VAR             | ./var                             |
| GOVSHARE_HOST            | 127.0.0.1                         |
| GOVSHARE_PORT            | 8080                              |
| GOVSHARE_PUBLIC_URL      | http://<host>:<port> (in WSDLs and access points) |
| GOVSHARE_NODE_DOMAIN     | govshare.local (UDDI key domain)  |
| GOVSHARE_TOKEN_TTL       | 3600 (seconds an authToken lives) |
| GOVSHARE_MAX_ROWS        | 1000 (largest page a find returns)|
| GOVSHARE_MAX_REQUEST     | 4194304 (bytes in one SOAP request)|
| GOVSHARE_MAX_BATCH       | 268435456 (bytes in one exchange request) |
| GOVSHARE_PROVIDER_TIMEOUT| 5 (seconds a provider has to answer a forwarded query) |
| GOVSHARE_DB_CONNECT_TIMEOUT | 5 (seconds PostgreSQL has to accept a connection; also the wait for a pooled one) |
| GOVSHARE_DB_STATEMENT_TIMEOUT | 60 (seconds a statement of a request may run on PostgreSQL; 0: none set) |
| GOVSHARE_DB_LOCK_TIMEOUT | 30 (seconds a statement of a request may wait for a lock on PostgreSQL; 0: none set) |
| GOVSHARE_DB_POOL         | 10 (PostgreSQL connections a process keeps open per pool; docs/deploy.md "Connections") |
| GOVSHARE_DB_OVERFLOW     | 20 (connections a pool opens beyond GOVSHARE_DB_POOL while busy, closed when returned) |
| GOVSHARE_UPPER_URL       | "" (the higher platform this one federates its catalogue into; "" none) |
| GOVSHARE_UPPER_KEY       | "" (PEM: this platform's key, certified by the higher platform) |
| GOVSHARE_UPPER_CERT      | "" (PEM: the certificate the higher platform issued to this one) |
| GOVSHARE_UPPER_CA        | "" (PEM: the higher platform's CA, which its signed answers chain to) |
| GOVSHARE_UPPER_RECONCILE | 300 (seconds between full reconciliations with the higher platform) |
| GOVSHARE_UDDI_NOTIFY     | 30 (seconds between the notifier's passes over UDDI subscription listeners; 0: none) |
| GOVSHARE_UDDI_MIN_INTERVAL | 60 (shortest notificationInterval granted to a UDDI subscription, seconds) |
| GOVSHARE_AUDIT           | 1 (0 turns the audit log off: benchmarks only, never production) |
| GOVSHARE_AUDIT_CHECKPOINT| 1000 (audit entries between signed checkpoints) |
| GOVSHARE_AUDIT_CHECKPOINT_SECONDS | 300 (age of the oldest unsigned audit entry that signs a checkpoint; 0: off) |
| GOVSHARE_EVIDENCE        | 1 (keep signed requests and answers in the evidence log 消息日志; 0: digests only) |
| GOVSHARE_EVIDENCE_DAYS   | 30 (days an archived evidence message stays in the database after it is archived) |
| GOVSHARE_TSA_URL         | "" (RFC 3161 time-stamping authority that stamps each evidence archive; "" none) |
| GOVSHARE_APPLICATION_DAYS| 10 (calendar days a provider has to answer a 使用申请) |
| GOVSHARE_CORRECTION_DAYS | 5 (calendar days a provider has to answer a 纠错 report) |
| GOVSHARE_PASSWORD_MIN_LENGTH | 10 (characters of a password; trust.passwords holds the other rules) |
| GOVSHARE_PASSWORD_HISTORY | 5 (a new password may not be one of the last so many; 0: no such rule) |
| GOVSHARE_PASSWORD_DAYS   | 90 (days a password lasts before it must be changed; 0: for ever) |
| GOVSHARE_LOGIN_ATTEMPTS  | 5 (wrong passwords in a row that lock an account; 0: never locked) |
| GOVSHARE_LOCKOUT_MINUTES | 15 (minutes a locked account stays locked) |
| GOVSHARE_MIGRATE         | 1 (a server migrates the database as it starts; 0: it only checks the schema) |
| GOVSHARE_PROXIES         | 0 (reverse proxies in front whose X-Forwarded-For/-Proto/-Host are believed; 0: none) |
| GOVSHARE_CATALOGUE_TITLE | 政务信息资源开放目录 (the open catalogue's dct:title in the DCAT-AP files) |
| GOVSHARE_CATALOGUE_PUBLISHER | 政务信息资源共享交换平台 (who publishes it: its dct:publisher) |
| GOVSHARE_JOBS            | inprocess on SQLite, procrastinate on PostgreSQL (threads of `serve`, or `worker` jobs) |
| GOVSHARE_JOBS_TICK       | 30 (seconds between periodic jobs' ticks; divides a minute, an hour or a day) |
| GOVSHARE_JOBS_ATTEMPTS   | 5 (attempts of a failing job; waits between them 2, 4, 8 ... s) |
| GOVSHARE_JOBS_HEARTBEAT  | 10 (seconds between a worker's heartbeats) |
| GOVSHARE_JOBS_STALLED    | 30 (seconds without a heartbeat after which a worker's running jobs are retried) |
| GOVSHARE_JOBS_CONCURRENCY| 2 (jobs one `govshare worker` runs at once) |
| GOVSHARE_MONITORING_DAYS | 90 (days the per-request operational records (运行监测) are kept; 0: for ever) |
| GOVSHARE_MONITORING_SUMMARY_DAYS | 731 (days the daily summaries (运行监测按日汇总) are kept; 0: for ever) |
| GOVSHARE_NOTICE_DAYS     | 180 (days a 站内消息 is kept once read; 0: for ever) |
| GOVSHARE_REMIND_SECONDS  | 300 (seconds between passes of 到期提醒与告警通知; 0: none) |
| GOVSHARE_ALERT_CERT_DAYS | 30 (a certificate, or the CA, expiring within so many days is an alert (告警)) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from wsgiref.util import application_uri


def _default_var() -> Path:
    return Path(os.environ.get("GOVSHARE_VAR", "var")).resolve()


WSS_POLICIES = ("require", "optional", "off")
JOB_ENGINES = ("inprocess", "procrastinate")


class SettingsError(ValueError):
    """A setting in the environment that cannot be used; the message names it and says what it takes."""


def _number(kind: type[int] | type[float], name: str, default: str) -> int | float:
    text = os.environ.get(name, default).strip()
    try:
        return kind(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not {'a whole number' if kind is int else 'a number'}: "
                            f"set it like {name}={default}, or unset it for {default}") from None


@dataclass(frozen=True)
class Settings:
    var_dir: Path = field(default_factory=_default_var)
    db_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    node_domain: str = "govshare.local"
    token_ttl: int = 3600
    max_rows: int = 1000
    max_request_bytes: int = 4 * 1024 * 1024
    max_batch_bytes: int = 256 * 1024 * 1024
    provider_timeout: float = 5.0
    # How long the platform waits on PostgreSQL.  The statement and lock limits hold for the
    # statements of requests only: adapter runs, migrations and commands may run for hours.
    db_connect_timeout: int = 5  # libpq's connect_timeout (at least 2)
    db_statement_timeout: int = 60
    db_lock_timeout: int = 30
    # Each pool of a process (requests, UDDI inquiry) keeps up to db_pool connections open and opens
    # up to db_overflow more while busy: the sum over every process must fit PostgreSQL's max_connections
    db_pool: int = 10
    db_overflow: int = 20
    inquiry_cache_mb: int = 64  # UDDI inquiry answers kept per process; 0 turns the cache off
    # WS-Security on /exchange and /uddi/publication: require (production), optional (verify
    # signed messages, let unsigned ones through: development and tests), off
    wss_policy: str = "require"
    wss_skew: int = 300  # seconds of clock difference tolerated on wsu:Timestamp
    wss_max_lifetime: int = 900  # longest Created..Expires accepted, seconds
    application_days: int = 10  # calendar days, not working days: no holiday calendar is kept
    correction_days: int = 5
    # Passwords and sign-in (trust.passwords, 等保三级): the policy, and the lock-out after wrong passwords
    password_min_length: int = 10
    password_history: int = 5
    password_days: int = 90
    login_attempts: int = 5
    lockout_minutes: int = 15
    # Federation (目录管理节点): the higher platform this one pushes its published catalogue to
    upper_url: str = ""
    upper_key: str = ""
    upper_cert: str = ""
    upper_ca: str = ""
    upper_reconcile_seconds: int = 300
    # UDDI subscriptions (5.5): how often the server's notifier looks for listeners due a notification,
    # and the shortest notificationInterval it grants
    uddi_notify_seconds: int = 30
    uddi_min_interval: int = 60
    # Audit log (S4): every exchange and publication call recorded; off only for benchmarks
    audit: bool = True
    audit_checkpoint_every: int = 1000  # entries between signed checkpoints of the chain
    audit_checkpoint_seconds: int = 300  # a checkpoint once the oldest unsigned entry is this old
    # Evidence log (消息日志): signed requests and answers kept whole, while WS-Security is on; how long an
    # archived one stays online; the time-stamping authority (RFC 3161) of the archives
    evidence: bool = True
    evidence_days: int = 30
    tsa_url: str = ""
    # a server migrates the database as it starts (else it refuses one not at its schema)
    migrate: bool = True
    # reverse proxies in front of the servers: the client's address (audit, lock-out) and scheme are
    # taken from the last so many X-Forwarded-* hops; with none, a client could name any address
    proxies: int = 0
    # The open catalogue (开放目录) as its DCAT-AP files name it: its title and who publishes it
    catalogue_title: str = "政务信息资源开放目录"
    catalogue_publisher: str = "政务信息资源共享交换平台"
    # Background work (operations/): "" takes the engine from the database (procrastinate on PostgreSQL)
    jobs: str = ""
    jobs_tick: int = 30
    jobs_attempts: int = 5
    jobs_heartbeat: int = 10
    jobs_stalled: int = 30
    jobs_concurrency: int = 2

    @property
    def job_engine(self) -> str:
        """Where background work runs: ``inprocess`` (threads of ``govshare serve``) or ``procrastinate``."""
        return self.jobs or ("procrastinate" if self.db_url.startswith("postgresql") else "inprocess")
    # Operational monitoring (运行监测): days a request's record is kept; alerts (告警) on certificates
    monitoring_days: int = 90
    monitoring_summary_days: int = 731
    alert_cert_days: int = 30
    notice_days: int = 180  # a read 站内消息 is deleted so many days after it was written (0: never)
    remind_seconds: int = 300  # between passes of the reminders and alert notices (0: none)

    @property
    def base_url(self) -> str:
        """The address other systems reach this platform at."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def public_base(self, environ: Mapping[str, object]) -> str:
        """The address this platform's documents name it by: ``GOVSHARE_PUBLIC_URL``, else the
        one the request came to (its Host and the script root a proxy mounted it at)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return application_uri(dict(environ)).rstrip("/")

    @property
    def node_id(self) -> str:
        """The UDDI nodeID of this registry (a key in the node's own partition)."""
        return f"uddi:{self.node_domain}:node"

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        env = os.environ
        var_dir = _default_var()
        values = dict(
            var_dir=var_dir,
            db_url=env.get("GOVSHARE_DB_URL") or f"sqlite:///{var_dir / 'govshare.db'}",
            host=env.get("GOVSHARE_HOST", "127.0.0.1"),
            port=_number(int, "GOVSHARE_PORT", "8080"),
            node_domain=env.get("GOVSHARE_NODE_DOMAIN", "govshare.local").lower(),
            token_ttl=_number(int, "GOVSHARE_TOKEN_TTL", "3600"),
            max_rows=_number(int, "GOVSHARE_MAX_ROWS", "1000"),
            max_request_bytes=_number(int, "GOVSHARE_MAX_REQUEST", str(4 * 1024 * 1024)),
            public_url=env.get("GOVSHARE_PUBLIC_URL", ""),
            max_batch_bytes=_number(int, "GOVSHARE_MAX_BATCH", str(256 * 1024 * 1024)),
            provider_timeout=_number(float, "GOVSHARE_PROVIDER_TIMEOUT", "5"),
            db_connect_timeout=_number(int, "GOVSHARE_DB_CONNECT_TIMEOUT", "5"),
            db_statement_timeout=_number(int, "GOVSHARE_DB_STATEMENT_TIMEOUT", "60"),
            db_lock_timeout=_number(int, "GOVSHARE_DB_LOCK_TIMEOUT", "30"),
            db_pool=_number(int, "GOVSHARE_DB_POOL", "10"),
            db_overflow=_number(int, "GOVSHARE_DB_OVERFLOW", "20"),
            inquiry_cache_mb=_number(int, "GOVSHARE_INQUIRY_CACHE_MB", "64"),
            wss_policy=env.get("GOVSHARE_WSS", "require").strip().lower(),
            upper_url=env.get("GOVSHARE_UPPER_URL", "").strip().rstrip("/"),
            upper_key=env.get("GOVSHARE_UPPER_KEY", ""), upper_cert=env.get("GOVSHARE_UPPER_CERT", ""),
            upper_ca=env.get("GOVSHARE_UPPER_CA", ""),
            upper_reconcile_seconds=_number(int, "GOVSHARE_UPPER_RECONCILE", "300"),
            wss_skew=_number(int, "GOVSHARE_WSS_SKEW", "300"),
            wss_max_lifetime=_number(int, "GOVSHARE_WSS_MAX_LIFETIME", "900"),
            application_days=_number(int, "GOVSHARE_APPLICATION_DAYS", "10"),
            correction_days=_number(int, "GOVSHARE_CORRECTION_DAYS", "5"),
            password_min_length=_number(int, "GOVSHARE_PASSWORD_MIN_LENGTH", "10"),
            password_history=_number(int, "GOVSHARE_PASSWORD_HISTORY", "5"),
            password_days=_number(int, "GOVSHARE_PASSWORD_DAYS", "90"),
            login_attempts=_number(int, "GOVSHARE_LOGIN_ATTEMPTS", "5"),
            lockout_minutes=_number(int, "GOVSHARE_LOCKOUT_MINUTES", "15"),
            uddi_notify_seconds=_number(int, "GOVSHARE_UDDI_NOTIFY", "30"),
            uddi_min_interval=_number(int, "GOVSHARE_UDDI_MIN_INTERVAL", "60"),
            audit=env.get("GOVSHARE_AUDIT", "1").strip().lower() not in ("0", "false", "off", "no"),
            audit_checkpoint_every=_number(int, "GOVSHARE_AUDIT_CHECKPOINT", "1000"),
            audit_checkpoint_seconds=_number(int, "GOVSHARE_AUDIT_CHECKPOINT_SECONDS", "300"),
            proxies=_number(int, "GOVSHARE_PROXIES", "0"),
            evidence=env.get("GOVSHARE_EVIDENCE", "1").strip().lower() not in ("0", "false", "off", "no"),
            evidence_days=_number(int, "GOVSHARE_EVIDENCE_DAYS", "30"),
            tsa_url=env.get("GOVSHARE_TSA_URL", "").strip(),
            migrate=env.get("GOVSHARE_MIGRATE", "1").strip().lower() not in ("0", "false", "off", "no"),
            catalogue_title=env.get("GOVSHARE_CATALOGUE_TITLE", "").strip() or "政务信息资源开放目录",
            catalogue_publisher=env.get("GOVSHARE_CATALOGUE_PUBLISHER", "").strip() or "政务信息资源共享交换平台",
            jobs=env.get("GOVSHARE_JOBS", "").strip().lower(),
            jobs_tick=_number(int, "GOVSHARE_JOBS_TICK", "30"),
            jobs_attempts=_number(int, "GOVSHARE_JOBS_ATTEMPTS", "5"),
            jobs_heartbeat=_number(int, "GOVSHARE_JOBS_HEARTBEAT", "10"),
            jobs_stalled=_number(int, "GOVSHARE_JOBS_STALLED", "30"),
            jobs_concurrency=_number(int, "GOVSHARE_JOBS_CONCURRENCY", "2"),
            monitoring_days=_number(int, "GOVSHARE_MONITORING_DAYS", "90"),
            monitoring_summary_days=_number(int, "GOVSHARE_MONITORING_SUMMARY_DAYS", "731"),
            alert_cert_days=_number(int, "GOVSHARE_ALERT_CERT_DAYS", "30"),
            notice_days=_number(int, "GOVSHARE_NOTICE_DAYS", "180"),
            remind_seconds=_number(int, "GOVSHARE_REMIND_SECONDS", "300"),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values["jobs"] not in ("", *JOB_ENGINES):
            raise SettingsError(f"GOVSHARE_JOBS={values['jobs']!r} is not a job engine: set it to one of "
                                f"{', '.join(JOB_ENGINES)}, or unset it (procrastinate on PostgreSQL, else inprocess)")
        if values["jobs"] == "procrastinate" and not values["db_url"].startswith("postgresql"):
            raise SettingsError("GOVSHARE_JOBS=procrastinate needs PostgreSQL (GOVSHARE_DB_URL=postgresql+psycopg://"
                                "...): its queue is tables in the platform's database")
        if values["wss_policy"] not in WSS_POLICIES:
            raise SettingsError(f"GOVSHARE_WSS={values['wss_policy']!r} is not a policy: set it to one of "
                                f"{', '.join(WSS_POLICIES)}")
        if values["db_pool"] < 1 or values["db_overflow"] < 0:
            raise SettingsError(f"GOVSHARE_DB_POOL={values['db_pool']} and GOVSHARE_DB_OVERFLOW="
                                f"{values['db_overflow']} cannot make a pool: the pool keeps at least 1 connection "
                                "and opens 0 or more beyond it")
        if values["evidence_days"] < 0:
            raise SettingsError(f"GOVSHARE_EVIDENCE_DAYS={values['evidence_days']} is negative: set the days an "
                                "archived evidence message stays online (0: removed once archived)")
        return cls(**values)
