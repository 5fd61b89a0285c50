"""Request and response models of the /v1 API (the JSON shapes are a contract)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, IPvAnyAddress

MAX_ID = 2**31 - 1
"""Ids and cursors are 32-bit integers in the database: larger ones are refused with 422."""

CONTENT_ID_PATTERN = r"^[A-Za-z0-9._~:@+=-]{1,255}$"
"""A platform's content id: letters, digits and ``._~:@+=-``, at most 255. Ids are placed in
console links and in the signed media fetch, so nothing that steers a URL (``/``, ``?``,
``#``, ``%``, spaces) gets in, and neither do the dot segments ``.`` and ``..``."""


def checked_content_id(value: str) -> str:
    if not re.fullmatch(CONTENT_ID_PATTERN, value) or value in {".", ".."}:
        raise ValueError(
            "a content id is 1-255 letters, digits or ._~:@+=- (and not . or ..): "
            "map other ids to this form on the platform's side"
        )
    return value


ContentId = Annotated[
    str,
    Field(min_length=1, max_length=255, pattern=CONTENT_ID_PATTERN),
    AfterValidator(checked_content_id),
]


class SignalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=20, examples=["pdq"])
    value: str = Field(min_length=1, max_length=2_000_000)


class IpEventIn(BaseModel):
    """Where the uploader was, as the platform saw it: for CyberTipline reports only."""

    model_config = ConfigDict(extra="forbid")
    ip_address: IPvAnyAddress
    event_name: Literal["Upload", "Login", "Registration", "Purchase", "Other", "Unknown"] = (
        "Upload"
    )
    at: datetime


class ContentIn(BaseModel):
    """Register content. In multipart form the same fields are form fields (``signals`` as a
    JSON string) plus ``file``."""

    model_config = ConfigDict(extra="forbid")
    content_id: ContentId
    uploader_id: str = Field("", max_length=255)
    url: str = Field("", max_length=4096)
    kind: str = Field("", max_length=20, examples=["image", "video"])
    posted_at: datetime | None = None
    signals: list[SignalIn] = Field(default_factory=list, max_length=1000)
    ip_events: list[IpEventIn] = Field(
        default_factory=list,
        max_length=20,
        description="The uploader's IP addresses (NCMEC's ipCaptureEvent). Personal data: kept "
        "only with the sealed evidence of a blocked or held upload sent with its bytes, read "
        "only into CyberTipline reports and by the evidence roles, never logged; dropped "
        "otherwise.",
    )


class LookupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signals: list[SignalIn] = Field(default_factory=list, max_length=1000)


BATCH_SIGNALS = 1000
"""Most signals one batch lookup carries, over all its items."""


class LookupBatchIn(BaseModel):
    """Many items looked up at once, each with the signals the platform computed for it (an
    item is what one ``/v1/lookup`` would be, without a file)."""

    model_config = ConfigDict(extra="forbid")
    items: list[LookupIn] = Field(min_length=1, max_length=BATCH_SIGNALS)


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


class FingerprintOut(BaseModel):
    strength: Literal["strong", "weak", "exact_only"] = Field(
        description="strong: changed copies are recognised; weak: only some are (a dark or flat "
        "picture's contrast-normalised hash, a video with few usable frames); exact_only: only "
        "identical files (MD5/SHA-256) can be found"
    )
    reason: str


class VerdictOut(BaseModel):
    verdict: Literal["allow", "block", "hold"]
    matches: list[MatchOut]
    case_id: str | None = None
    content_id: str | None = None
    status: str | None = None
    signals: list[dict[str, Any]] = Field(default_factory=list)
    fingerprint: FingerprintOut | None = Field(
        None,
        description="How far this item's fingerprints can find its copies; null for items "
        "registered before this was assessed.",
    )


