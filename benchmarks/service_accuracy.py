"""Recall through the service itself, as a platform meets it (part of ``make bench-accuracy``).

Two runs of the real app (FastAPI in-process, a fresh SQLite database each, the index
follower running):

- **bank**: each photo is added to a bank through ``POST /v1/banks/{name}/entries`` (media), then
  every changed copy is looked up through ``/v1/lookup``: found = ``block`` by its own photo.
- **Doe flow**: every photo and all its changed copies are uploaded through ``/v1/content`` by
  different users; then, photo by photo, the original is reported (``/v1/reports``) and a
  specialist confirms (``/v1/cases/{id}/decisions``): a copy counts as removed, or as restricted
  for a person (PDQ distance 17-31, the policy's review band); then each change is uploaded
  again under a new id: ``block`` counts. The platform's media endpoint is stood in for by
  putting the reported original's bytes in the evidence store, as the report's capture does.

False: a match, removal or restriction that involves another photo (photos that are
near-duplicates of each other in the data set are counted as one).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from takedown.api.app import create_app
from takedown.auth.accounts import create_key, create_user, create_user_token
from takedown.auth.scopes import Role, Scope
from takedown.config import Settings
from takedown.store.db import Database
from takedown.store.migrate import upgrade

MakeCopy = Callable[[Path], bytes]


@dataclass
class Tally:
    """Per transform: how many photos' copies were found, held for a person, or missed."""

    found: dict[str, int] = field(default_factory=dict)
    review: dict[str, int] = field(default_factory=dict)
    blocked: dict[str, int] = field(default_factory=dict)
    false: int = 0

    def add(self, counter: dict[str, int], name: str) -> None:
        counter[name] = counter.get(name, 0) + 1


@dataclass
class App:
    client: TestClient
    admin: dict[str, str]
    specialist: dict[str, str]
    evidence_put: Callable[[str, bytes], None]


@contextmanager
def _app() -> Iterator[App]:
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(
            home=Path(home),
            database_url=f"sqlite:///{home}/takedown.db",
            background_worker=False,
            index_poll_s=0.05,
            report_rate_per_ip=1e6,
            report_rate_total=1e6,
        )
        upgrade(settings.db_url)
        db = Database(settings.db_url)
        app = create_app(settings, db=db)
        with TestClient(app) as client:
            with db.write() as session:
                _, admin = create_key(session, "bench", frozenset({Scope.ADMIN}), actor="bench")
                email = "specialist@bench.example"
                create_user(session, email, Role("child_safety_specialist"), "x" * 20, actor="b")
                _, token = create_user_token(session, email, actor="bench")
            state = app.state.takedown
            yield App(
                client,
                {"Authorization": f"Bearer {admin}"},
                {"Authorization": f"Bearer {token}"},
                lambda content_id, data: state.evidence.put(content_id, data),
            )
        db.dispose()


def _wait_index(app: App, bank: str, size: int) -> None:
    index = app.client.app.state.takedown.index  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while index.sizes().get(bank, 0) < size and time.monotonic() < deadline:
        time.sleep(0.02)


def _upload(app: App, content_id: str, data: bytes) -> dict[str, Any]:
    answer = app.client.post(
        "/v1/content",
        headers=app.admin,
        data={"content_id": content_id, "uploader_id": f"u-{content_id}"},
        files={"file": ("x.png", data, "image/png")},
    )
    return dict(answer.json())


def _own(matches: Sequence[dict[str, Any]], related: set[int]) -> tuple[bool, bool]:
    """(matched its own photo, matched another photo) from matches' external ids ``photo:N``."""
    owners = {int(m["external_id"].split(":")[1]) for m in matches if ":" in m["external_id"]}
    return bool(owners & related), bool(owners - related)


def bank_path(
    photos: Sequence[Path], copies: dict[str, MakeCopy], related: dict[int, set[int]]
) -> Tally:
    tally = Tally()
    with _app() as app:
        app.client.post("/v1/banks", headers=app.admin, json={"name": "known"})
        total = 0
        for i, photo in enumerate(photos):
            added = app.client.post(
                "/v1/banks/known/entries",
                headers=app.admin,
                files={"file": (photo.name, photo.read_bytes(), "image/jpeg")},
                data={"external_id": f"photo:{i}"},
            ).json()
            total += int(added.get("added", 0))
        _wait_index(app, "known", total)
        for i, photo in enumerate(photos):
            for name, make in copies.items():
                answer = app.client.post(
                    "/v1/lookup", headers=app.admin, files={"file": ("x.png", make(photo))}
                ).json()
                own, other = _own(answer.get("matches", []), related[i])
                if own and answer["verdict"] == "block":
                    tally.add(tally.found, name)
                tally.false += other
        tally.blocked = dict(tally.found)
    return tally


