"""The one settings object, read once from the environment and passed down."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, FilePath, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigError
from shared.redact import Redactor, secrets_of
from shared.vault import Vault

# A CSP source that names one origin: scheme, host (a leading *. allowed), optional port.
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.*-]+(:[0-9]{1,5})?")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def check_url(value: str, schemes: tuple[str, ...], *, need_host: bool = True) -> str:
    """Scheme, host and port of a URL, checked at start rather than at the first request."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc}); expected {schemes[0]}://host[:port]") from None
    if parts.scheme not in schemes:
        raise ValueError(f"must start with {' or '.join(s + '://' for s in schemes)}")
    if need_host and not parts.hostname:
        raise ValueError(f"has no host; expected {schemes[0]}://host[:port]")
    if port == 0:
        raise ValueError("port must be between 1 and 65535")
    return value


class EmailTransport(StrEnum):
    loops = "loops"
    smtp = "smtp"


class SmtpTls(StrEnum):
    none = "none"
    starttls = "starttls"
    tls = "tls"


class Settings(BaseSettings):
    """Every knob of both processes. Secrets are SecretStr so they never reach logs or reprs."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: SecretStr | None = None
    # A direct (session) connection to the same database, for what a transaction-mode pooler in DATABASE_URL
    # cannot carry: LISTEN, the migrations' advisory lock. Setting it also turns the statement cache of the
    # pooled connections off (no named server-side prepared statements).
    direct_database_url: SecretStr | None = None
    redis_url: SecretStr | None = None
    # Redis through Sentinel: its addresses ("host:port,host:port"); REDIS_URL then gives only the database,
    # the password and rediss://, and the primary is whichever the sentinels name for REDIS_SENTINEL_MASTER.
    redis_sentinels: str | None = None
    redis_sentinel_master: str = "mymaster"
    # The CA that signed a TLS Redis's certificate (rediss://), when it is not one the system trusts.
    redis_ca_file: FilePath | None = None
    jwt_secret: SecretStr | None = None
    jwt_audience: str = "authenticated"
    # Asymmetric tokens (RS256, ES256, ...) are checked against the keys published here, e.g.
    # https://<project>.supabase.co/auth/v1/.well-known/jwks.json
    jwt_jwks_url: str | None = None
    jwt_jwks_cache_seconds: float = Field(default=600.0, gt=0)
    jwt_issuer: str | None = None
    # A user token valid for longer than this from now is refused, however it was signed.
    jwt_max_lifetime_seconds: int = Field(default=86_400, ge=60)

    email_transport: EmailTransport = EmailTransport.loops
    email_from: str = "reports@localhost"
    email_max_attachment_bytes: int = Field(default=20 * 1024 * 1024, gt=0)

    loops_api_url: str = "https://app.loops.so"
    loops_api_key: SecretStr | None = None
    loops_transactional_id: str | None = None
    loops_failure_transactional_id: str | None = None
    loops_rate_per_second: float = Field(default=10.0, gt=0)
    # Per request: making the connection, and the whole request (upload and answer). A hung Loops holds a worker
    # slot no longer than this.
    loops_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    loops_timeout_seconds: float = Field(default=30.0, gt=0)

    smtp_host: str | None = None
    smtp_port: int = Field(default=587, gt=0, lt=65536)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: SmtpTls = SmtpTls.starttls
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)

    telegram_api_url: str = "https://api.telegram.org"
    telegram_bot_token: SecretStr | None = None
    telegram_max_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    telegram_rate_per_second: float = Field(default=30.0, gt=0)
    telegram_chat_interval_seconds: float = Field(default=1.0, ge=0)
    telegram_group_interval_seconds: float = Field(default=3.0, ge=0)
    # As for Loops; the total is longer because a document may be 50 MB.
    telegram_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    telegram_timeout_seconds: float = Field(default=60.0, gt=0)

    http_timeout_seconds: float = Field(default=60.0, gt=0)
    # The longest wait a provider's Retry-After can impose on a delivery; longer asks are cut to this.
    retry_after_max_seconds: float = Field(default=3600.0, ge=1)

    # Fernet keys, comma-separated; the first encrypts stored channel credentials, all of them decrypt.
    credentials_keys: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api"
    slack_max_bytes: int = Field(default=1024 * 1024 * 1024, gt=0)
    slack_rate_per_second: float = Field(default=1.0, gt=0)
    webhook_max_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    webhook_timeout_seconds: float = Field(default=30.0, gt=0)
    # Webhooks to loopback, private, link-local or reserved addresses (and plain http) only when true.
    outbound_allow_private: bool = False
    sftp_max_bytes: int = Field(default=2 * 1024 * 1024 * 1024, gt=0)
    sftp_timeout_seconds: float = Field(default=30.0, gt=0)

    tick_seconds: float = Field(default=300.0, gt=0)
    tick_batch_size: int = Field(default=1000, gt=0, le=10_000)
    tick_connections: int = Field(default=2, ge=1, le=16)
    sweep_grace_seconds: float = Field(default=60.0, ge=0)
    min_interval_seconds: int = Field(default=300, ge=1)
    # Manual runs (run now, dead-letter replays) each export the whole report: counted per window.
    manual_runs_per_schedule: int = Field(default=10, ge=1)
    manual_runs_per_organization: int = Field(default=30, ge=1)
    manual_run_window_seconds: float = Field(default=60.0, gt=0)

    sweep_interval_seconds: float = Field(default=30.0, gt=0)
    sweep_batch_size: int = Field(default=1000, ge=1, le=10_000)
    overdue_seconds: float = Field(default=900.0, gt=0)

    # Runs, their delivery log and replayed dead letters older than this are deleted (RETENTION_DAYS).
    retention_days: int = Field(default=90, ge=1, le=36_500)
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    retention_batch_size: int = Field(default=1000, ge=1, le=100_000)
    retention_budget_seconds: float = Field(default=60.0, gt=0)
    # The audit log is kept longer than runs: who changed a schedule matters after its runs are gone.
    audit_retention_days: int = Field(default=365, ge=1, le=36_500)

    queue_name: str = "arq:queue"
    max_tries: int = Field(default=5, ge=1)
    job_timeout_seconds: int = Field(default=900, ge=5)
    keep_result_seconds: int = Field(default=86_400, ge=86_400)
    retry_base_seconds: float = Field(default=30.0, ge=0)
    retry_cap_seconds: float = Field(default=1800.0, ge=0)
    # Reports are I/O-bound (PostgreSQL, provider APIs): many run at once per process.
    worker_max_jobs: int = Field(default=16, ge=1, le=1000)
    # arq refills free job slots once per poll; this bounds throughput at max_jobs / poll delay.
    worker_poll_delay_seconds: float = Field(default=0.05, gt=0, le=10)
    # A running run's lease: renewed every third of it, taken back by the sweep once it lapses.
    lease_seconds: float = Field(default=60.0, ge=1)
    notify_failures: bool = True
    # A failing schedule's notices: the first at once, then at most one per this many hours, with the count since.
    failure_notice_quiet_hours: float = Field(default=24.0, ge=0, le=8760)
    delivery_concurrency: int = Field(default=8, ge=1, le=100)
    worker_shutdown_wait_seconds: int = Field(default=60, ge=0)

    export_chunk_bytes: int = Field(default=1 << 20, ge=4096, le=64 << 20)
    spool_dir: Path | None = None

    # A connection that has not sent a whole request head within this time (or sits idle this long) is closed.
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    producer_host: str = "0.0.0.0"
    producer_port: int = Field(default=8080, ge=0, lt=65536)
    consumer_host: str = "0.0.0.0"
    consumer_port: int = Field(default=8081, ge=0, lt=65536)
    # Who may show the console in a frame (the CSP frame-ancestors sources): 'none', 'self' or origins.
    console_frame_ancestors: str = "'none'"
    # The origin of the one-click unsubscribe links in emails (https://reports.example.com); unset: no link.
    public_base_url: str | None = None
    # Signs those links (HMAC-SHA256); at least 32 characters, required with PUBLIC_BASE_URL.
    unsubscribe_secret: SecretStr | None = None
    # Unsubscribe requests per minute from one client address; more answer 429.
    unsubscribe_rate_per_minute: int = Field(default=30, ge=1, le=10_000)

    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    @field_validator("jwt_secret", "unsubscribe_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (HS256 needs a 256-bit key)")
        return value

    @field_validator("console_frame_ancestors")
    @classmethod
    def _frame_ancestors(cls, value: str) -> str:
        # 'none' and 'self' are quoted in CSP; a shell or dotenv file may have eaten the quotes.
        sources = [f"'{s}'" if s in ("none", "self") else s for s in value.split()]
        for source in sources:
            if source not in ("'none'", "'self'") and not _ORIGIN.fullmatch(source):
                raise ValueError(
                    f"{source[:60]!r} is not 'none', 'self' or an origin like https://intranet.example.com"
                )
        if not sources or ("'none'" in sources and len(sources) > 1):
            raise ValueError("must be 'none' alone, or 'self' and/or origins separated by spaces")
        return " ".join(sources)

    @field_validator("jwt_jwks_url")
    @classmethod
    def _jwks_url(cls, value: str | None) -> str | None:
        return check_url(value, ("https", "http")) if value else None

    @field_validator("public_base_url")
    @classmethod
    def _public_base_url(cls, value: str | None) -> str | None:
        return check_url(value.rstrip("/"), ("https", "http")) if value else None

    @field_validator("loops_api_url", "telegram_api_url", "slack_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_url(value.rstrip("/"), ("https", "http"))

    @field_validator("database_url", "direct_database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            # A socket directory may stand in for the host (postgresql:///db?host=/run/postgresql).
            check_url(value.get_secret_value(), ("postgresql", "postgres"), need_host=False)
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            text = value.get_secret_value()
            check_url(text, ("redis", "rediss", "unix"), need_host=not text.startswith("unix:"))
        return value

    # An empty line in an env file (`DIRECT_DATABASE_URL=`, as .env.example has it) means "not set".
    @field_validator("redis_ca_file", "direct_database_url", "unsubscribe_secret", "public_base_url", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinels(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        for item in value.split(","):
            host, _, port = item.strip().rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{item.strip()!r} is not host:port; expected host:port,host:port")
        return value

    @field_validator("credentials_keys")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            try:
                Vault.parse(value.get_secret_value())
            except ConfigError as exc:
                raise ValueError(str(exc).split(": ", 1)[1]) from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return value.upper()

    def redactor(self) -> Redactor:
        """Masks every configured secret, and URL passwords, in text that leaves the process."""
        return Redactor(
            secrets_of(
                [
                    self.database_url,
                    self.direct_database_url,
                    self.redis_url,
                    self.jwt_secret,
                    self.loops_api_key,
                    self.smtp_password,
                    self.telegram_bot_token,
                    self.credentials_keys,
                    self.unsubscribe_secret,
                ]
            )
        )

    def max_file_bytes(self, channel: str) -> int:
        """The largest file a channel takes, in bytes: its `*_MAX_BYTES` setting."""
        return {
            "email": self.email_max_attachment_bytes,
            "telegram": self.telegram_max_bytes,
            "slack": self.slack_max_bytes,
            "webhook": self.webhook_max_bytes,
            "sftp": self.sftp_max_bytes,
        }[channel]

    def require(self, *names: str) -> None:
        """Fail at start, naming every missing variable, instead of failing at the first use."""
        missing = [name.upper() for name in names if getattr(self, name) in (None, "")]
        if missing:
            raise ConfigError("missing required setting(s): " + ", ".join(missing) + " (set them in the environment)")

    def require_producer(self) -> None:
        missing = [name.upper() for name in ("database_url", "redis_url") if getattr(self, name) in (None, "")]
        if self.jwt_secret is None and not self.jwt_jwks_url:
            missing.append("JWT_SECRET (or JWT_JWKS_URL)")
        missing += self._unsubscribe_missing()
        if missing:
            raise ConfigError("missing required setting(s): " + ", ".join(missing) + " (set them in the environment)")

    def _unsubscribe_missing(self) -> list[str]:
        return (
            ["UNSUBSCRIBE_SECRET (PUBLIC_BASE_URL is set)"]
            if self.public_base_url and not self.unsubscribe_secret
            else []
        )

    def require_consumer(self) -> None:
        self.require("database_url", "redis_url")
        if missing := self._unsubscribe_missing():
            raise ConfigError("missing required setting(s): " + ", ".join(missing))
        if self.email_transport is EmailTransport.loops:
            self.require("loops_api_key", "loops_transactional_id")
        else:
            self.require("smtp_host")

    def vault(self) -> Vault:
        """The keys for channel credentials; a ConfigError naming CREDENTIALS_KEYS when none is set."""
        return Vault.parse(self.credentials_keys.get_secret_value() if self.credentials_keys else "")

    @property
    def dsn(self) -> str:
        self.require("database_url")
        assert self.database_url is not None
        return self.database_url.get_secret_value()

    @property
    def direct_dsn(self) -> str:
        """Where session state is needed (LISTEN, advisory locks): DIRECT_DATABASE_URL, else DATABASE_URL."""
        if self.direct_database_url is not None:
            return self.direct_database_url.get_secret_value()
        return self.dsn

    @property
    def statement_cache(self) -> bool:
        """Whether pooled connections may keep named prepared statements: not behind a transaction pooler."""
        return self.direct_database_url is None

    @property
    def redis_options(self) -> dict[str, str | None]:
        """How to reach Redis beyond REDIS_URL: through Sentinel, and with which CA for TLS."""
        return {
            "sentinels": self.redis_sentinels,
            "sentinel_master": self.redis_sentinel_master,
            "ca_file": str(self.redis_ca_file) if self.redis_ca_file else None,
        }

    @property
    def redis_dsn(self) -> str:
        self.require("redis_url")
        assert self.redis_url is not None
        return self.redis_url.get_secret_value()


_EXAMPLES = {
    "database_url": "postgresql://reports:PASSWORD@db.internal:5432/reports",
    "redis_url": "redis://cache.internal:6379/0",
    "log_level": "INFO",
}


def _example(name: str) -> str:
    """A good value for the setting: its documented example, or its default when that is not secret."""
    if name in _EXAMPLES:
        return _EXAMPLES[name]
    field = Settings.model_fields.get(name)
    if field is None or field.default is None or isinstance(field.default, SecretStr):
        return ""
    return str(field.default.value if isinstance(field.default, StrEnum) else field.default)


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; a bad value becomes a ConfigError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        # The offending value is left out: it may be a secret.
        parts = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"])
            example = _example(name)
            hint = f" (e.g. {name.upper()}={example})" if example else ""
            parts.append(f"{name.upper()}: {err['msg'].removeprefix('Value error, ')}{hint}")
        raise ConfigError("invalid setting(s): " + "; ".join(parts)) from exc
