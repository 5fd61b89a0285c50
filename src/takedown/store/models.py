"""Tables. Every schema change is an Alembic migration in ``store/migrations/versions``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite keeps no zone, so it is put back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    wellness: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    # console sessions carry the epoch they were issued in; raising it ends every one of them
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApiKey(Base):
    """A platform client's key or a staff member's token; only the SHA-256 of the secret is
    kept (the secret has 256 random bits, so a fast hash is enough: no dictionary to try)."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Bank(Base):
    __tablename__ = "banks"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(String(10), default="block")
    threshold: Mapped[int | None] = mapped_column(Integer, default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class BankEntry(Base):
    __tablename__ = "bank_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    signal_type: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    external_id: Mapped[str] = mapped_column(String(200), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by: Mapped[str] = mapped_column(String(200), default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None, index=True)
    transform: Mapped[str] = mapped_column(String(40), default="", server_default="")
    """The turn and/or crop of the reference this entry's hash was taken of ("" as it is;
    see ``matching.transforms``), so that a match says how the copy was changed."""
    exchange_id: Mapped[int | None] = mapped_column(ForeignKey("exchanges.id"), default=None)
    """The exchange whose feed brought this entry (``external_id`` is its id there); indexed
    by ``ix_bank_entries_feed_key``, whose first column it is."""
    feed_removed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    """Disabled because the feed withdrew it (not by a person): a feed that lists it again
    enables it again, while an entry a person disabled stays disabled."""
    retro_scanned_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    """When the content already on the platform was searched for this entry (the retro-scan,
    ``service.retro_scan``); None until then (migration 0017)."""
    feed_seen: Mapped[str | None] = mapped_column(String(200), default=None)
    """The latest version of a whole-list feed (a hash list file) that listed this entry: once
    a version has been read to its end, the exchange's entries it did not list are withdrawn
    (``FeedPage.snapshot``; migration 0022)."""
    __table_args__ = (
        Index("ix_bank_entries_feed_key", "exchange_id", "external_id", "signal_type", unique=True),
    )


class Exchange(Base):
    """A hash-sharing exchange feeding one bank (see ``takedown.exchanges``): its settings,
    its sealed credentials, where its feed was read up to, and how the last fetches went."""

    __tablename__ = "exchanges"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    credentials: Mapped[str] = mapped_column(Text, default="")
    """AES-GCM sealed JSON (``service.exchange_secrets``); never shown again."""
    schedule_s: Mapped[int] = mapped_column(Integer, default=3600)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    checkpoint: Mapped[str | None] = mapped_column(Text, default=None)
    state: Mapped[str] = mapped_column(String(20), default="idle")
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(String(60), default="")
    last_error_at: Mapped[datetime | None] = mapped_column(default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    errors_total: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    entries_added: Mapped[int] = mapped_column(Integer, default=0)
    entries_removed: Mapped[int] = mapped_column(Integer, default=0)
    run_started_at: Mapped[datetime | None] = mapped_column(default=None)
    run_entries: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    # sharing back (migration 0016): the last feed event sent to the exchange, how many of its
    # hashes it accepted, and why the last send failed ("" after a good one)
    share_cursor: Mapped[str] = mapped_column(String(20), default="", server_default="")
    shared_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    share_error: Mapped[str] = mapped_column(String(60), default="", server_default="")


class BankChange(Base):
    """What changed in the banks, in commit order: API workers follow it to update their
    in-memory indexes (entries added after a worker's last entry id are found directly)."""

    __tablename__ = "bank_changes"
    seq: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("bank_entries.id"), default=None)
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Content(Base):
    """One item on the platform: its id there, who posted it (personal data), and its status."""

    __tablename__ = "content"
    id: Mapped[int] = mapped_column(primary_key=True)
    content_id: Mapped[str] = mapped_column(String(255), unique=True)
    uploader_id: Mapped[str] = mapped_column(String(255), default="")
    url: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[str] = mapped_column(String(20), default="live")
    posted_at: Mapped[datetime | None] = mapped_column(default=None)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    verdict: Mapped[str] = mapped_column(String(10))
    matches: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    fingerprint: Mapped[dict[str, str] | None] = mapped_column(JSON, default=None)
    """How far its fingerprints find copies (``signals.strength``); None on rows from before."""


class ContentSignal(Base):
    __tablename__ = "content_signals"
    id: Mapped[int] = mapped_column(primary_key=True)
    content_pk: Mapped[int] = mapped_column(
        ForeignKey("content.id", ondelete="CASCADE"), index=True
    )
    signal_type: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(Text)


class Action(Base):
    """What the platform must do; written in the same transaction as its cause (the outbox)."""

    __tablename__ = "actions"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    content_id: Mapped[str | None] = mapped_column(String(255), default=None, index=True)
    case_id: Mapped[str | None] = mapped_column(String(64), default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # when the platform first had it: a 2xx from a webhook or a fetch from GET /v1/actions
    # ("webhook:ID" or "fetch:key:ID"); the restrict clock is met by this, not by the write
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_via: Mapped[str] = mapped_column(String(60), default="", server_default="")


class Webhook(Base):
    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(200))
    kinds: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the circuit breaker (actions/breaker.py), shared by every worker process
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    circuit_open_until: Mapped[datetime | None] = mapped_column(default=None)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        # one webhook's waiting deliveries, without scanning another's backlog (migration 0008)
        Index("ix_deliveries_lane", "webhook_id", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"), index=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """An append-only event; ``hash`` = SHA-256 over the previous hash and this row's fields.
    ``at`` and ``data`` are kept as the exact text that was hashed."""

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300))
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The newest sequence and hash, so that deleting the last events is detected too."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class DeliveryAttempt(Base):
    """The delivery log: one row per HTTP attempt (status, error, time taken)."""

    __tablename__ = "delivery_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    """The unit of work: reports and the content they reach, with priority, state and clocks."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    priority: Mapped[str] = mapped_column(String(2))
    queue: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40))
    minor_alleged: Mapped[bool] = mapped_column(Boolean, default=False)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    unresolved: Mapped[bool] = mapped_column(Boolean, default=False)
    takedown_request: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    appealed_from: Mapped[str | None] = mapped_column(String(20), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    # a reviewer's claim (migration 0019): others see who holds the case until it lapses
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)


