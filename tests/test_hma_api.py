"""The HMA-compatible API against HMA's own expectations: what HMA's tests
(OpenMediaMatch/tests/test_api_banks.py, test_match_api.py, test_api.py, test_e2e_workflow.py)
assert of each route, over HTTP, on SQLite and PostgreSQL. Paths are HMA's root paths
(``hma_compat_root``); one test checks the same routes under ``/hma``."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import text
from threatexchange.signal_type.pdq.signal import PdqSignal

from takedown.api.app import create_app
from takedown.api.hma.fetch import hostname_allowed
from takedown.auth.scopes import Scope
from takedown.service.exchanges import ExchangeSpec, create_exchange
from tests.hma_support import AAA_ORIG, C_PNG, PDQ, REFERENCE, hma_service, media_server
from tests.service_support import Service, make_settings, wait_for

SPECIMEN1 = "facd8bcb2a49bcebdec1985298d5fe84bcd006c187c598c720c3c087b3fdb318"
SPECIMEN2 = "facd8bcb2a49bcebdec1985228d5ae84bcd006c187c598c720c2b087b3fdb318"


@pytest.fixture
def media() -> Iterator[str]:
    if not REFERENCE.is_dir():
        pytest.skip("the shared reference images are absent (CI always has them)")
    with media_server() as base:
        yield base


@pytest.fixture
def hma(db_url: str, tmp_path: Path) -> Iterator[Service]:
    with hma_service(tmp_path, db_url) as service:
        yield service


def create_bank(hma: Service, name: str) -> None:
    answer = hma.post("/c/banks", json={"name": name})
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"matching_enabled_ratio": 1.0, "name": name}


def add_by_url(hma: Service, bank: str, url: str, expected_id: int) -> None:
    answer = hma.post(f"/c/bank/{bank}/content", params={"url": url, "content_type": "photo"})
    assert answer.status_code == 200, answer.text
    name = url.split("/img/")[1]
    assert answer.json() == {"id": expected_id, "signals": {"pdq": PDQ[name]}}


def wait_indexed(hma: Service, size: int) -> None:
    def done() -> bool:
        status = hma.get("/m/index/status", params={"signal_type": "pdq"}).json()
        return bool(status["pdq"]["size"] == size)

    wait_for(done, 10, f"{size} PDQ hashes counted")
    time.sleep(0.3)  # the follower polls every 0.05 s: a few rounds


def test_banks_create_update_delete(hma: Service) -> None:
    # test_api_banks.py: test_banks_empty_index, test_banks_create
    assert hma.get("/c/banks").json() == []
    for bad in ("01_TEST_BANK", "my_test_bank"):
        answer = hma.post("/c/banks", json={"name": bad})
        assert answer.status_code == 400
        assert "message" in answer.json()
    created = hma.post("/c/banks", json={"name": "MY_TEST_BANK_01"})
    assert created.status_code == 201
    assert created.json() == {"matching_enabled_ratio": 1.0, "name": "MY_TEST_BANK_01"}
    assert hma.get("/c/banks").json() == [created.json()]
    assert hma.post("/c/banks", json={"name": "MY_TEST_BANK_01"}).status_code == 403
    assert hma.get("/c/bank/MY_TEST_BANK_01").json() == created.json()
    missing = hma.get("/c/bank/NO_SUCH_BANK")
    assert missing.status_code == 404
    assert missing.json()["message"] == "bank 'NO_SUCH_BANK' not found"

    # test_banks_update: name validation, rename, enabled, ratio
    assert (
        hma.client.put(
            "/c/bank/MY_TEST_BANK_01", json={"name": "1_invalid_name"}, headers=hma.headers()
        ).status_code
        == 400
    )
    renamed = hma.client.put(
        "/c/bank/MY_TEST_BANK_01", json={"name": "MY_TEST_BANK_RENAMED"}, headers=hma.headers()
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "MY_TEST_BANK_RENAMED"
    disabled = hma.client.put(
        "/c/bank/MY_TEST_BANK_RENAMED", json={"enabled": False}, headers=hma.headers()
    )
    assert disabled.status_code == 200
    assert disabled.json()["matching_enabled_ratio"] == 0
    half = hma.client.put(
        "/c/bank/MY_TEST_BANK_RENAMED", json={"enabled_ratio": 0.5}, headers=hma.headers()
    )
    assert half.status_code == 200
    assert half.json()["matching_enabled_ratio"] == 0.5
    assert hma.get("/c/banks").json() == [
        {"name": "MY_TEST_BANK_RENAMED", "matching_enabled_ratio": 0.5}
    ]
    # the takedown bank underneath: the same bank, renamed, enabled (ratio > 0)
    v1 = hma.get("/v1/banks/my_test_bank_renamed").json()
    assert v1["enabled"] is True
    assert (
        hma.client.put(
            "/c/bank/NO_SUCH_BANK", json={"enabled": True}, headers=hma.headers()
        ).status_code
        == 404
    )

    # test_banks_delete: 200, and 200 again for a bank that is gone
    assert hma.client.delete("/c/bank/MY_TEST_BANK_RENAMED", headers=hma.headers()).json() == {
        "message": "Done"
    }
    assert (
        hma.client.delete("/c/bank/MY_TEST_BANK_RENAMED", headers=hma.headers()).status_code == 200
    )
    assert hma.get("/c/banks").json() == []
    # the name is free again; the deleted bank is kept (disabled) for the record
    create_bank(hma, "MY_TEST_BANK_RENAMED")
    kept = [b for b in hma.get("/v1/banks").json() if ".deleted-" in b["name"]]
    assert len(kept) == 1 and kept[0]["enabled"] is False


def test_bank_content_by_url(hma: Service, media: str) -> None:
    bank = "TEST_BANK"
    # test_bank_get_content_404: no bank, then no content
    assert hma.get(f"/c/bank/{bank}/content/1").status_code == 404
    create_bank(hma, bank)
    assert hma.get(f"/c/bank/{bank}/content/1").status_code == 404
    assert hma.get(f"/c/bank/{bank}/content/not-a-number").status_code == 404

    # test_banks_add_content / add_hash_to_bank: ids 1, 2, ...
    add_by_url(hma, bank, f"{media}/img/{AAA_ORIG}", 1)
    add_by_url(hma, bank, f"{media}/img/{C_PNG}", 2)

    # test_bank_get_content
    got = hma.get(f"/c/bank/{bank}/content/1")
    assert got.status_code == 200
    body = got.json()
    assert body["id"] == 1
    assert body["disable_until_ts"] == 1
    assert body["bank"] == {"name": bank, "matching_enabled_ratio": 1.0}
    assert "signals" not in body
    with_signals = hma.get(f"/c/bank/{bank}/content/1", params={"include_signals": "true"})
    assert with_signals.json()["signals"] == {"pdq": PDQ[AAA_ORIG]}

    # test_bank_get_content_signal_validation
    assert hma.get(f"/c/bank/{bank}/content/1?signal_type=video_md5").json()["signals"] == {}
    assert hma.get(f"/c/bank/{bank}/content/1?signal_type=pdq").json()["signals"] == {
        "pdq": PDQ[AAA_ORIG]
    }
    invalid = hma.get(f"/c/bank/{bank}/content/1?signal_type=invalid")
    assert invalid.status_code == 400
    assert "No such signal type" in invalid.json()["message"]

    # test_bank_update_content and its 400
    until = int((datetime.now() + timedelta(days=365)).timestamp())
    updated = hma.client.put(
        f"/c/bank/{bank}/content/1", json={"disable_until_ts": until}, headers=hma.headers()
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["disable_until_ts"] == until
    too_far = hma.client.put(
        f"/c/bank/{bank}/content/1", json={"disable_until_ts": 9999999999}, headers=hma.headers()
    )
    assert too_far.status_code == 400
    # the content's takedown entries are disabled with it (not only in HMA's view)
    entries = hma.get("/v1/banks/test_bank/entries", params={"limit": 1000}).json()
    assert any(not e["enabled"] for e in entries)  # content 1's
    assert any(e["enabled"] for e in entries)  # content 2's

    # test_banks_add_metadata: unknown keys refused; content_id and json kept; a note
    url = f"{media}/img/{AAA_ORIG}"
    refused = hma.post(
        f"/c/bank/{bank}/content",
        params={"url": url, "content_type": "photo"},
        json={"metadata": {"invalid_metadata": 5}},
    )
    assert refused.status_code == 400
    kept = hma.post(
        f"/c/bank/{bank}/content",
        params={"url": url, "content_type": "photo"},
        json={
            "metadata": {"content_id": "1197433091", "json": {"asdf": {}}},
            "note": "from the moderation queue",
        },
    )
    assert kept.status_code == 200, kept.text
    third = hma.get(f"/c/bank/{bank}/content/{kept.json()['id']}").json()
    assert third["metadata"] == {"content_id": "1197433091", "json": {"asdf": {}}}
    assert third["note"] == "from the moderation queue"
    long_note = hma.post(
        f"/c/bank/{bank}/content",
        params={"url": url, "content_type": "photo"},
        json={"note": "x" * 256},
    )
    assert long_note.status_code == 400

    # test_banks_delete_content
    assert hma.client.delete(f"/c/bank/{bank}/content/2", headers=hma.headers()).json() == {
        "deleted": 1
    }
    assert hma.client.delete(f"/c/bank/{bank}/content/2", headers=hma.headers()).json() == {
        "deleted": 0
    }
    assert hma.get(f"/c/bank/{bank}/content/2").status_code == 404

    # neither url nor upload
    neither = hma.post(f"/c/bank/{bank}/content")
    assert neither.status_code == 400
    assert neither.json()["message"] == "Neither `url` nor multipart file upload was received"


def test_add_signals_then_match(hma: Service) -> None:
    """test_e2e_workflow.py and test_banks_add_hash_index."""
    create_bank(hma, "TEST_BANK")
    hashes = PdqSignal.get_examples()
    for number, pdq in enumerate(hashes, start=1):
        answer = hma.post("/c/bank/TEST_BANK/signal", json={"pdq": pdq})
        assert answer.status_code == 200
        assert answer.json() == {"id": number, "signals": {"pdq": pdq}}
    wait_indexed(hma, len(hashes))
    status = hma.get("/m/index/status?signal_type=pdq").json()
    assert status["pdq"]["present"] is True
    assert status["pdq"]["size"] == len(hashes)
    assert set(hma.get("/m/index/status").json()) == {"pdq", "video_md5"}
    assert hma.get("/m/index/status?signal_type=nope").status_code == 400

    found = hma.get(f"/m/lookup?signal_type=pdq&signal={hashes[-1]}")
    assert found.status_code == 200
    assert found.json() == {"TEST_BANK": [{"bank_content_id": 16, "distance": "0"}]}
    nothing = hma.get("/m/lookup?signal_type=pdq&signal=" + "5" * 64)
    assert nothing.status_code == 200
    assert nothing.json() == {}

    # the examples are near copies of each other: the nearest first, every one within 31
    raw = hma.get(f"/m/raw_lookup?signal_type=pdq&signal={hashes[0]}").json()["matches"]
    assert raw[0] == 1 and len(raw) == len(set(raw)) > 1
    with_distance = hma.get(
        "/m/raw_lookup",
        params={"signal_type": "pdq", "signal": hashes[0], "include_distance": "true"},
    ).json()["matches"]
    assert [m["bank_content_id"] for m in with_distance] == raw
    assert with_distance[0] == {"bank_content_id": 1, "distance": "0"}
    assert all(0 <= int(m["distance"]) <= 31 for m in with_distance)

    # bad requests, with HMA's messages
    assert hma.get("/m/raw_lookup?signal_type=pdq").json()["message"] == "signal is required"
    unknown = hma.get("/m/raw_lookup?signal_type=nope&signal=abc")
    assert unknown.status_code == 400
    assert unknown.json()["message"] == "No such SignalType 'nope'"
    assert hma.get("/m/raw_lookup?signal_type=pdq&signal=abc").status_code == 400
    assert hma.get("/m/lookup").status_code == 400


def test_bank_filters_and_disabled_content(hma: Service) -> None:
    """test_match_api.py's multi-bank fixture: the same hash in three banks."""
    pdq = PdqSignal.get_examples()[0]
    for bank in ("BANK_A", "BANK_B", "BANK_C"):
        create_bank(hma, bank)
        assert hma.post(f"/c/bank/{bank}/signal", json={"pdq": pdq}).status_code == 200
    wait_indexed(hma, 3)
    query = {"signal": pdq, "signal_type": "pdq"}

    def raw(**extra: Any) -> list[Any]:
        answer = hma.get("/m/raw_lookup", params={**query, **extra})
        assert answer.status_code == 200
        matches: list[Any] = answer.json()["matches"]
        return matches

    assert len(raw()) == 3
    assert len(raw(banks="BANK_A")) == 1
    assert len(raw(banks="BANK_A,BANK_B")) == 2
    assert raw(banks="NON_EXISTENT_BANK") == []
    for match in raw(banks="BANK_A,BANK_B", include_distance="true"):
        assert set(match) == {"bank_content_id", "distance"}

    def lookup(**extra: Any) -> dict[str, Any]:
        answer = hma.get("/m/lookup", params={**query, **extra})
        assert answer.status_code == 200
        result: dict[str, Any] = answer.json()
        return result

    assert set(lookup()) == {"BANK_A", "BANK_B", "BANK_C"}
    assert set(lookup(banks="BANK_A")) == {"BANK_A"}
    assert set(lookup(banks="BANK_A,BANK_C")) == {"BANK_A", "BANK_C"}
    assert lookup(banks="NON_EXISTENT_BANK") == {}

    # a disabled content is skipped by /m/lookup (HMA's enabled check)
    content_b = raw(banks="BANK_B")[0]
    assert (
        hma.client.put(
            f"/c/bank/BANK_B/content/{content_b}",
            json={"disable_until_ts": 0},
            headers=hma.headers(),
        ).status_code
        == 200
    )
    wait_for(lambda: "BANK_B" not in lookup(), 10, "BANK_B's content disabled")
    # a bank's ratio: 0 never matches; with a seed, a ratio decides the same way each time
    assert (
        hma.client.put(
            "/c/bank/BANK_C", json={"enabled_ratio": 0.0}, headers=hma.headers()
        ).status_code
        == 200
    )
    wait_for(lambda: "BANK_C" not in lookup(), 10, "BANK_C's ratio 0")
    assert (
        hma.client.put(
            "/c/bank/BANK_A", json={"enabled_ratio": 0.5}, headers=hma.headers()
        ).status_code
        == 200
    )
    seen = {seed: "BANK_A" in lookup(seed=seed) for seed in ("a", "b", "c", "d", "e", "f")}
    assert seen == {seed: "BANK_A" in lookup(seed=seed) for seed in seen}
    assert set(seen.values()) == {True, False}
    assert all("BANK_A" in lookup(seed=seed, bypass_coinflip="true") for seed in seen)