class LookupBatchOut(BaseModel):
    """One verdict per item, in the order of the request's items."""

    results: list[VerdictOut]


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
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="http(s), outside webhook_deny_networks (else 422 invalid_webhook_url).",
    )
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
    circuit: Literal["closed", "open", "probe"] = Field(
        "closed",
        description="The circuit breaker: open = deliveries wait without a network attempt "
        "until circuit_open_until, then one probe delivery is tried.",
    )
    consecutive_failures: int = 0
    circuit_open_until: datetime | None = None


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
    held_by_circuit: bool = Field(
        False, description="Waiting (no network attempt) because the webhook's circuit is open."
    )


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
            "banks:export",
            "actions:read",
            "webhooks:write",
            "audit:read",
            "cases:read",
            "cases:decide",
            "appeals:write",
            "trusted_flagger",
            "evidence",
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
    role: Literal["admin", "reviewer", "senior_reviewer", "child_safety_specialist", "legal"]
    password: str | None = Field(None, min_length=12, max_length=1000)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["admin", "reviewer", "senior_reviewer", "child_safety_specialist", "legal"]


class UserOut(BaseModel):
    id: int
    email: str
    role: str
    disabled: bool
    created_at: datetime
    password: str | None = Field(None, description="A generated password, shown once.")


class ContentRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, max_length=4096)
    content_id: ContentId | None = None


class ReportHash(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["pdq", "md5", "sha256"]
    value: str = Field(min_length=1, max_length=200)
    dihedral: dict[str, str] | None = Field(
        None,
        max_length=8,
        description="pdq only: the hashes of the copy's turns and flips, by transform name "
        "(rotate90, rotate180, rotate270, flip, mirror, transpose, transverse), so that "
        "turned or mirrored reposts are found too",
    )


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field("", max_length=320)
    phone: str = Field("", max_length=40)


class ReportIn(BaseModel):
    """A report (a notice) from anyone; see the README for which fields the law requires."""

    model_config = ConfigDict(extra="forbid")
    content: list[ContentRef] = Field(default_factory=list, max_length=50)
    hashes: list[ReportHash] = Field(default_factory=list, max_length=20)
    category: Literal[
        "child_sexual_abuse",
        "non_consensual_intimate_image",
        "sexual_exploitation_or_trafficking",
        "other",
    ]
    minor_depicted: Literal["yes", "no", "unsure"]
    relationship: Literal[
        "self",
        "parent_or_guardian",
        "authorised_representative",
        "ngo",
        "law_enforcement",
        "other_user",
    ]
    description: str = Field("", max_length=5000)
    contact: Contact | None = None
    good_faith_statement: bool = False
    signature: str = Field("", max_length=200)


class ReportReceipt(BaseModel):
    received_at: datetime
    category: str
    items_identified: int
    restricted: bool
    message: str


class ReportAccepted(BaseModel):
    report_id: str
    status_token: str
    status_url: str
    case_id: str
    receipt: ReportReceipt


class ReportStatusOut(BaseModel):
    report_id: str
    received_at: datetime
    status: str
    decision: str | None
    statement_of_reasons: dict[str, Any] | None
    question: str = Field(
        description="The reviewer's open question to this report's reporter; empty when none "
        "(a question to another reporter of the same case is never shown here)."
    )
    can_appeal: bool
    fingerprint: FingerprintOut | None = Field(
        None,
        description="The reported items' weakest fingerprint: when not strong, only the copies "
        "it can recognise were searched and are blocked (see its reason); null when unknown.",
    )


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1, max_length=5000)


class CaseSummary(BaseModel):
    case_id: str
    state: str
    priority: str
    queue: str
    category: str
    minor_alleged: bool
    restricted: bool
    unresolved: bool
    escalated: bool
    breached: bool
    next_due: datetime | None
    created_at: datetime


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["violation", "no_violation", "need_more_info", "escalate"]
    category: (
        Literal[
            "child_sexual_abuse",
            "non_consensual_intimate_image",
            "sexual_exploitation_or_trafficking",
            "other",
        ]
        | None
    ) = None
    note: str = Field("", max_length=5000)
    report_id: str | None = Field(
        None,
        min_length=1,
        max_length=40,
        description="need_more_info only: the report (its report_id in the case) whose "
        "reporter is asked the question in note; default the case's first report. Only that "
        "reporter sees and answers it.",
    )


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=5000)


class AppealDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["upheld", "overturned"]
    note: str = Field("", max_length=5000)


class DecisionOut(BaseModel):
    decision_id: int
    case_id: str
    state: str
    outcome: str
    recommendation: bool
    statement_of_reasons: dict[str, Any]


class CopyDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["remove", "restore"]
