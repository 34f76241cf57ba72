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
| GOVSHARE_APPLICATION_DAYS| 10 (calendar days a provider has to answer a 使用申请) |
| GOVSHARE_CORRECTION_DAYS | 5 (calendar days a provider has to answer a 纠错 report) |
| GOVSHARE_PASSWORD_MIN_LENGTH | 10 (characters of a password; trust.passwords holds the other rules) |
| GOVSHARE_PASSWORD_HISTORY | 5 (a new password may not be one of the last so many; 0: no such rule) |
| GOVSHARE_PASSWORD_DAYS   | 90 (days a password lasts before it must be changed; 0: for ever) |
| GOVSHARE_LOGIN_ATTEMPTS  | 5 (wrong passwords in a row that lock an account; 0: never locked) |
| GOVSHARE_LOCKOUT_MINUTES | 15 (minutes a locked account stays locked) |
| GOVSHARE_MIGRATE         | 1 (a server migrates the database as it starts; 0: it only checks the schema) |
| GOVSHARE_CATALOGUE_TITLE | 政务信息资源开放目录 (the open catalogue's dct:title in the DCAT-AP files) |
| GOVSHARE_CATALOGUE_PUBLISHER | 政务信息资源共享交换平台 (who publishes it: its dct:publisher) |
| GOVSHARE_MONITORING_DAYS | 90 (days the per-request operational records (运行监测) are kept; 0: for ever) |
| GOVSHARE_ALERT_CERT_DAYS | 30 (a certificate, or the CA, expiring within so many days is an alert (告警)) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _default_var() -> Path:
    return Path(os.environ.get("GOVSHARE_VAR", "var")).resolve()


WSS_POLICIES = ("require", "optional", "off")


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
    # a server migrates the database as it starts (else it refuses one not at its schema)
    migrate: bool = True
    # The open catalogue (开放目录) as its DCAT-AP files name it: its title and who publishes it
    catalogue_title: str = "政务信息资源开放目录"
    catalogue_publisher: str = "政务信息资源共享交换平台"
    # Operational monitoring (运行监测): days a request's record is kept; alerts (告警) on certificates
    monitoring_days: int = 90
    alert_cert_days: int = 30

    @property
    def base_url(self) -> str:
        """The address other systems reach this platform at."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

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
            migrate=env.get("GOVSHARE_MIGRATE", "1").strip().lower() not in ("0", "false", "off", "no"),
            catalogue_title=env.get("GOVSHARE_CATALOGUE_TITLE", "").strip() or "政务信息资源开放目录",
            catalogue_publisher=env.get("GOVSHARE_CATALOGUE_PUBLISHER", "").strip() or "政务信息资源共享交换平台",
            monitoring_days=_number(int, "GOVSHARE_MONITORING_DAYS", "90"),
            alert_cert_days=_number(int, "GOVSHARE_ALERT_CERT_DAYS", "30"),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values["wss_policy"] not in WSS_POLICIES:
            raise SettingsError(f"GOVSHARE_WSS={values['wss_policy']!r} is not a policy: set it to one of "
                                f"{', '.join(WSS_POLICIES)}")
        return cls(**values)