def test_hashing_routes(hma: Service, media: str) -> None:
    url = f"{media}/img/{AAA_ORIG}"
    assert hma.get("/h/hash", params={"url": url}).json() == {"pdq": PDQ[AAA_ORIG]}
    assert hma.get("/h/hash", params={"url": f"{media}/moved"}).json() == {"pdq": PDQ[AAA_ORIG]}
    assert hma.get("/h/hash").json()["message"] == "url is required"
    unsupported = hma.get("/h/hash", params={"url": f"{media}/text"})
    assert unsupported.status_code == 400
    assert unsupported.json()["message"].startswith("unsupported url ContentType: 'text/plain'")
    assert hma.get("/h/hash", params={"url": f"{media}/missing"}).status_code == 400
    assert hma.get("/h/hash", params={"url": "ftp://example.org/x.jpg"}).status_code == 400
    assert hma.get("/h/hash", params={"url": url, "types": "nope"}).status_code == 400
    as_video = hma.get("/h/hash", params={"url": url, "content_type": "video"}).json()
    assert set(as_video) == {"video_md5"}
    for too_big in ("/big", "/big-undeclared"):
        answer = hma.get("/h/hash", params={"url": f"{media}{too_big}"})
        assert answer.status_code == 413
        assert answer.json()["message"] == "Content too large"

    data = (REFERENCE / C_PNG).read_bytes()
    upload = hma.post("/h/hash", files={"photo": ("c.png", data, "image/png")})
    assert upload.status_code == 200
    assert upload.json() == {"pdq": PDQ[C_PNG]}
    assert hma.post("/h/hash").json()["message"] == "Missing multipart/form-data file upload"
    two = hma.post(
        "/h/hash",
        files=[("photo", ("a.png", data, "image/png")), ("video", ("b.png", data, "image/png"))],
    )
    assert two.status_code == 400
    assert two.json()["message"] == "Only one file allowed per request"
    wrong_field = hma.post("/h/hash", files={"file": ("c.png", data, "image/png")})
    assert wrong_field.status_code == 400
    assert wrong_field.json()["message"] == "no such content_type: 'file'"
    not_an_image = hma.post("/h/hash", files={"photo": ("x.jpg", b"not an image", "image/jpeg")})
    assert 400 <= not_an_image.status_code < 500


