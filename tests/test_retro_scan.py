"""Retro-scan on SQLite and PostgreSQL: entries that arrive in a bank find the matching content
already on the platform (uploaded before the bank had them), each such item once becoming a case
as a held or blocked upload would; the scan resumes after an interruption; unrelated content is
untouched. And the sweep itself: exact against brute force."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from takedown.cases.policy import Policy
from takedown.matching.pdq_index import format_hash, parse_hashes
from takedown.matching.sweep import EntrySweep, brute_force
from takedown.service import retro_scan
from takedown.store.models import BankEntry, Case, RetroHit, RetroScan
from tests.service_support import Service, make_settings, running_service, wait_for

RNG = np.random.default_rng(7)


def _random_pdq() -> str:
    return bytes(RNG.integers(0, 256, 32, dtype=np.uint8)).hex()


def _flip(value: str, bits: int, seed: int = 0) -> str:
    """``value`` with ``bits`` distinct bits flipped: a re-encoded copy's hash."""
    number = int(value, 16)
    for bit in np.random.default_rng(seed).choice(256, bits, replace=False):
        number ^= 1 << int(bit)
    return f"{number:064x}"


def _policy(service: Service) -> Policy:
    policy: Policy = service.client.app.state.takedown.policy  # type: ignore[attr-defined]
    return policy


def _upload(service: Service, content_id: str, signals: list[dict[str, str]]) -> dict[str, Any]:
    answer = service.post(
        "/v1/content",
        json={"content_id": content_id, "uploader_id": f"up-{content_id}", "signals": signals},
    )
    assert answer.status_code in (200, 201), answer.text
    body: dict[str, Any] = answer.json()
    return body


def _bank(service: Service, name: str, action: str, entries: list[dict[str, str]]) -> None:
    answer = service.post("/v1/banks", json={"name": name, "action": action})
    assert answer.status_code == 201, answer.text
    _add(service, name, entries)


def _add(service: Service, bank: str, entries: list[dict[str, str]]) -> None:
    answer = service.post(f"/v1/banks/{bank}/entries", json={"entries": entries})
    assert answer.status_code == 201, answer.text


def _status(service: Service, content_id: str) -> str:
    status: str = service.get(f"/v1/content/{content_id}").json()["status"]
    return status


def _actions(service: Service) -> list[tuple[str, str | None, str]]:
    page = service.get("/v1/actions?limit=1000").json()
    return [(a["action"], a["content_id"], a["reason"]) for a in page["actions"]]


def test_known_material_already_up_becomes_a_restricted_p0_case(service: Service) -> None:
    """The issue's acceptance: an item uploaded before the NCMEC list had its hash becomes a
    restricted P0 case with a CyberTipline draft when the list brings the hash; once only;
    nothing else on the platform is touched."""
    original = _random_pdq()
    unrelated = _random_pdq()
    assert _upload(service, "old-1", [{"type": "pdq", "value": original}])["verdict"] == "allow"
    assert _upload(service, "other-1", [{"type": "pdq", "value": unrelated}])["verdict"] == "allow"
    assert _upload(service, "other-2", [{"type": "md5", "value": "a" * 32}])["verdict"] == "allow"
    # the list's hash is of another encoding of the same picture: 9 bits away
    _bank(service, "ncmec-csam", "hold", [{"signal_type": "pdq", "value": _flip(original, 9)}])
    reports = retro_scan.scan_pending(service.db, _policy(service))
    assert [len(r.cases) for r in reports] == [1]
    (case_id,) = reports[0].cases

    specialist = service.staff("child_safety_specialist")
    case = service.as_(specialist, "GET", f"/v1/cases/{case_id}").json()
    assert (case["state"], case["priority"], case["category"]) == (
        "restricted",
        "P0",
        "child_sexual_abuse",
    )
    assert [c["content_id"] for c in case["content"]] == ["old-1"]
    assert "content.retro_match" in [e["action"] for e in case["history"]]
    legal = service.staff("legal")
    tips = service.as_(legal, "GET", "/v1/cybertipline").json()
    assert [t["case_id"] for t in tips] == [str(case_id)]
    assert _status(service, "old-1") == "restricted"
    assert ("restrict", "old-1", "retro_scan_match") in _actions(service)
    assert _status(service, "other-1") == _status(service, "other-2") == "live"
    assert [a for a in _actions(service) if a[1] in ("other-1", "other-2")] == []

    # once per item: another entry of the same material opens nothing more
    _add(service, "ncmec-csam", [{"signal_type": "pdq", "value": original}])
    again = retro_scan.scan_pending(service.db, _policy(service))
    assert [len(r.cases) for r in again] == [0] and again[0].skipped == 1
    # nothing left to scan: the entries are marked
    assert retro_scan.scan_pending(service.db, _policy(service)) == []

    # the console's line and the audit log say what happened
    scans = service.get("/v1/retro-scans?matched=some").json()["scans"]
    assert len(scans) == 1 and scans[0]["bank"] == "ncmec-csam" and scans[0]["matched"] == 1
    assert scans[0]["summary"].startswith(
        "1 item already on the platform matched bank ncmec-csam added at "
    )
    events = service.get("/v1/audit?limit=1000").json()
    assert "bank.retro_scan" in [e["action"] for e in events]


