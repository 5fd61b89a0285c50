"""Settings: ``takedown.toml`` (or the file named by ``TAKEDOWN_CONFIG``) overlaid by
``TAKEDOWN_*`` environment variables; every key, its default and its meaning are here and in
the README's configuration table."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _config_file() -> Path:
    return Path(os.environ.get("TAKEDOWN_CONFIG", "takedown.toml"))


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
    index_poll_s: float = Field(
        0.25, gt=0, description="How often each API worker picks up bank changes (seconds)."
    )
    key_cache_s: float = Field(
        5.0, ge=0, description="How long an API worker trusts a checked API key (revocation lag)."
    )
    webhook_timeout_s: float = Field(10.0, description="Timeout of one webhook delivery attempt.")
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
    clock_tick_s: float = Field(1.0, gt=0, description="How often deadline clocks are checked.")
    secret_key: str = Field(
        "", description="Signs session cookies; empty: generated once into HOME/secret_key."
    )
    session_max_age_s: int = Field(8 * 3600, description="Staff sessions expire after this.")
    login_max_failures: int = Field(5, ge=1, description="Failed logins before a lock-out.")
    login_lockout_s: int = Field(900, ge=1, description="How long a locked-out account waits.")
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