def test_lookup_by_url_and_upload(hma: Service, media: str) -> None:
    """test_api.py's test_lookup_success, with a bank to find."""
    create_bank(hma, "TEST_BANK")
    add_by_url(hma, "TEST_BANK", f"{media}/img/{AAA_ORIG}", 1)
    wait_for(
        lambda: bool(hma.get("/m/lookup", params={"url": f"{media}/img/{AAA_ORIG}"}).json()["pdq"]),
        10,
        "the new content indexed",
    )
    by_url = hma.get("/m/lookup", params={"url": f"{media}/img/{AAA_ORIG}"}).json()
    assert by_url == {"pdq": {"TEST_BANK": [{"bank_content_id": 1, "distance": "0"}]}}
    only_pdq = hma.get(
        "/m/lookup", params={"url": f"{media}/img/{AAA_ORIG}", "signal_type": "pdq"}
    ).json()
    assert only_pdq == {"TEST_BANK": [{"bank_content_id": 1, "distance": "0"}]}
    data = (REFERENCE / AAA_ORIG).read_bytes()
    posted = hma.post("/m/lookup", files={"photo": ("a.jpg", data, "image/jpeg")})
    assert posted.status_code == 200
    assert posted.json() == by_url
    # takedown's extra, where HMA's shape has room: a turned copy matches the banked photo
    turned = io.BytesIO()
    Image.open(io.BytesIO(data)).transpose(Image.Transpose.ROTATE_90).save(turned, "PNG")
    rotated = hma.post("/m/lookup", files={"photo": ("t.png", turned.getvalue(), "image/png")})
    assert list(rotated.json()["pdq"]) == ["TEST_BANK"]
    assert rotated.json()["pdq"]["TEST_BANK"][0]["bank_content_id"] == 1