def test_block_bank_removes_close_matches_and_restricts_far_ones(service: Service) -> None:
    """A block bank's close match (exact digest, or PDQ within the auto-remove distance) is
    removed with an actioned case; a farther PDQ match is restricted for a person's look; a
    bank that is not a child-abuse bank opens no CyberTipline draft, and its label names the
    category."""
    near, far = _random_pdq(), _random_pdq()
    _upload(service, "exact-1", [{"type": "md5", "value": "b" * 32}])
    _upload(service, "near-1", [{"type": "pdq", "value": near}])
    _upload(service, "far-1", [{"type": "pdq", "value": far}])
    distance = _policy(service).auto_remove_distance
    _bank(
        service,
        "partner-ncii",
        "block",
        [
            {"signal_type": "md5", "value": "b" * 32, "label": "ncii"},
            {"signal_type": "pdq", "value": _flip(near, distance), "label": "ncii"},
            {"signal_type": "pdq", "value": _flip(far, distance + 8), "label": "ncii"},
        ],
    )
    (report,) = retro_scan.scan_pending(service.db, _policy(service))
    assert len(report.cases) == 3
    assert _status(service, "exact-1") == _status(service, "near-1") == "removed"
    assert _status(service, "far-1") == "restricted"
    reviewer = service.staff("reviewer")
    states = {}
    for case_id in report.cases:
        case = service.as_(reviewer, "GET", f"/v1/cases/{case_id}").json()
        states[case["content"][0]["content_id"]] = (case["state"], case["category"])
    assert states == {
        "exact-1": ("actioned", "non_consensual_intimate_image"),
        "near-1": ("actioned", "non_consensual_intimate_image"),
        "far-1": ("restricted", "non_consensual_intimate_image"),
    }
    assert service.as_(service.staff("legal"), "GET", "/v1/cybertipline").json() == []


