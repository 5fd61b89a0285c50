"""Exchange configuration use cases: add, list, change credentials, remove. Audited.

An exchange fills one bank, created with it (or an existing bank no other exchange fills);
the bank's action (block / hold) and PDQ threshold are set here. Options are checked by
building the kind's client (no request is made), so a bad URL or key is refused at once, not
at the first fetch. Credentials are sealed (``service.exchange_secrets``) and never returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session

from takedown import exchanges
from takedown.actions.addresses import Networks
from takedown.audit.log import record
from takedown.exchanges import ExchangeError, ExchangeSettings, guard
from takedown.exchanges.guard import DEFAULT_NETWORKS
from takedown.service import banks as bank_service
from takedown.service.banks import BankError
from takedown.service.exchange_fetch import AUTH_FAILED, IDLE
from takedown.service.exchange_secrets import CredentialsUnreadable, kind_scope, seal, unseal
from takedown.signals import pdq
from takedown.store.models import (
    Bank,
    BankEntry,
    Exchange,
    ExchangeApiCredentials,
    FeedEvent,
    ShareRule,
)

RESERVED_NAMES = frozenset({"feed"})  # sharing.FEED_TARGET: a sharing target, not an exchange
MIN_SCHEDULE_S = 60
MAX_SCHEDULE_S = 7 * 24 * 3600
MAX_EXCHANGE_THRESHOLD = pdq.DEFAULT_THRESHOLD  # a feed does not loosen matching past default


class ExchangeConfigError(BankError):
    """A refused exchange operation (``code``/``status`` as the API answers them)."""


@dataclass(frozen=True)
class ExchangeSpec:
    name: str
    kind: str
    bank: str
    action: str | None = None  # None: a new bank blocks, an existing bank keeps its action
    threshold: int | None = None
    options: Mapping[str, str] | None = None
    credentials: Mapping[str, str] | None = None
    schedule_s: int = 3600
    enabled: bool = True
    allow_protected_bank: bool = False


@dataclass(frozen=True)
class BankRights:
    """What the caller may do to banks besides configuring exchanges. ``exchanges:admin``
    alone creates a new bank for its feed; filling or changing an existing bank is changing
    a bank (``banks:write``), and the banks that route cases (the ``confirmed-*`` banks, the
    watch bank, the policy's child-abuse banks) are filled by a feed only when a holder of
    ``banks:write`` asks for it by name (``allow_protected_bank``): an NCMEC feed into a
    child-abuse bank is legitimate, a feed that quietly turns into one is not."""

    may_write_banks: bool = False
    protected: frozenset[str] = frozenset()


def protected_banks(watch_bank: str, child_abuse_banks: frozenset[str]) -> frozenset[str]:
    return frozenset({watch_bank, *child_abuse_banks})


def _is_protected(name: str, rights: BankRights) -> bool:
    return name.startswith("confirmed-") or name in rights.protected


def _check_bank_rights(spec: ExchangeSpec, exists: bool, rights: BankRights) -> None:
    if exists and not rights.may_write_banks:
        raise ExchangeConfigError(
            "forbidden",
            f"the bank {spec.bank!r} exists: filling or changing it also needs banks:write "
            "(or name a new bank)",
            403,
        )
    if _is_protected(spec.bank, rights):
        if not rights.may_write_banks:
            raise ExchangeConfigError(
                "forbidden", f"the bank {spec.bank!r} routes cases: it needs banks:write", 403
            )
        if not spec.allow_protected_bank:
            raise ExchangeConfigError(
                "protected_bank",
                f"the bank {spec.bank!r} routes cases (confirmed, watch or child-abuse bank); "
                "set allow_protected_bank to let this feed fill it",
                409,
            )
    if spec.threshold is not None and not 0 <= spec.threshold <= MAX_EXCHANGE_THRESHOLD:
        raise ExchangeConfigError(
            "invalid_field",
            f"an exchange sets a PDQ threshold of 0..{MAX_EXCHANGE_THRESHOLD}; "
            "a looser one is set on the bank itself (banks:write)",
        )


def get_exchange(session: Session, name: str) -> Exchange:
    row = session.execute(select(Exchange).where(Exchange.name == name)).scalar_one_or_none()
    if row is None:
        raise ExchangeConfigError("exchange_not_found", f"no exchange named {name!r}", 404)
    return row


def list_exchanges(session: Session) -> list[tuple[Exchange, Bank]]:
    rows = session.execute(
        select(Exchange, Bank).join(Bank, Bank.id == Exchange.bank_id).order_by(Exchange.name)
    ).all()
    return [(exchange, bank) for exchange, bank in rows]


def _check_fields(
    kind: exchanges.ExchangeKind, options: Mapping[str, str], credentials: Mapping[str, str]
) -> None:
    unknown = sorted(set(options) - set(kind.option_fields))
    if unknown:
        raise ExchangeConfigError(
            "invalid_field",
            f"unknown option(s) {', '.join(unknown)} for kind {kind.name!r}; "
            f"options: {', '.join(kind.option_fields) or 'none'}",
        )
    missing = [o for o in kind.required_options if not options.get(o)]
    if missing:
        raise ExchangeConfigError(
            "invalid_field", f"kind {kind.name!r} needs the option(s) {', '.join(missing)}"
        )
    _check_credential_fields(kind, credentials)


def _check_credential_fields(kind: exchanges.ExchangeKind, credentials: Mapping[str, str]) -> None:
    unknown = sorted(set(credentials) - set(kind.credential_fields))
    if unknown:
        raise ExchangeConfigError(
            "invalid_field",
            f"unknown credential field(s) {', '.join(unknown)} for kind {kind.name!r}; "
            f"fields: {', '.join(kind.credential_fields) or 'none'}",
        )


def check_client(
    kind: exchanges.ExchangeKind,
    settings: ExchangeSettings,
    credentials: Mapping[str, str],
) -> None:
    """Build the client once (no request is made) so that bad options are refused now."""
    with httpx.Client() as http:
        try:
            kind.build(settings, credentials, http)
        except (ValueError, ExchangeError) as exc:
            raise ExchangeConfigError("invalid_field", str(exc)) from None


def create_exchange(
    session: Session,
    spec: ExchangeSpec,
    *,
    secret: str,
    actor: str,
    now: datetime,
    rights: BankRights = BankRights(),
    networks: Networks = DEFAULT_NETWORKS,
) -> Exchange:
    if not bank_service.NAME_PATTERN.match(spec.name):
        raise ExchangeConfigError(
            "invalid_field",
            "an exchange name is 1-100 characters: lowercase letters, digits, '_', '.', '-'",
        )
    if spec.name in RESERVED_NAMES:
        raise ExchangeConfigError(
            "invalid_field",
            f"{spec.name!r} is reserved (the sharing target of takedown's own signed feed); "
            "choose another name",
        )
    try:
        kind = exchanges.kind_named(spec.kind)
    except KeyError as exc:
        raise ExchangeConfigError("unknown_exchange_kind", str(exc.args[0])) from None
    if not MIN_SCHEDULE_S <= spec.schedule_s <= MAX_SCHEDULE_S:
        raise ExchangeConfigError(
            "invalid_field", f"schedule_s must be {MIN_SCHEDULE_S}..{MAX_SCHEDULE_S} seconds"
        )
    options = {k: str(v) for k, v in (spec.options or {}).items() if str(v) != ""}
    credentials = {k: str(v) for k, v in (spec.credentials or {}).items() if str(v) != ""}
    _check_fields(kind, options, credentials)
    # without credentials of its own, the exchange uses its kind's (set_kind_credentials)
    usable = credentials or _kind_credentials(session, kind.name, secret)
    check_client(kind, ExchangeSettings(spec.name, spec.kind, spec.bank, options), usable)
    try:
        guard.check_options(options, networks)
    except ValueError as exc:
        raise ExchangeConfigError("invalid_exchange_url", str(exc)) from None
    if session.execute(select(Exchange.id).where(Exchange.name == spec.name)).first():
        raise ExchangeConfigError(
            "exchange_exists", f"an exchange named {spec.name!r} already exists", 409
        )
    bank = session.execute(select(Bank).where(Bank.name == spec.bank)).scalar_one_or_none()
    _check_bank_rights(spec, bank is not None, rights)
    if bank is None:
        bank = bank_service.create_bank(
            session,
            spec.bank,
            description=f"filled by the exchange {spec.name}",
            action=spec.action or "block",
            threshold=spec.threshold,
            actor=actor,
        )
    else:
        taken = session.execute(
            select(Exchange.name).where(Exchange.bank_id == bank.id)
        ).scalar_one_or_none()
        if taken is not None:
            raise ExchangeConfigError(
                "bank_in_use", f"the exchange {taken!r} already fills bank {spec.bank!r}", 409
            )
        if spec.action is not None or spec.threshold is not None:
            bank_service.update_bank(
                session, bank, actor=actor, action=spec.action, threshold=spec.threshold
            )
    row = Exchange(
        name=spec.name,
        kind=spec.kind,
        bank_id=bank.id,
        options=options,
        credentials=seal(secret, spec.name, credentials),
        schedule_s=spec.schedule_s,
        enabled=spec.enabled,
        state=IDLE,
        next_attempt_at=now,
        created_at=now,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "exchange.create",
        f"exchange:{spec.name}",
        {
            "kind": spec.kind,
            "bank": spec.bank,
            "action": spec.action,
            "options": sorted(options),  # names only: a URL may carry a token
            "credentials": sorted(credentials),
            "schedule_s": spec.schedule_s,
        },
    )
    return row


def set_credentials(
    session: Session,
    row: Exchange,
    credentials: Mapping[str, str],
    *,
    secret: str,
    actor: str,
    now: datetime,
) -> Exchange:
    """New credentials: an exchange stopped by refused credentials is tried again at once."""
    kind = exchanges.kind_named(row.kind)
    cleaned = {k: str(v) for k, v in credentials.items() if str(v) != ""}
    _check_fields(kind, dict(row.options or {}), cleaned)
    row.credentials = seal(secret, row.name, cleaned)
    if row.state == AUTH_FAILED:
        row.state = IDLE
    row.next_attempt_at = now
    record(
        session, actor, "exchange.credentials", f"exchange:{row.name}", {"fields": sorted(cleaned)}
    )
    return row


def _kind_credentials(session: Session, kind: str, secret: str) -> dict[str, str]:
    """The kind's own credentials, opened (none where they cannot be: the fetch says so)."""
    row = session.get(ExchangeApiCredentials, kind)
    try:
        return unseal(secret, kind_scope(kind), row.credentials) if row is not None else {}
    except CredentialsUnreadable:
        return {}


def kind_has_credentials(session: Session, kind: str) -> bool:
    """Whether the kind has credentials of its own (see :func:`set_kind_credentials`)."""
    row = session.get(ExchangeApiCredentials, kind)
    return row is not None and bool(row.credentials)


def set_kind_credentials(
    session: Session,
    kind_name: str,
    credentials: Mapping[str, str],
    *,
    secret: str,
    actor: str,
    now: datetime,
) -> bool:
    """Credentials for every exchange of the kind that has none of its own (HMA keeps its
    credentials per exchange API, not per exchange); none clears them. Such exchanges stopped
    by refused credentials are tried again at once. Raises KeyError for an unknown kind.
    Returns whether the kind now has credentials."""
    kind = exchanges.kind_named(kind_name)
    cleaned = {k: str(v) for k, v in credentials.items() if str(v) != ""}
    _check_credential_fields(kind, cleaned)
    row = session.get(ExchangeApiCredentials, kind.name)
    if not cleaned:
        if row is not None:
            session.delete(row)
    else:
        if row is None:
            row = ExchangeApiCredentials(kind=kind.name)
            session.add(row)
        row.credentials = seal(secret, kind_scope(kind.name), cleaned)
        row.updated_at = now
        row.updated_by = actor
        session.execute(
            update(Exchange)
            .where(Exchange.kind == kind.name, Exchange.credentials == "")
            .where(Exchange.state == AUTH_FAILED)
            .values(state=IDLE, next_attempt_at=now)
        )
    record(
        session,
        actor,
        "exchange_api.credentials",
        f"exchange_api:{kind.name}",
        {"fields": sorted(cleaned)},
    )
    return bool(cleaned)


def request_fetch(session: Session, row: Exchange, *, actor: str, now: datetime) -> None:
    """Make the exchange due now (the worker picks it up, or the caller fetches it)."""
    row.next_attempt_at = now
    record(session, actor, "exchange.fetch_requested", f"exchange:{row.name}", {})


def remove_exchange(session: Session, row: Exchange, *, actor: str) -> int:
    """Stop fetching and forget the exchange. Its entries stay in the bank (with their
    external ids and labels): disable the bank to stop matching them. Returns their count."""
    kept = session.execute(
        select(func.count()).select_from(BankEntry).where(BankEntry.exchange_id == row.id)
    ).scalar_one()
    session.execute(
        update(BankEntry).where(BankEntry.exchange_id == row.id).values(exchange_id=None)
    )
    # its sharing switches and what was queued for it go with it: a later exchange of the
    # same name starts with sharing off and nothing ever shared
    session.execute(delete(ShareRule).where(ShareRule.target == row.name))
    session.execute(delete(FeedEvent).where(FeedEvent.target == row.name))
    session.delete(row)
    record(session, actor, "exchange.remove", f"exchange:{row.name}", {"entries_kept": kept})
    return int(kept)


@dataclass(frozen=True)
class ExchangeView:
    """An exchange as staff see it (API, console, CLI): never its credentials."""

    name: str
    kind: str
    bank: str
    action: str
    threshold: int | None
    options: dict[str, str]
    has_credentials: bool
    schedule_s: int
    enabled: bool
    state: str
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str
    last_error_at: datetime | None
    failures: int
    errors_total: int
    next_attempt_at: datetime | None
    entries_added: int
    entries_removed: int
    run_started_at: datetime | None
    run_entries: int
    entries: int
    enabled_entries: int


def entry_counts(session: Session) -> dict[int, tuple[int, int]]:
    """Per exchange id: (entries it brought, of which enabled)."""
    rows = session.execute(
        select(
            BankEntry.exchange_id,
            func.count(),
            func.sum(case((BankEntry.enabled.is_(True), 1), else_=0)),
        )
        .where(BankEntry.exchange_id.is_not(None))
        .group_by(BankEntry.exchange_id)
    ).all()
    return {int(i): (int(total), int(on or 0)) for i, total, on in rows}


def _shown_option(name: str, value: str) -> str:
    """A URL option as staff see it: without its query string, which may carry a token
    (a list's ``?key=...``); the stored URL is unchanged."""
    if name not in guard.URL_OPTIONS:
        return value
    parts = urlsplit(value)
    return urlunsplit(parts._replace(query="redacted", fragment="")) if parts.query else value


def view(row: Exchange, bank: Bank, counts: Mapping[int, tuple[int, int]]) -> ExchangeView:
    total, enabled = counts.get(row.id, (0, 0))
    return ExchangeView(
        name=row.name,
        kind=row.kind,
        bank=bank.name,
        action=bank.action,
        threshold=bank.threshold,
        options={str(k): _shown_option(str(k), str(v)) for k, v in (row.options or {}).items()},
        has_credentials=bool(row.credentials),
        schedule_s=row.schedule_s,
        enabled=row.enabled,
        state=row.state,
        last_attempt_at=row.last_attempt_at,
        last_success_at=row.last_success_at,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        failures=row.failures,
        errors_total=row.errors_total,
        next_attempt_at=row.next_attempt_at,
        entries_added=row.entries_added,
        entries_removed=row.entries_removed,
        run_started_at=row.run_started_at,
        run_entries=row.run_entries,
        entries=total,
        enabled_entries=enabled,
    )


def views(session: Session) -> list[ExchangeView]:
    counts = entry_counts(session)
    return [view(row, bank, counts) for row, bank in list_exchanges(session)]


def view_of(session: Session, name: str) -> ExchangeView:
    row = get_exchange(session, name)
    bank = session.get(Bank, row.bank_id)
    assert bank is not None
    return view(row, bank, entry_counts(session))