def test_compare_types_and_status(hma: Service) -> None:
    """test_api.py's test_compare_hashes and test_status_response; the type lists."""
    answer = hma.post("/m/compare", json={"pdq": [SPECIMEN1, SPECIMEN2]})
    assert answer.json() == {"pdq": [True, {"distance": 9}]}
    for bad in (
        ["banana"],
        {"pdq": "banana"},
        {"pdq": []},
        {"pdq": ["banana", "banana"]},
        {"pdq": [SPECIMEN1, SPECIMEN2, SPECIMEN1]},
    ):
        assert hma.post("/m/compare", json=bad).status_code == 400, bad
    status = hma.client.get("/status")
    assert status.status_code == 200
    assert status.content == b"I-AM-ALIVE"
    assert hma.get("/c/signal_type").json() == [
        {"name": "pdq", "enabled_ratio": 1.0},
        {"name": "video_md5", "enabled_ratio": 1.0},
    ]
    assert hma.get("/c/content_type").json() == [
        {"name": "photo", "enabled": True},
        {"name": "video", "enabled": True},
    ]
    index = hma.get("/c/signal_type/index").json()
    assert set(index["pdq"]) == {
        "db_size",
        "index_size",
        "index_out_of_date",
        "newest_db_item",
        "index_built_to",
    }


