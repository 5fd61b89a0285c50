"""Request and response models of the /v1 API (the JSON shapes are a contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_ID = 2**31 - 1
"""Ids and cursors are 32-bit integers in the database: larger ones are refused with 422."""


class SignalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=20, examples=["pdq"])
    value: str = Field(min_length=1, max_length=2_000_000)


class ContentIn(BaseModel):
    """Register content. In multipart form the same fields are form fields (``signals`` as a
    JSON string) plus ``file``."""

    model_config = ConfigDict(extra="forbid")
    content_id: str = Field(min_length=1, max_length=255)
    uploader_id: str = Field("", max_length=255)
    url: str = Field("", max_length=4096)
    kind: str = Field("", max_length=20, examples=["image", "video"])
    posted_at: datetime | None = None
    signals: list[SignalIn] = Field(default_factory=list, max_length=1000)


class LookupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signals: list[SignalIn] = Field(default_factory=list, max_length=1000)


class ContentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["live", "deleted", "removed", "restricted", "restored"] | None = None
    url: str | None = Field(None, max_length=4096)
    signals: list[SignalIn] = Field(default_factory=list, max_length=1000)


class MatchOut(BaseModel):
    bank: str
    entry_id: str
    label: str
    signal_type: str
    distance: float
    external_id: str = ""
    transform: str | None = None
    query_share: float | None = None
    target_share: float | None = None
    action: str = "block"


class VerdictOut(BaseModel):
    verdict: Literal["allow", "block", "hold"]
    matches: list[MatchOut]
    case_id: str | None = None
    content_id: str | None = None
    status: str | None = None
    signals: list[dict[str, Any]] = Field(default_factory=list)


class ContentOut(BaseModel):
    content_id: str
    url: str
    kind: str
    status: str
    verdict: str
    matches: list[MatchOut]
    registered_at: datetime
    updated_at: datetime


class BankIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, examples=["confirmed-csam"])
    description: str = Field("", max_length=2000)
    action: Literal["block", "hold"] = "block"
    threshold: int | None = Field(None, ge=0, le=128)


class BankPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str | None = Field(None, max_length=2000)
    action: Literal["block", "hold"] | None = None
    threshold: int | None = Field(None, ge=0, le=128)
    enabled: bool | None = None


class BankOut(BaseModel):
    name: str
    description: str
    action: str
    threshold: int | None
    enabled: bool
    entries: int
    enabled_entries: int
    created_at: datetime


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signal_type: str = Field(min_length=1, max_length=20)
    value: str = Field(min_length=1, max_length=2_000_000)
    label: str = Field("", max_length=500)
    source: str = Field("", max_length=500)
    external_id: str = Field("", max_length=200)


class EntriesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entries: list[EntryIn] = Field(min_length=1, max_length=10_000)


class EntryOut(BaseModel):
    id: str
    signal_type: str
    value: str
    label: str
    source: str
    external_id: str
    enabled: bool
    added_at: datetime
    added_by: str


class EntriesAdded(BaseModel):
    added: int
    entry_ids: list[str]


class DisableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=2000)


class LineProblemOut(BaseModel):
    line: int
    message: str


class ImportOut(BaseModel):
    added: int
    skipped: int
    problems: list[LineProblemOut]


class ActionOut(BaseModel):
    cursor: int
    idempotency_key: str
    action: str
    content_id: str | None
    case_id: str | None
    reason: str
    data: dict[str, Any]
    created_at: str


class ActionsPage(BaseModel):
    actions: list[ActionOut]
    next_cursor: int


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://")
    kinds: list[
        Literal["restrict", "remove", "restore", "block_hash", "notify", "suspend_account"]
    ] = Field(default_factory=list)


class WebhookOut(BaseModel):
    id: int
    url: str
    kinds: list[str]
    enabled: bool
    created_at: datetime
    secret: str | None = Field(None, description="Shown once, when the webhook is created.")


class DeliveryOut(BaseModel):
    id: int
    action_key: str
    action: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str
    delivered_at: datetime | None


class AuditEventOut(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    data: dict[str, Any]
    hash: str


class AuditVerifyOut(BaseModel):
    ok: bool
    events: int
    first_bad_seq: int | None
    reason: str | None


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    scopes: list[
        Literal[
            "content:write",
            "lookup",
            "banks:read",
            "banks:write",
            "actions:read",
            "webhooks:write",
            "audit:read",
            "admin",
        ]
    ] = Field(min_length=1)


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    user_id: int | None
    created_at: datetime
    revoked_at: datetime | None
    key: str | None = Field(None, description="The secret: in the create answer only.")


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    role: Literal["admin", "reviewer", "child_safety_specialist", "legal"]
    password: str | None = Field(None, min_length=12, max_length=1000)


class UserOut(BaseModel):
    id: int
    email: str
    role: str
    disabled: bool
    created_at: datetime
    password: str | None = Field(None, description="A generated password, shown once.")