class Report(Base):
    """A notice. Contact fields are personal data: shown only to the roles that need them."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    status_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    category: Mapped[str] = mapped_column(String(40))
    minor_depicted: Mapped[str] = mapped_column(String(10))
    relationship: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    good_faith_statement: Mapped[bool] = mapped_column(Boolean, default=False)
    signature: Mapped[str] = mapped_column(Text, default="")
    trusted_flagger: Mapped[bool] = mapped_column(Boolean, default=False)
    reporter_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), default=None)
    references: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReportQuestion(Base):
    """A reviewer's question to one reporter and that reporter's answer. It belongs to the
    report, not the case: other reporters of the same case neither see nor answer it. At most
    one question per case is open (not answered, not withdrawn) at a time."""

    __tablename__ = "report_questions"
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"), default=None)
    question: Mapped[str] = mapped_column(Text, default="")
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)


class CaseContent(Base):
    """Content a case reaches: the reported items and the copies found by hash."""

    __tablename__ = "case_content"
    __table_args__ = (Index("ix_case_content_pair", "case_id", "content_pk", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    content_pk: Mapped[int] = mapped_column(ForeignKey("content.id"), index=True)
    role: Mapped[str] = mapped_column(String(10))  # reported | copy
    match_type: Mapped[str] = mapped_column(String(20), default="reference")
    distance: Mapped[float] = mapped_column(default=0.0)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseClock(Base):
    __tablename__ = "case_clocks"
    __table_args__ = (Index("ix_case_clocks_open", "met_at", "breached_at", "due_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column()
    met_at: Mapped[datetime | None] = mapped_column(default=None)
    warned: Mapped[str] = mapped_column(String(40), default="")
    breached_at: Mapped[datetime | None] = mapped_column(default=None)


class Decision(Base):
    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40))
    recommendation: Mapped[bool] = mapped_column(Boolean, default=False)
    appeal: Mapped[bool] = mapped_column(Boolean, default=False)
    statement: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dsa_sent_at: Mapped[datetime | None] = mapped_column(default=None)
    dsa_error: Mapped[str] = mapped_column(Text, default="", server_default="")


class Appeal(Base):
    __tablename__ = "appeals"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    appellant: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(20), default=None)


class CyberTipReport(Base):
    """A CyberTipline report for a confirmed child-sexual-abuse case: drafted at confirmation,
    approved by legal staff, then filed (the NCMEC id is stored as soon as it exists, so that
    a resumed filing never submits twice)."""

    __tablename__ = "cybertip_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="draft")
    ncmec_report_id: Mapped[str | None] = mapped_column(String(40), default=None)
    files: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateBucket(Base):
    """A token bucket of the report rate limits, shared by every API worker. ``key`` is a
    salted hash of the client's address (never the address itself) or ``total``."""

    __tablename__ = "rate_buckets"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    tokens: Mapped[float]
    updated_at: Mapped[datetime] = mapped_column(index=True)


class IdempotencyRecord(Base):
    """A ``POST /v1/reports`` sent with an ``Idempotency-Key``: the answer is replayed to a
    retry. Keys and bodies are kept as keyed hashes; the answer (it holds the reporter's status
    link) is sealed with a key derived from the Idempotency-Key, which is not stored."""

    __tablename__ = "idempotency_records"
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    report_id: Mapped[str | None] = mapped_column(String(40), default=None)
    sealed_answer: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(index=True)


class LoginThrottle(Base):
    """Failed staff sign-ins counted per (account, source), per source, and per account, for the
    lock-outs of ``auth.throttle``, shared by every API worker. ``account`` and ``source`` are
    keyed hashes of the email and of the client address (never either itself); "" stands for
    any. ``last_success_at`` marks the person's usual sources."""

    __tablename__ = "login_throttle"
    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(index=True)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    __table_args__ = (Index("ix_login_throttle_pair", "account", "source", unique=True),)