def test_ids_stable_for_entries_added_elsewhere(hma: Service) -> None:
    """A hash banked through /v1 gets an HMA id at its first lookup, and keeps it."""
    pdq = PdqSignal.get_examples()[3]
    assert hma.post("/v1/banks", json={"name": "v1_bank"}).status_code == 201
    added = hma.post(
        "/v1/banks/v1_bank/entries", json={"entries": [{"signal_type": "pdq", "value": pdq}]}
    )
    assert added.status_code == 201, added.text
    create_bank(hma, "HMA_BANK")
    assert hma.post("/c/bank/HMA_BANK/signal", json={"pdq": "f" * 64}).json()["id"] == 1
    wait_indexed(hma, 2)
    first = hma.get(f"/m/raw_lookup?signal_type=pdq&signal={pdq}").json()["matches"]
    assert first == [2]
    hma.client.app.state.hma_ids.clear()  # as a fresh worker would
    assert hma.get(f"/m/raw_lookup?signal_type=pdq&signal={pdq}").json()["matches"] == first
    assert hma.get(f"/m/lookup?signal_type=pdq&signal={pdq}").json() == {
        "V1_BANK": [{"bank_content_id": 2, "distance": "0"}]
    }
    content = hma.get("/c/bank/V1_BANK/content/2", params={"include_signals": "true"}).json()
    assert content["signals"] == {"pdq": pdq}