def doe_flow(
    photos: Sequence[Path], copies: dict[str, MakeCopy], related: dict[int, set[int]]
) -> Tally:
    tally = Tally()
    with _app() as app:
        owner: dict[str, tuple[int, str]] = {}
        for i, photo in enumerate(photos):
            _upload(app, f"p{i}", photo.read_bytes())
            owner[f"p{i}"] = (i, "original")
            for n, (name, make) in enumerate(copies.items()):
                _upload(app, f"p{i}-c{n}", make(photo))
                owner[f"p{i}-c{n}"] = (i, name)
        index = app.client.app.state.takedown.index  # type: ignore[attr-defined]
        expected = len(photos) * (len(copies) + 1)
        deadline = time.monotonic() + 60
        while index.stats.content_signals < expected and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        for i, photo in enumerate(photos):
            app.evidence_put(f"p{i}", photo.read_bytes())
            report = app.client.post(
                "/v1/reports",
                json={
                    "content": [{"content_id": f"p{i}"}],
                    "category": "child_sexual_abuse",
                    "minor_depicted": "yes",
                    "relationship": "parent_or_guardian",
                    "description": "A photo of my child.",
                    "contact": {"email": "parent@example.org"},
                },
            ).json()
            case_id = report["case_id"]
            app.client.post(
                f"/v1/cases/{case_id}/decisions",
                headers=app.specialist,
                json={"outcome": "violation"},
            )
            case = app.client.get(f"/v1/cases/{case_id}", headers=app.specialist).json()
            for item in case["content"]:
                if item["role"] != "copy":
                    continue
                mine, name = owner.get(item["content_id"], (-1, ""))
                if mine not in related[i]:
                    tally.false += 1
                elif mine == i and item["status"] == "removed":
                    tally.add(tally.found, name)
                elif mine == i and item["case_status"] == "needs_confirm":
                    tally.add(tally.review, name)
        _wait_index(app, "confirmed-child_sexual_abuse", 1)
        time.sleep(0.5)
        for i, photo in enumerate(photos):
            for n, (name, make) in enumerate(copies.items()):
                answer = _upload(app, f"again-p{i}-c{n}", make(photo))
                if answer.get("verdict") == "block":
                    tally.add(tally.blocked, name)
    return tally


def table(
    photos: int, copies: Sequence[str], bank: Tally, doe: Tally, goals: dict[str, float]
) -> list[str]:
    """The service-path table, each transform's goal (the issue's) beside today's numbers and
    the cells that fall short of it listed under the table."""

    def pct(count: int) -> str:
        return f"{count / photos * 100:.0f}%"

    lines = [
        f"Through the service ({photos} photos, each copy a PNG of the changed photo):",
        "",
        "| transform | goal | bank via API: blocked | Doe: removed | Doe: + restricted for a "
        "person | Doe: re-upload blocked |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    short: list[str] = []
    for name in copies:
        goal = goals.get(name)
        cells = {
            "bank blocked": bank.found.get(name, 0),
            "Doe removed": doe.found.get(name, 0),
            "Doe re-upload blocked": doe.blocked.get(name, 0),
        }
        if goal is not None:
            short += [
                f"{name} / {cell} {pct(count)}"
                for cell, count in cells.items()
                if count < goal * photos - 1e-9
            ]
        lines.append(
            f"| {name} | {'' if goal is None else f'>= {goal * 100:.0f}%'} "
            f"| {pct(cells['bank blocked'])} | {pct(cells['Doe removed'])} "
            f"| {pct(doe.review.get(name, 0))} | {pct(cells['Doe re-upload blocked'])} |"
        )
    lines += [
        "",
        "Goals (issue 14): mirror and turns 100%; borders, letterbox and screenshot >= 97%; 5% "
        "uneven crop >= 95%; JPEG q30 and half size >= 99% of usable photos; 0 false matches. "
        "Below the goal today: " + ("; ".join(short) or "none") + ".",
        "",
        f"False: {bank.false} bank lookups matched another photo; {doe.false} removals or "
        "restrictions in the Doe flow touched another photo's copy (goal 0).",
    ]
    return lines
