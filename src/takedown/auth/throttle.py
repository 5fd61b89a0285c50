"""Staff sign-in throttling: lock-outs that stop guessing without letting anyone lock a person
out of their own account.

Failed sign-ins are counted three ways, each in a window of ``login_lockout_s``:

* per (account, source): ``login_max_failures`` locks that pair for ``login_lockout_s``. An
  attacker at one address locks only themselves out, not the person at theirs.
* per source, across accounts: ``login_source_max_failures`` locks the address (password
  spraying: a few guesses at many accounts).
* per account, across sources: ``login_account_max_failures``, high, locks the account for
  ``login_lockout_s``: guessing from many addresses is slowed to that many tries per period,
  never stopped for good.

A source the person signed in from successfully in the last ``USUAL_FOR`` is their usual one:
the per-source and per-account locks do not apply to it, only its own pair's. So a person at
their usual desk gets in whatever happens elsewhere; from a new place they wait for the lock to
end, or an admin unlocks the account (``takedown users unlock``, the admin page).

Accounts and sources are keyed hashes (HMAC with the service's secret key) of the email and the
client address: neither is stored, and unknown emails are counted exactly like known ones, so
that the lock-outs do not tell which emails have accounts either.

A failure is counted before the password is checked (and undone on success), so that parallel
guesses cannot slip past a limit while the slow argon2 check runs outside any transaction.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from takedown.config import Settings
from takedown.store.models import LoginThrottle

USUAL_FOR = timedelta(days=90)
ANY = ""


class Scope(enum.StrEnum):
    """What a counter (and so a lock) is about."""

    PAIR = "account_and_source"
    SOURCE = "source"
    ACCOUNT = "account"


@dataclass(frozen=True)
class Limits:
    per_pair: int
    per_source: int
    per_account: int
    lockout: timedelta
    usual_for: timedelta = USUAL_FOR

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            per_pair=settings.login_max_failures,
            per_source=settings.login_source_max_failures,
            per_account=settings.login_account_max_failures,
            lockout=timedelta(seconds=settings.login_lockout_s),
        )

    def limit(self, scope: Scope) -> int:
        return {
            Scope.PAIR: self.per_pair,
            Scope.SOURCE: self.per_source,
            Scope.ACCOUNT: self.per_account,
        }[scope]


def _keyed(secret: str, kind: str, value: str) -> str:
    return hmac.new(secret.encode(), f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()


def account_key(secret: str, email: str) -> str:
    return _keyed(secret, "login-account", email.strip().lower())


def source_key(secret: str, address: str) -> str:
    return _keyed(secret, "login-source", address)


@dataclass(frozen=True)
class Keys:
    """The counters one sign-in attempt touches."""

    account: str
    source: str

    @classmethod
    def of(cls, secret: str, email: str, address: str) -> Keys:
        return cls(account_key(secret, email), source_key(secret, address))

    def rows(self) -> dict[Scope, tuple[str, str]]:
        return {
            Scope.PAIR: (self.account, self.source),
            Scope.SOURCE: (ANY, self.source),
            Scope.ACCOUNT: (self.account, ANY),
        }


# the pure core


@dataclass(frozen=True)
class Counter:
    failures: int
    window_start: datetime
    locked_until: datetime | None = None
    last_success_at: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def usual(self, now: datetime, limits: Limits) -> bool:
        """A source the person signed in from lately (meaningful for a pair counter)."""
        return self.last_success_at is not None and now - self.last_success_at < limits.usual_for

    def failed(self, now: datetime, limit: int, lockout: timedelta) -> Counter:
        """One more failure; locked for ``lockout`` on reaching ``limit`` in the window."""
        fresh = now - self.window_start >= lockout
        counted = replace(
            self,
            failures=1 if fresh else self.failures + 1,
            window_start=now if fresh else self.window_start,
        )
        if counted.failures >= limit:
            return replace(counted, failures=0, window_start=now, locked_until=now + lockout)
        return counted


def refusal(counters: dict[Scope, Counter], now: datetime, limits: Limits) -> Scope | None:
    """Which lock refuses this attempt, if any. The pair's own lock always applies; the
    source's and the account's not from the person's usual source."""
    pair = counters[Scope.PAIR]
    if pair.locked(now):
        return Scope.PAIR
    if pair.usual(now, limits):
        return None
    for scope in (Scope.SOURCE, Scope.ACCOUNT):
        if counters[scope].locked(now):
            return scope
    return None