def test_scan_resumes_after_an_interruption(service: Service, monkeypatch: Any) -> None:
    """A batch that fails half-way writes nothing (its entries stay unscanned); the next round
    scans it again, and every item still gets exactly one case."""
    hashes = [_random_pdq() for _ in range(5)]
    for i, value in enumerate(hashes):
        _upload(service, f"item-{i}", [{"type": "pdq", "value": value}])
    _bank(service, "ncmec-csam", "hold", [{"signal_type": "pdq", "value": h} for h in hashes])
    policy = _policy(service)
    # the worker stopping while the content streams: nothing written, nothing marked
    stopping = threading.Event()
    stopping.set()
    assert retro_scan.scan_batch(service.db, policy, stop=stopping) is None
    unscanned = select(func.count()).where(BankEntry.retro_scanned_at.is_(None))
    with service.db.read() as session:
        assert session.execute(unscanned).scalar_one() == 5
    # a first batch of two commits
    (first,) = retro_scan.scan_pending(service.db, policy, batch=2, max_batches=1)
    assert len(first.cases) == 2
    # the next batch dies after opening one case: nothing of it is kept
    calls = {"n": 0}
    real_open = retro_scan.open_case

    def dying(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real_open(*args, **kwargs)

    monkeypatch.setattr(retro_scan, "open_case", dying)
    with pytest.raises(RuntimeError):
        retro_scan.scan_pending(service.db, policy, batch=2)
    with service.db.read() as session:
        assert session.execute(select(func.count()).select_from(Case)).scalar_one() == 2
        assert session.execute(unscanned).scalar_one() == 3
    monkeypatch.setattr(retro_scan, "open_case", real_open)
    rest = retro_scan.scan_pending(service.db, policy, batch=2)
    assert [len(r.cases) for r in rest] == [2, 1]
    with service.db.read() as session:
        hits = session.execute(select(RetroHit.content_pk)).scalars().all()
        assert len(hits) == len(set(hits)) == 5
        assert session.execute(select(func.count()).select_from(RetroScan)).scalar_one() == 3
        assert session.execute(unscanned).scalar_one() == 0


def test_items_already_handled_are_left_alone(service: Service) -> None:
    """No case for an item already blocked at upload or already in an open case, and none from
    the watch bank (a report's own hashes were searched for when it came in)."""
    blocked_hash, reported_hash = _random_pdq(), _random_pdq()
    _bank(service, "spam", "block", [{"signal_type": "pdq", "value": blocked_hash}])
    wait_for(
        lambda: (
            service.post(
                "/v1/lookup", json={"signals": [{"type": "pdq", "value": blocked_hash}]}
            ).json()["verdict"]
            == "block"
        ),
        5,
        "bank in the index",
    )
    assert _upload(service, "blocked-1", [{"type": "pdq", "value": blocked_hash}])["verdict"] == (
        "block"
    )
    _upload(service, "reported-1", [{"type": "pdq", "value": reported_hash}])
    report = service.client.post(
        "/v1/reports",
        json={
            "content": [{"content_id": "reported-1"}],
            "category": "other",
            "minor_depicted": "no",
            "relationship": "other_user",
        },
    )
    assert report.status_code == 201, report.text
    retro_scan.scan_pending(service.db, _policy(service))  # the entries so far
    _bank(
        service,
        "ncmec-csam",
        "hold",
        [
            {"signal_type": "pdq", "value": blocked_hash},
            {"signal_type": "pdq", "value": reported_hash},
        ],
    )
    (found,) = retro_scan.scan_pending(service.db, _policy(service))
    assert found.cases == [] and found.skipped == 2


def test_the_worker_scans_what_a_bank_import_brings(tmp_path: Path, db_url: str) -> None:
    """With the background worker on, a bank import is scanned without anyone asking."""
    settings = make_settings(tmp_path, db_url, background_worker=True, clock_tick_s=0.1)
    with running_service(settings) as service:
        value = _random_pdq()
        _upload(service, "old-9", [{"type": "pdq", "value": value}])
        service.post("/v1/banks", json={"name": "ncmec-csam", "action": "hold"})
        answer = service.post(
            "/v1/banks/ncmec-csam/import",
            files={"file": ("list.txt", f"{value}\n".encode(), "text/plain")},
            data={"signal_type": "pdq"},
        )
        assert answer.status_code in (200, 201), answer.text
        wait_for(lambda: _status(service, "old-9") == "restricted", 10, "retro-scan")
        scans = service.get("/v1/retro-scans").json()["scans"]
        assert scans[0]["matched"] == 1 and scans[0]["entries"] == 1


def _planted(entries: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, (entries, 4), dtype=np.int64).astype(np.uint64)
    words = rng.integers(0, 2**63, (queries, 4), dtype=np.int64).astype(np.uint64)
    for i in range(0, queries, 3):  # a third of the queries near some entry, 0-45 bits away
        value = _flip(format_hash(base[i % entries]), i % 46, seed=i)
        words[i] = parse_hashes([value])[0]
    return base, words


def test_sweep_agrees_with_brute_force() -> None:
    """Every pair within each entry's own threshold, no more, no fewer: thresholds up to 31
    through the tables, wider ones by the brute-force path."""
    entries, queries = _planted(500, 3000, seed=3)
    thresholds = np.asarray([(10, 31, 40)[i % 3] for i in range(500)], dtype=np.int32)
    ids = np.arange(500, dtype=np.int64) * 7 + 1
    sweep = EntrySweep(entries, ids, thresholds)
    found = sweep.match(queries)
    q, rows, d = brute_force(queries, entries, thresholds)
    expected = set(zip(q.tolist(), ids[rows].tolist(), d.tolist(), strict=True))
    got = set(
        zip(found.queries.tolist(), found.entries.tolist(), found.distances.tolist(), strict=True)
    )
    assert got == expected and len(got) == len(found)
    assert len(expected) > 500  # the planted neighbours within reach, and nothing else


def test_console_tells_what_the_retro_scan_found(service: Service) -> None:
    """The bank page and the dashboard say how many items already on the platform matched."""
    value = _random_pdq()
    _upload(service, "old-7", [{"type": "pdq", "value": value}])
    _bank(service, "ncmec-csam", "hold", [{"signal_type": "pdq", "value": value}])
    retro_scan.scan_pending(service.db, _policy(service))
    email = "retro-admin@example.org"
    service.staff("admin", email)
    service.sign_in(email, "a long test password")
    line = "1 item already on the platform matched bank ncmec-csam added at "
    assert line in service.client.get("/console/admin/banks/ncmec-csam").text
    assert line in service.client.get("/console/dashboard").text