def test_keys_and_scopes(hma: Service) -> None:
    anonymous = hma.client.get("/c/banks")
    assert anonymous.status_code == 401
    assert "message" in anonymous.json()
    lookup_key = hma.key(Scope.LOOKUP)
    as_lookup = {"X-API-Key": lookup_key}
    assert hma.client.get("/m/index/status", headers=as_lookup).status_code == 200
    refused = hma.client.post("/c/banks", json={"name": "NOPE"}, headers=as_lookup)
    assert refused.status_code == 403
    assert "message" in refused.json()


def test_mounted_under_hma_and_at_root(db_url: str, tmp_path: Path) -> None:
    with hma_service(tmp_path, db_url, hma_compat_root=False) as service:
        assert service.get("/hma/c/banks").json() == []
        assert service.post("/hma/c/banks", json={"name": "UNDER_HMA"}).status_code == 201
        assert service.get("/hma/c/banks").json()[0]["name"] == "UNDER_HMA"
        assert service.get("/c/banks").status_code == 404
        assert service.client.get("/hma/status").text == "I-AM-ALIVE"
        paths = service.client.get("/openapi.json").json()["paths"]
        assert "/hma/m/raw_lookup" in paths and "/m/raw_lookup" not in paths


def test_fetch_never_reaches_a_private_address(db_url: str, tmp_path: Path, media: str) -> None:
    with hma_service(tmp_path, db_url, hma_fetch_allow_networks=[]) as service:
        for url in (f"{media}/img/{AAA_ORIG}", "http://169.254.169.254/latest/meta-data"):
            answer = service.get("/h/hash", params={"url": url})
            assert answer.status_code == 400
            assert answer.json()["message"] == "Invalid or unsafe URL provided"


def test_allowed_hostnames_rule() -> None:
    """HMA's is_valid_url: a host or its subdomains; empty allows any; http(s) only."""
    assert hostname_allowed("https://cdn.example.org/a.jpg", [])
    assert hostname_allowed("https://example.org/a.jpg", ["example.org"])
    assert hostname_allowed("https://cdn.example.org:8443/a.jpg", ["example.org"])
    assert not hostname_allowed("https://badexample.org/a.jpg", ["example.org"])
    assert not hostname_allowed("https://example.org.evil.net/a.jpg", ["example.org"])
    assert not hostname_allowed("https://example.org:abc/a.jpg", [])
    assert not hostname_allowed("file:///etc/passwd", [])
    assert not hostname_allowed("https:///a.jpg", [])