class HmaContent(Base):
    """HMA's integer id for one piece of bank content (migration 0018): the bank entries it
    groups (an image's hash and its turns and crops), as HMA clients address them. Entries
    added outside the HMA API get one of their own when a lookup first reports them."""

    __tablename__ = "hma_contents"
    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    disable_until_ts: Mapped[int] = mapped_column(Integer, default=1)
    """HMA's field: 1 enabled, 0 disabled, else a Unix time until which it is disabled."""
    signals: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    """The signals HMA reported when the content was added (HMA signal type names)."""
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    note: Mapped[str | None] = mapped_column(String(255), default=None)
    original_media_uri: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HmaContentEntry(Base):
    """Which HMA content a bank entry belongs to (one content, many entries)."""

    __tablename__ = "hma_content_entries"
    entry_id: Mapped[int] = mapped_column(ForeignKey("bank_entries.id"), primary_key=True)
    content_id: Mapped[int] = mapped_column(ForeignKey("hma_contents.id"), index=True)


class HmaBank(Base):
    """HMA's per-bank ``matching_enabled_ratio`` and its deletions (a deleted bank is renamed
    and disabled, never erased: its entries stay on record)."""

    __tablename__ = "hma_banks"
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), primary_key=True)
    matching_enabled_ratio: Mapped[float] = mapped_column(default=1.0)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class HmaClient(Base):
    """An API key flagged as the "HMA client": keyless requests to the HMA API from the
    addresses in ``hma_client_networks`` act as this key (for clients that cannot send one)."""

    __tablename__ = "hma_clients"
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RetroScan(Base):
    """One retro-scan of new entries of a bank against the content already on the platform:
    what the console says ("3 items already on the platform matched ...")."""

    __tablename__ = "retro_scans"
    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    exchange_id: Mapped[int | None] = mapped_column(Integer, default=None)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    signals_checked: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    entries_added_at: Mapped[datetime] = mapped_column()
    started_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime] = mapped_column()


class RetroHit(Base):
    """A content item a retro-scan put into a case; unique per item, so that no later entry
    opens a second case about it."""

    __tablename__ = "retro_hits"
    id: Mapped[int] = mapped_column(primary_key=True)
    content_pk: Mapped[int] = mapped_column(ForeignKey("content.id"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("bank_entries.id"))
    scan_id: Mapped[int] = mapped_column(ForeignKey("retro_scans.id"), index=True)
    signal_type: Mapped[str] = mapped_column(String(20))
    distance: Mapped[float] = mapped_column()
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ExchangeApiCredentials(Base):
    """Credentials for every exchange of one kind that has none of its own: HMA's per-API
    credentials (``/c/exchanges/api/<name>``), sealed as an exchange's are, with
    ``api:<kind>`` as the associated data."""

    __tablename__ = "exchange_api_credentials"
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    credentials: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class ShareRule(Base):
    """Opt-in sharing of confirmed hashes: one row per (target, category); the target is
    ``feed`` (takedown's own signed feed) or an exchange's name."""

    __tablename__ = "share_rules"
    __table_args__ = (Index("ix_share_rules_pair", "target", "category", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class FeedEvent(Base):
    """What this platform shares, append-only, per target (``feed``: takedown's own signed
    feed, whose cursor is ``seq``; or an exchange's name): a confirmed hash added or removed.
    Hashes and categories only, never a person."""

    __tablename__ = "feed_events"
    __table_args__ = (
        Index("ix_feed_events_key", "target", "key"),
        Index("ix_feed_events_target", "target", "seq"),
    )
    seq: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(64))
    """SHA-256 of category, signal type and value: the shared hash's identity (a vPDQ value
    is too long for an index)."""
    signal_type: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(40))
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class FeedCursor(Base):
    """How far the feed publisher has read bank entries and bank changes (one row, id 1)."""

    __tablename__ = "feed_cursors"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    entry_cursor: Mapped[int] = mapped_column(Integer, default=0)
    change_cursor: Mapped[int] = mapped_column(Integer, default=0)


class StatusMail(Base):
    """A reporter's wish to be e-mailed when their report's status changes. The address is
    sealed (AES-GCM, a key derived from the service secret, the report bound in): it is read
    only to send, shown to nobody, and dropped when the reporter stops the e-mails."""

    __tablename__ = "status_mails"
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), unique=True)
    sealed_address: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(10), default="en")
    last_status: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(default=None, index=True)


class MailOutbox(Base):
    """One status e-mail to send: which subscription and which status it announces (never the
    address nor anything of the report's content). Claimed by pushing ``next_attempt_at``."""

    __tablename__ = "mail_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    status_mail_id: Mapped[int] = mapped_column(ForeignKey("status_mails.id"), index=True)
    status: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    gave_up_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(String(200), default="")
