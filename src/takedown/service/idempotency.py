"""``Idempotency-Key`` for report intake: a client that did not get the answer (a dropped
connection, a timeout) sends the same report again with the same key and gets the first answer
back, not a second report.

A key belongs to one caller (an API key, or else the client's address) and lives 24 hours.
The same key with the same body gets the stored answer; with another body, a refusal
(:class:`Reused`). Records are in the database, so any worker, after any restart, answers.

What is stored: keyed hashes of the key (with its caller) and of the body, the report id, and
the answer sealed (AES-256-GCM) with a key derived from the service secret **and** the
Idempotency-Key, which is not stored: the answer carries the reporter's status link, which the
database otherwise keeps only as a hash.

Order of events: the key is claimed (a row without an answer), the report is stored, the
answer is recorded. A retry while the first is being stored is told to wait
(:class:`InProgress`). If the worker dies between storing and recording, the claim is taken
over after ``CLAIM_TIMEOUT`` and the retry stores the report again: such a report joins the
same case, where a lost report could not be found again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, select

from takedown.store.db import Database
from takedown.store.models import IdempotencyRecord
from takedown.store.upsert import insert_or_ignore

TTL = timedelta(hours=24)
CLAIM_TIMEOUT = timedelta(seconds=60)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces (IETF draft: a string)
_PRUNE_EVERY_S = 300.0


class BadKey(ValueError):
    """An Idempotency-Key that is empty, too long or not printable ASCII."""


@dataclass(frozen=True)
class Ticket:
    """One request's key and body, as stored (hashes) and the key that seals its answer."""

    key_hash: str
    body_hash: str
    seal_key: bytes


@dataclass(frozen=True)
class Fresh:
    """The key is ours: store the report, then :meth:`Replays.complete` (or ``release``)."""


@dataclass(frozen=True)
class Replay:
    """The key was used with this body: here is the first answer."""

    answer: str


@dataclass(frozen=True)
class Reused:
    """The key was used with a different body."""


@dataclass(frozen=True)
class InProgress:
    """The first request with this key is still being stored."""


Claim = Fresh | Replay | Reused | InProgress


def _mac(key: bytes, *parts: str | bytes) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        mac.update(len(data).to_bytes(4, "big") + data)  # unambiguous joins
    return mac.digest()


class Replays:
    """Idempotency records, keyed with secrets derived from the service secret."""

    def __init__(self, secret: str) -> None:
        root = secret.encode()
        self._lookup = _mac(root, "takedown idempotency lookup")
        self._body = _mac(root, "takedown idempotency body")
        self._seal = _mac(root, "takedown idempotency seal")
        self._next_prune = 0.0

    def ticket(self, caller: str, key: str, body: bytes) -> Ticket:
        """``caller``: who the key belongs to (``key:<id>`` or a hashed client address);
        ``body``: the request in a canonical form (same report, same bytes)."""
        if not _KEY.match(key):
            raise BadKey("Idempotency-Key: 1 to 255 printable characters, no spaces")
        return Ticket(
            key_hash=_mac(self._lookup, caller, key).hex(),
            body_hash=_mac(self._body, body).hex(),
            seal_key=_mac(self._seal, caller, key),
        )

    def claim(self, db: Database, ticket: Ticket, now: datetime) -> Claim:
        self._prune(db, now)
        with db.write() as session:
            fresh = {
                "key_hash": ticket.key_hash,
                "body_hash": ticket.body_hash,
                "report_id": None,
                "sealed_answer": None,
                "created_at": now,
            }
            if insert_or_ignore(session, IdempotencyRecord, fresh):
                return Fresh()
            row = session.execute(
                select(IdempotencyRecord)
                .where(IdempotencyRecord.key_hash == ticket.key_hash)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one()
            expired = row.created_at <= now - TTL
            abandoned = row.sealed_answer is None and row.created_at <= now - CLAIM_TIMEOUT
            if expired or abandoned:
                row.body_hash, row.created_at = ticket.body_hash, now
                row.report_id, row.sealed_answer = None, None
                return Fresh()
            if not hmac.compare_digest(row.body_hash, ticket.body_hash):
                return Reused()
            if row.sealed_answer is None:
                return InProgress()
            return Replay(_open(ticket, row.sealed_answer))

    def complete(self, db: Database, ticket: Ticket, report_id: str, answer: str) -> None:
        """Record the answer of the request that claimed the key."""
        with db.write() as session:
            row = session.get(IdempotencyRecord, ticket.key_hash)
            if row is None or row.body_hash != ticket.body_hash:
                return  # taken over after CLAIM_TIMEOUT: that request records its own
            row.report_id = report_id
            row.sealed_answer = _seal(ticket, answer)

    def release(self, db: Database, ticket: Ticket) -> None:
        """Give the key back: the request stored nothing (refused, or failed)."""
        with db.write() as session:
            session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.key_hash == ticket.key_hash,
                    IdempotencyRecord.sealed_answer.is_(None),
                )
            )

    def _prune(self, db: Database, now: datetime) -> None:
        """Expired records go, now and then (each worker at most every few minutes)."""
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + _PRUNE_EVERY_S
        with db.write() as session:
            session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.created_at <= now - TTL)
            )


def _seal(ticket: Ticket, answer: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(ticket.seal_key).encrypt(nonce, answer.encode(), ticket.key_hash.encode())
    return base64.b64encode(nonce + sealed).decode()


def _open(ticket: Ticket, sealed: str) -> str:
    raw = base64.b64decode(sealed)
    return AESGCM(ticket.seal_key).decrypt(raw[:12], raw[12:], ticket.key_hash.encode()).decode()