# the database edge


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt under way: ``refused`` names the lock that refuses it (the password is
    then not checked); otherwise its failure is already counted, and ``locked`` names the locks
    that counting set (undone if the password turns out right)."""

    keys: Keys
    refused: Scope | None
    locked: tuple[Scope, ...] = ()


def _counter(row: LoginThrottle) -> Counter:
    return Counter(row.failures, row.window_start, row.locked_until, row.last_success_at)


def _store(row: LoginThrottle, counter: Counter) -> None:
    row.failures = counter.failures
    row.window_start = counter.window_start
    row.locked_until = counter.locked_until
    row.last_success_at = counter.last_success_at


def _rows(session: Session, keys: Keys, now: datetime) -> dict[Scope, LoginThrottle]:
    """The attempt's three counters, created if new, locked for this transaction (in one
    order, so that concurrent attempts cannot deadlock)."""
    wanted = keys.rows()
    dialect = session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = [
        {"account": a, "source": s, "failures": 0, "window_start": now}
        for a, s in sorted(set(wanted.values()))
    ]
    session.execute(make(LoginThrottle).values(values).on_conflict_do_nothing())
    found = {
        (row.account, row.source): row
        for row in session.execute(
            select(LoginThrottle)
            .where(
                or_(
                    *(
                        and_(LoginThrottle.account == a, LoginThrottle.source == s)
                        for a, s in sorted(set(wanted.values()))
                    )
                )
            )
            .order_by(LoginThrottle.account, LoginThrottle.source)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalars()
    }
    return {scope: found[pair] for scope, pair in wanted.items()}


def _forget_stale(session: Session, now: datetime, window: timedelta) -> None:
    """Delete counters with nothing to remember (the window is over, no lock, no usual
    source): a fresh counter says the same. Run before each attempt's counters are made, so
    that the table holds only what an attacker did lately."""
    old = now - window
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.window_start < old,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
            or_(
                LoginThrottle.last_success_at.is_(None),
                LoginThrottle.last_success_at < now - USUAL_FOR,
            ),
        )
    )


def begin(session: Session, keys: Keys, now: datetime, limits: Limits) -> Attempt:
    """Refuse the attempt, or count it as a failure now (see the module docstring)."""
    _forget_stale(session, now, limits.lockout)
    rows = _rows(session, keys, now)
    counters = {scope: _counter(row) for scope, row in rows.items()}
    refused = refusal(counters, now, limits)
    if refused is not None:
        return Attempt(keys, refused)
    locked = []
    for scope, row in rows.items():
        counted = counters[scope].failed(now, limits.limit(scope), limits.lockout)
        if counted.locked(now) and not counters[scope].locked(now):
            locked.append(scope)
        _store(row, counted)
    return Attempt(keys, None, tuple(locked))


def succeeded(session: Session, attempt: Attempt, now: datetime) -> None:
    """The password was right: clear the pair, mark the source as usual, and take back the
    failure counted in advance (with any lock it set)."""
    rows = _rows(session, attempt.keys, now)
    pair = rows[Scope.PAIR]
    _store(pair, Counter(0, now, None, now))
    for scope in (Scope.SOURCE, Scope.ACCOUNT):
        row = rows[scope]
        row.failures = max(0, row.failures - 1)
        if scope in attempt.locked:
            row.locked_until = None


def unlock(session: Session, account: str, now: datetime) -> int:
    """Lift every lock on the account (its own and each of its pairs') and clear their counts;
    returns how many locks were lifted. Usual sources stay known."""
    lifted = session.execute(
        select(func.count())
        .select_from(LoginThrottle)
        .where(LoginThrottle.account == account, LoginThrottle.locked_until > now)
    ).scalar_one()
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.account == account)
        .values(failures=0, locked_until=None)
    )
    return int(lifted)


def locked_accounts(
    session: Session, accounts: dict[str, int], now: datetime
) -> dict[int, datetime]:
    """For the admin page: of ``accounts`` (account key -> user id), those with a lock on the
    account itself or on any of its pairs, and until when (the latest)."""
    found: dict[int, datetime] = {}
    if not accounts:
        return found
    rows = session.execute(
        select(LoginThrottle.account, LoginThrottle.locked_until).where(
            LoginThrottle.account.in_(list(accounts)), LoginThrottle.locked_until > now
        )
    ).all()
    for account, until in rows:
        user_id = accounts[account]
        if until is not None and (user_id not in found or until > found[user_id]):
            found[user_id] = until
    return found
