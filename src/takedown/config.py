"""Settings: ``takedown.toml`` (or the file named by ``TAKEDOWN_CONFIG``) overlaid by
``TAKEDOWN_*`` environment variables; every key, its default and its meaning are here and in
the README's configuration table."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _config_file() -> Path:
    return Path(os.environ.get("TAKEDOWN_CONFIG", "takedown.toml"))


# where a webhook may not point (the delivery log must not become a port scanner of the
# service's own network); IPv4-mapped IPv6 addresses are checked as IPv4
DEFAULT_WEBHOOK_DENY = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/96",
    "::1/128",
    "64:ff9b::/96",
    "64:ff9b:1::/48",
    "2002::/16",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
)
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")


class Helpline(BaseModel):
    """A support service the operator lists for reporters (shown as written, untranslated)."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=500)
    url: str = Field("", pattern=r"^(https?://\S+)?$")
    phone: str = Field("", max_length=40)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAKEDOWN_", extra="forbid")

    home: Path = Field(
        Path("takedown-data"),
        description="Folder for the embedded database and files; created on first run.",
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL; empty means SQLite at HOME/takedown.db. Production: "
        "postgresql+psycopg://user@host/db.",
    )
    host: str = Field("127.0.0.1", description="Address `takedown serve` listens on.")
    port: int = Field(8000, description="Port `takedown serve` listens on.")
    public_url: str = Field(
        "",
        description="URL the service is reached at (links in answers); default http://HOST:PORT.",
    )
    hsts: bool = Field(
        False,
        description="Send Strict-Transport-Security on every answer, not only on HTTPS requests "
        "(for TLS ended by a proxy that does not pass X-Forwarded-Proto on).",
    )
    workers: int = Field(1, ge=1, description="API worker processes for `takedown serve`.")
    background_worker: bool = Field(
        True, description="Run the background worker (webhook delivery) inside `serve`."
    )
    max_upload_bytes: int = Field(
        64 * 1024 * 1024, description="Largest request body accepted (413 above it)."
    )
    hash_timeout_s: float = Field(20.0, description="Wall-time limit to decode and hash one item.")
    mirror_uploads: bool = Field(
        True,
        description="Also hash uploaded images flipped, so that a mirrored repost matches "
        "(one more PDQ a photo: about +60% hashing time on a 1 MP JPEG).",
    )
    hash_workers: int = Field(
        0,
        ge=0,
        description="Processes hashing uploaded media, per API worker; 0: the cores shared "
        "among the API workers.",
    )
    hash_queue: int = Field(
        16,
        ge=0,
        description="Uploads that may wait for a hashing process, per API worker; beyond them "
        "an upload with media is answered 429 `hashing_busy` with Retry-After.",
    )
    index_poll_s: float = Field(
        0.25, gt=0, description="How often each API worker picks up bank changes (seconds)."
    )
    key_cache_s: float = Field(
        5.0, ge=0, description="How long an API worker trusts a checked API key (revocation lag)."
    )
    webhook_timeout_s: float = Field(
        10.0, gt=0, description="How long one webhook delivery waits for the receiver's answer."
    )
    webhook_connect_timeout_s: float = Field(
        2.0, gt=0, description="How long one webhook delivery waits to connect."
    )
    webhook_concurrency: int = Field(
        4, ge=1, description="Deliveries in flight at once to one webhook, per worker process."
    )
    webhook_breaker_failures: int = Field(
        5, ge=1, description="Consecutive failures that open a webhook's circuit breaker."
    )
    webhook_breaker_cooldown_s: float = Field(
        60.0,
        gt=0,
        description="How long an open circuit postpones a webhook's deliveries (no network "
        "attempt) before one probe delivery is tried.",
    )
    webhook_deny_networks: list[str] = Field(
        default_factory=lambda: list(DEFAULT_WEBHOOK_DENY),
        description="Address ranges webhooks may not reach (checked when a webhook is created "
        "and, after DNS resolution, before each delivery): private, loopback, link-local "
        "(cloud metadata 169.254.169.254), multicast and reserved ranges by default.",
    )
    webhook_allow_networks: list[str] = Field(
        default_factory=list,
        description='Exceptions to webhook_deny_networks, e.g. ["127.0.0.0/8"] for a '
        "receiver on the same machine (the demo and the tests).",
    )
    webhook_retry_base_s: float = Field(
        10.0, gt=0, description="First retry delay; doubles per attempt (with jitter)."
    )
    webhook_retry_max_s: float = Field(3600.0, description="Longest delay between attempts.")
    webhook_give_up_h: float = Field(
        72.0, description="Hours after which an undelivered action is marked failed."
    )
    worker_poll_s: float = Field(0.2, gt=0, description="How often the worker looks for work.")
    log_level: str = Field("INFO", description="Logging level of the JSON logs.")
    policy_file: Path | None = Field(
        None, description="Case policy TOML overriding the packaged defaults (see README)."
    )
    report_rate_per_ip: float = Field(
        20.0, gt=0, description="Reports accepted per minute from one client address."
    )
    report_rate_total: float = Field(
        50.0, gt=0, description="Reports accepted per second from everyone together."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDR networks of your reverse proxies: only from these is "
        "X-Forwarded-For believed (env: a JSON list). Empty: the peer is the client.",
    )
    clock_tick_s: float = Field(1.0, gt=0, description="How often deadline clocks are checked.")
    secret_key: str = Field(
        "", description="Signs session cookies; empty: generated once into HOME/secret_key."
    )
    session_max_age_s: int = Field(8 * 3600, description="Staff sessions expire after this.")
    login_max_failures: int = Field(
        5,
        ge=1,
        description="Failed logins for one account from one address before that pair is locked.",
    )
    login_source_max_failures: int = Field(
        20,
        ge=1,
        description="Failed logins from one address, any accounts, before the address is locked.",
    )
    login_account_max_failures: int = Field(
        100,
        ge=1,
        description="Failed logins for one account, any addresses, before it is locked "
        "(except from addresses its user signed in from lately).",
    )
    login_lockout_s: int = Field(
        900, ge=1, description="How long a lock lasts; failures are counted in windows this long."
    )
    claim_minutes: float = Field(
        30.0,
        gt=0,
        le=1440,
        description="How long a reviewer's claim on a case holds before others may take it.",
    )
    break_reminder_minutes: float = Field(
        50.0,
        ge=0,
        le=720,
        description="Console time after which a reviewer is reminded to take a break (0: never).",
    )
    media_url_template: str = Field(
        "",
        description="Where review media is fetched from the platform, e.g. "
        "https://platform.example/takedown-media/{content_id}; requests are HMAC-signed.",
    )
    media_secret: str = Field("", description="Key that signs media requests to the platform.")
    vault_key: str = Field(
        "",
        description="Evidence master key (32 bytes, base64); empty: kept in HOME/vault-keys.json.",
    )
    ncmec_url: str = Field(
        "https://exttest.cybertip.org/ispws",
        description="CyberTipline ESP service: the test URL by default; production is "
        "https://report.cybertip.org/ispws.",
    )
    ncmec_username: str = Field("", description="CyberTipline ESP user name.")
    ncmec_password: str = Field("", description="CyberTipline ESP password.")
    reporter_company: str = Field("", description="Company name in CyberTipline reports.")
    reporter_first_name: str = Field("", description="Reporting person's first name.")
    reporter_last_name: str = Field("", description="Reporting person's last name.")
    reporter_email: str = Field("", description="Reporting person's email.")
    reporter_phone: str = Field("", description="Reporting person's phone.")
    dsa_url: str = Field(
        "", description="DSA Transparency Database API base URL; empty: statements not sent."
    )
    dsa_token: str = Field("", description="Bearer token for the Transparency Database API.")
    preservation_days: float = Field(
        365.0, gt=0, description="Evidence kept at least this long after a CyberTipline report."
    )
    evidence_retention_days: float = Field(
        365.0, gt=0, description="How long evidence is kept unless preserved longer or held."
    )
    smtp_host: str = Field(
        "",
        description="Mail server for reporters' optional status e-mails; empty: none are sent "
        "and the report form does not offer them.",
    )
    smtp_port: int = Field(25, gt=0, description="Port of the mail server.")
    smtp_starttls: bool = Field(False, description="Upgrade the mail connection with STARTTLS.")
    smtp_username: str = Field("", description="Mail server user name (empty: no login).")
    smtp_password: str = Field("", description="Mail server password.")
    mail_from: str = Field(
        "takedown@localhost", description="Sender address of the status e-mails."
    )
    mail_check_s: float = Field(
        30.0, gt=0, description="How often the worker looks for reports whose status changed."
    )
    helplines: list[Helpline] = Field(
        default_factory=list,
        description="Local helplines shown to reporters before the national services "
        '(environment: a JSON list of {"name", "description", "url", "phone"}).',
    )
    hma_compat_root: bool = Field(
        False,
        description="Also serve the HMA-compatible API at HMA's own root paths (/h, /m, /c, "
        "/status), not only under /hma, so an HMA client switches by changing the host.",
    )
    hma_allowed_hostnames: list[str] = Field(
        default_factory=list,
        description="HMA's ALLOWED_HOSTNAMES: hosts (and their subdomains) that GET /h/hash and "
        "the other fetch-by-URL routes may fetch from; empty: any public host.",
    )
    hma_max_remote_file_size: int = Field(
        100 * 1024 * 1024,
        gt=0,
        description="HMA's MAX_REMOTE_FILE_SIZE: the largest file fetched by URL (else 413).",
    )
    hma_fetch_allow_networks: list[str] = Field(
        default_factory=list,
        description="Exceptions to webhook_deny_networks for HMA's fetch by URL (never a "
        'private address otherwise), e.g. ["127.0.0.0/8"] for a media server on the machine.',
    )
    hma_client_networks: list[str] = Field(
        default_factory=list,
        description="Addresses whose requests to the HMA API without a key act as the key "
        "flagged as the HMA client (`takedown keys hma-client`); empty: a key is always needed.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        """Refused at start rather than silently trusting nothing (or too much)."""
        return [str(ipaddress.ip_network(item.strip(), strict=False)) for item in value]

    @field_validator(
        "webhook_deny_networks",
        "webhook_allow_networks",
        "hma_fetch_allow_networks",
        "hma_client_networks",
    )
    @classmethod
    def _webhook_networks(cls, value: list[str]) -> list[str]:
        """A typo is refused at start, not discovered when a delivery goes astray."""
        return [str(ipaddress.ip_network(item.strip(), strict=False)) for item in value]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'takedown.db'}"

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
