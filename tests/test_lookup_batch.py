"""``POST /v1/lookup/batch`` and the upload path's back-pressure, over HTTP through the ASGI
app on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from takedown.api.hash_pool import HashingBusy, HashPool
from takedown.signals import HashOptions
from tests.service_support import Service, make_settings, running_service, wait_for


def _hashes(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(count)]


def _near(value: str, bits: int) -> str:
    """``value`` with its first ``bits`` bits flipped."""
    number = int(value, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{number:064x}"


def _bank(service: Service, name: str, hashes: list[str], md5: str) -> None:
    assert service.post("/v1/banks", json={"name": name}).status_code == 201
    entries: list[dict[str, Any]] = [
        {"signal_type": "pdq", "value": v, "external_id": f"item-{i}", "label": "known"}
        for i, v in enumerate(hashes)
    ]
    entries.append({"signal_type": "md5", "value": md5, "external_id": "exact-1"})
    added = service.post(f"/v1/banks/{name}/entries", json={"entries": entries})
    assert added.status_code == 201, added.text


def test_a_batch_answers_each_item_as_a_single_lookup_would(service: Service) -> None:
    banked = _hashes(20, seed=1)
    md5 = "0123456789abcdef0123456789abcdef"
    _bank(service, "known", banked, md5)
    items = [
        {"signals": [{"type": "pdq", "value": _near(banked[3], 6)}]},
        {"signals": [{"type": "pdq", "value": _hashes(1, seed=99)[0]}]},
        {"signals": [{"type": "md5", "value": md5.upper()}]},
        {"signals": [{"type": "pdq", "value": banked[7]}, {"type": "md5", "value": "f" * 32}]},
    ]
    wait_for(
        lambda: service.post("/v1/lookup", json=items[2]).json()["verdict"] == "block",
        5,
        "the bank to reach the index",
    )
    answer = service.post("/v1/lookup/batch", json={"items": items})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["verdict"] for r in results] == ["block", "allow", "block", "block"]
    assert results[0]["matches"][0]["external_id"] == "item-3"
    assert results[0]["matches"][0]["distance"] == 6
    assert results[2]["matches"][0]["signal_type"] == "md5"
    for item, result in zip(items, results, strict=True):
        single = service.post("/v1/lookup", json=item).json()
        assert result == {k: single[k] for k in ("verdict", "matches", "fingerprint")}


def test_a_full_batch_and_its_limits(service: Service) -> None:
    banked = _hashes(5, seed=2)
    _bank(service, "known", banked, "a" * 32)
    wait_for(
        lambda: (
            service.post(
                "/v1/lookup", json={"signals": [{"type": "pdq", "value": banked[0]}]}
            ).json()["verdict"]
            == "block"
        ),
        5,
        "the bank to reach the index",
    )
    queries = _hashes(995, seed=3) + banked
    full = {"items": [{"signals": [{"type": "pdq", "value": q}]} for q in queries]}
    answer = service.post("/v1/lookup/batch", json=full)
    assert answer.status_code == 200, answer.text
    verdicts = [r["verdict"] for r in answer.json()["results"]]
    assert verdicts == ["allow"] * 995 + ["block"] * 5

    too_many = {"items": [*full["items"][:999], {"signals": [full["items"][0]["signals"][0]] * 2}]}
    refused = service.post("/v1/lookup/batch", json=too_many)
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_field"
    assert "1001" in refused.json()["message"]

    bad = {"items": [full["items"][0], {"signals": [{"type": "pdq", "value": "xyz"}]}]}
    refused = service.post("/v1/lookup/batch", json=bad)
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_signal"
    assert refused.json()["message"].startswith("items[1]:")

    for body in ({"items": []}, {"items": [{"signals": []}]}, {"signals": []}):
        refused = service.post("/v1/lookup/batch", json=body)
        assert refused.status_code == 422, body
        assert refused.json()["code"] == "invalid_field"


def test_uploads_beyond_the_hashing_queue_get_429_with_retry_after(
    db_url: str, tmp_path: Path, shared_data: Path
) -> None:
    settings = make_settings(tmp_path, db_url, hash_workers=1, hash_queue=0)
    slow = (shared_data / "reference" / "vpdq" / "videos" / "doorknob-hd-no-bar.mp4").read_bytes()
    photo = sorted((shared_data / "photos").glob("*.jpg"))[0].read_bytes()
    with running_service(settings) as service:
        state = service.client.app.state.takedown  # type: ignore[attr-defined]
        assert state.hashing.workers == 1
        answers: list[Any] = []
        busy = threading.Thread(
            target=lambda: answers.append(
                service.post("/v1/lookup", files={"file": ("v.mp4", slow, "video/mp4")})
            )
        )
        busy.start()
        wait_for(lambda: state.hashing.pending == 1, 30, "the video to be hashing")
        refused = service.post("/v1/lookup", files={"file": ("p.jpg", photo, "image/jpeg")})
        still_busy = state.hashing.pending == 1
        busy.join(120)
        assert still_busy, "the video finished before the photo was sent; use a longer one"
        assert refused.status_code == 429
        assert refused.json()["code"] == "hashing_busy"
        assert int(refused.headers["Retry-After"]) >= 1
        assert answers and answers[0].status_code == 200
        accepted = service.post("/v1/lookup", files={"file": ("p.jpg", photo, "image/jpeg")})
        assert accepted.status_code == 200
        # signals without media never wait for the pool
        assert (
            service.post(
                "/v1/lookup", json={"signals": [{"type": "md5", "value": "b" * 32}]}
            ).status_code
            == 200
        )


def test_the_pool_refuses_beyond_workers_and_queue(shared_data: Path) -> None:
    import asyncio

    photo = sorted((shared_data / "photos").glob("*.jpg"))[0].read_bytes()
    pool = HashPool(workers=1, queue=1)

    async def burst() -> list[object]:
        jobs = [pool.hash(photo, HashOptions()) for _ in range(3)]
        return await asyncio.gather(*jobs, return_exceptions=True)

    try:
        outcomes = asyncio.run(burst())
        assert [type(o).__name__ for o in outcomes].count("HashResult") == 2
        refused = [o for o in outcomes if isinstance(o, HashingBusy)]
        assert len(refused) == 1 and refused[0].retry_after_s >= 1
        assert pool.pending == 0
        assert asyncio.run(pool.hash(photo, HashOptions())).media.value == "image"
    finally:
        pool.close()


@pytest.mark.parametrize(("workers", "queue"), [(0, 1), (1, -1)])
def test_a_pool_needs_a_worker_and_a_queue_of_zero_or_more(workers: int, queue: int) -> None:
    with pytest.raises(ValueError):
        HashPool(workers=workers, queue=queue)


def test_a_hashing_process_that_dies_is_replaced(shared_data: Path) -> None:
    """A worker process killed (out of memory, a decoder crash) breaks a process pool for good:
    every later upload would fail. The pool is replaced, and the upload caught in it is hashed
    again in the new one."""
    import asyncio
    import os
    import signal

    photo = sorted((shared_data / "photos").glob("*.jpg"))[0].read_bytes()
    pool = HashPool(workers=1, queue=0)
    try:
        assert asyncio.run(pool.hash(photo, HashOptions())).media.value == "image"
        broken = pool._pool()
        for pid in list(broken._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: bool(broken._broken), 10, "the pool to see its process die")  # type: ignore[attr-defined]
        assert asyncio.run(pool.hash(photo, HashOptions())).media.value == "image"
        assert pool._pool() is not broken and pool.pending == 0
    finally:
        pool.close()