def test_root_routes_are_the_hma_routes(tmp_path: Path) -> None:
    """With ``hma_compat_root``, every route at /h, /m, /c and /status is a /hma route's twin:
    the same endpoint and the same dependencies (so the same gate, whose rows
    tests/test_authorization_matrix.py holds for /hma)."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", hma_compat_root=True)
    app = create_app(settings)
    contexts = [
        (method, context)
        for route in app.routes
        if hasattr(route, "effective_route_contexts")
        for context in route.effective_route_contexts()
        for method in context.methods
    ]
    under = {(c.path.removeprefix("/hma"), m): c for m, c in contexts if c.path.startswith("/hma/")}
    root = {
        (c.path, m): c
        for m, c in contexts
        if c.path.split("/")[1] in ("h", "m", "c") or c.path == "/status"
    }
    assert len(root) > 20 and set(root) == set(under)
    for key, context in root.items():
        twin = under[key]
        assert context.endpoint is twin.endpoint, key
        assert [d.call for d in context.dependant.dependencies] == [
            d.call for d in twin.dependant.dependencies
        ], key


def test_exchanges(hma: Service) -> None:
    """HMA's exchange routes over takedown's exchanges: names, config, status, enabled."""
    assert hma.get("/c/exchanges").json() == []
    with hma.db.write() as session:
        create_exchange(
            session,
            ExchangeSpec(
                name="partner_feed",
                kind="hash_list",
                bank="partner_feed",
                options={"url": "https://hashes.example.org/list.csv"},
                credentials={"token": "a secret token"},
            ),
            secret=hma.client.app.state.takedown.secret,
            actor="test",
            now=datetime.now(UTC),
        )
    assert hma.get("/c/exchanges").json() == ["PARTNER_FEED"]
    config = hma.get("/c/exchange/PARTNER_FEED").json()
    assert config["name"] == "PARTNER_FEED"
    assert config["api"] == "hash_list"
    assert config["enabled"] is True
    assert config["bank"] == "PARTNER_FEED"
    assert config["credential_status"]["has_credentials"] is True
    assert "a secret token" not in str(config)
    status = hma.get("/c/exchange/PARTNER_FEED/status").json()
    assert status["success"] is False and status["last_fetch_time"] == 0  # never fetched
    assert status["fetched_items"] == 0
    off = hma.client.put("/c/exchange/PARTNER_FEED", json={"enabled": False}, headers=hma.headers())
    assert off.status_code == 200
    assert off.json()["enabled"] is False
    assert hma.get("/v1/exchanges/partner_feed").json()["enabled"] is False
    missing = hma.get("/c/exchange/NO_SUCH")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Exchange 'NO_SUCH' not found"
    # the exchange's bank is an HMA bank like any other
    assert {"name": "PARTNER_FEED", "matching_enabled_ratio": 1.0} in hma.get("/c/banks").json()


def test_exchange_apis_and_their_credentials(hma: Service) -> None:
    """HMA's exchange APIs (python-threatexchange's names) and their credentials, which serve
    every exchange of the API that has none of its own; creating and deleting an exchange the
    HMA way (as HMA's test_api.py::test_exchange_api_set_auth and its curation blueprint)."""
    tx = "fb_threatexchange"
    apis = hma.get("/c/exchanges/apis").json()
    assert {tx, "ncmec", "stop_ncii", "hash_list", "takedown"} <= set(apis)
    unset = {"supports_authentification": True, "has_set_authentification": False}
    assert hma.get(f"/c/exchanges/api/{tx}").json() == unset
    assert hma.get("/c/exchanges/api/no_such_api").status_code == 400
    create = {"bank": "TX_FEED", "api": tx, "api_json": {"privacy_group": 1234}}
    without = hma.post("/c/exchanges", json=create)
    assert without.status_code == 400 and "access token" in without.json()["message"]

    token = "123456789|" + "a1" * 16  # an app token as python-threatexchange checks it
    answer = hma.post(f"/c/exchanges/api/{tx}", json={"credential_json": {"api_token": token}})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"supports_authentification": True, "has_set_authentification": True}
    assert hma.get(f"/c/exchanges/api/{tx}").json()["has_set_authentification"] is True
    wrong = hma.post(f"/c/exchanges/api/{tx}", json={"credential_json": {"password": "x"}})
    assert wrong.status_code == 400 and "api_token" in wrong.json()["message"]

    created = hma.post("/c/exchanges", json=create)
    assert created.status_code == 201, created.text
    assert created.json() == {"message": "Created successfully"}
    assert "TX_FEED" in hma.get("/c/exchanges").json()
    config = hma.get("/c/exchange/TX_FEED").json()
    assert (config["api"], config["privacy_group"], config["enabled"]) == (tx, "1234", True)
    assert config["credential_status"]["has_credentials"] is False  # its own: none
    assert hma.post("/c/exchanges", json={**create, "bank": "lower_case"}).status_code == 400
    assert hma.post("/c/exchanges", json={**create, "api": "no_such_api"}).status_code == 400
    assert hma.post("/c/exchanges", json={"bank": "X"}).status_code == 400

    cleared = hma.post(f"/c/exchanges/api/{tx}", json={"credential_json": {}})
    assert cleared.json() == unset
    assert token not in str(hma.get("/v1/audit").json())  # audited by field name only
    with hma.db.read() as session:
        assert token not in str(session.execute(text("SELECT * FROM exchanges")).all())

    for _ in range(2):  # deleting an exchange that is gone succeeds too (as in HMA)
        deleted = hma.client.delete("/c/exchange/TX_FEED", headers=hma.headers())
        assert deleted.status_code == 200 and deleted.json() == {"message": "success"}
    assert "TX_FEED" not in hma.get("/c/exchanges").json()
