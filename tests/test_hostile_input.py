"""Hostile request bodies against the real app, on SQLite and PostgreSQL: deeply nested,
huge, wrongly typed, not UTF-8, NaN, huge numbers, duplicate keys, odd multipart, and media
of every format cut short. None may make the service answer 5xx; every refusal is a 4xx with
``{code, message}``, and each is answered within a generous time bound.

The two bugs the outside test found have their own tests: JSON nested 10,000 deep made
Python's parser raise ``RecursionError`` (500), and the first 20 bytes of a JPEG made Pillow
look up an opener it does not have (``KeyError: 'MPO'``, 500).
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from takedown.api.json_input import MAX_DEPTH, deeper_than, nesting_depth
from tests.conftest import encode, synthetic_rgb
from tests.service_support import Service, make_settings, running_service
from tests.video_factory import make_video

# Pillow warns about the damaged files these tests send on purpose
pytestmark = pytest.mark.filterwarnings("ignore:(Corrupt EXIF data|Truncated File Read)")

BODY_LIMIT = 2_000_000
ANSWER_BOUND_S = 10.0
"""Generous: each of these requests is answered in milliseconds on a quiet machine."""

FLIPS_PER_SAMPLE = 8
BANK = "hostile"
MEDIA_CODES = {
    "empty_media",
    "unsupported_media",
    "media_too_large",
    "media_too_long",
    "corrupt_media",
    "decode_timeout",
}
READ_BODY_ROUTES = (  # routes that take JSON or multipart (fields + file)
    "/v1/content",
    "/v1/lookup",
    f"/v1/banks/{BANK}/entries",
)
PATH_VALUES = {"name": BANK, "content_id": "c-1", "token": "not-a-token"}


@pytest.fixture
def hostile(db_url: str, tmp_path: Path) -> Iterator[Service]:
    settings = make_settings(tmp_path, db_url, max_upload_bytes=BODY_LIMIT)
    with running_service(settings) as service:
        assert service.post("/v1/banks", json={"name": BANK}).status_code == 201
        yield service


def send(service: Service, method: str, path: str, **kwargs: Any) -> Any:
    """One request with the admin key, answered within the bound and never with a 5xx."""
    headers = {**service.headers(), **kwargs.pop("headers", {})}
    started = time.monotonic()
    response = service.client.request(method, path, headers=headers, **kwargs)
    took = time.monotonic() - started
    where = f"{method} {path}"
    assert took < ANSWER_BOUND_S, f"{where} took {took:.1f} s"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict), (where, body)
        assert isinstance(body.get("code"), str), (where, body)
        assert isinstance(body.get("message"), str), (where, body)
    return response


def json_routes(service: Service) -> list[tuple[str, str]]:
    """Every (method, concrete path) whose OpenAPI body may be JSON."""
    routes = []
    for path, operations in service.client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                concrete = path
                for name, value in PATH_VALUES.items():
                    concrete = concrete.replace("{" + name + "}", value)
                for parameter in ("case_id", "entry_id", "webhook_id", "key_id", "user_id"):
                    concrete = concrete.replace("{" + parameter + "}", "1")
                routes.append((method.upper(), concrete))
    assert len(routes) >= 15, routes
    return routes


def fields_for(path: str, content_id: str) -> dict[str, str]:
    """The form fields a media upload to ``path`` needs besides the file."""
    return {"content_id": content_id} if path == "/v1/content" else {}


def nested_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


# --- the two bugs found -------------------------------------------------------------------


def test_json_nested_ten_thousand_deep_is_400_too_deep(hostile: Service) -> None:
    deep_bodies = {
        "list": nested_list(10_000),
        "object": nested_object(10_000),
        "in a field": '{"content_id": "c-1", "signals": ' + nested_list(10_000) + "}",
        "a hundred thousand": nested_list(100_000),
    }
    routes = [("POST", path) for path in READ_BODY_ROUTES] + json_routes(hostile)
    for method, path in routes:
        for shape, body in deep_bodies.items():
            for content_type in ("application/json", None):
                headers = {"content-type": content_type} if content_type else {}
                answer = send(hostile, method, path, content=body.encode(), headers=headers)
                assert answer.status_code == 400, (method, path, shape, answer.text[:200])
                assert answer.json()["code"] == "too_deep", (method, path, shape)
    # a multipart form's JSON field is parsed by the same rule
    for path in READ_BODY_ROUTES[:2]:
        answer = send(
            hostile,
            "POST",
            path,
            data={**fields_for(path, "c-1"), "signals": nested_list(10_000)},
            files={"file": ("x.jpg", b"\xff\xd8\xff", "image/jpeg")},
        )
        assert (answer.status_code, answer.json()["code"]) == (400, "too_deep"), answer.text


def test_the_depth_scan_counts_structure_only() -> None:
    assert nesting_depth(b'{"a": [1, {"b": []}]}') == 4
    assert nesting_depth(b'{"a": "[[[[{{{{"}') == 1  # brackets in a string are text
    assert nesting_depth(b'{"a": "\\"[[[["}') == 1  # an escaped quote does not end it
    assert nesting_depth(b'{"a": "\\\\", "b": [[]]}') == 3  # an escaped backslash does
    assert not deeper_than(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    assert deeper_than(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))


def test_the_depth_scan_takes_linear_time() -> None:
    # inputs that make a backtracking string pattern quadratic; each is 2 MB
    for raw in (b'"' + b'\\"' * 1_000_000, b'"' * 2_000_000, b"[" * 2_000_000, b"\\" * 1_000_000):
        started = time.monotonic()
        deeper_than(raw)
        assert time.monotonic() - started < ANSWER_BOUND_S


def test_json_as_deep_as_allowed_still_works(hostile: Service) -> None:
    # 32 levels is accepted by the parser (the model then says what is wrong with it)
    answer = send(hostile, "POST", "/v1/lookup", content=f'{{"signals": {nested_list(31)}}}')
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_field"
    # brackets inside strings are not nesting
    signal = {"type": "pdq", "value": "[" * 5000}
    answer = send(hostile, "POST", "/v1/lookup", json={"signals": [signal]})
    assert answer.json()["code"] != "too_deep", answer.text


def test_the_first_20_bytes_of_a_jpeg_are_corrupt_media(
    hostile: Service, photo_paths: list[Path]
) -> None:
    head = photo_paths[0].read_bytes()[:20]
    for path in READ_BODY_ROUTES:
        answer = send(
            hostile,
            "POST",
            path,
            data=fields_for(path, "c-jpeg"),
            files={"file": ("photo.jpg", head, "image/jpeg")},
        )
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["code"] == "corrupt_media", (path, answer.text)


# --- the corpus: JSON ---------------------------------------------------------------------


JSON_CORPUS: dict[str, bytes] = {
    "NaN": b'{"content_id": "c-1", "signals": [], "posted_at": NaN}',
    "Infinity": b'{"content_id": Infinity}',
    "overflowing float": b'{"content_id": "c-1", "posted_at": 1e999}',
    "huge integer": b'{"content_id": ' + b"9" * 5000 + b"}",
    "integer past Python's limit": b'{"content_id": "c-1", "posted_at": ' + b"9" * 4301 + b"}",
    "duplicate keys": b'{"content_id": "c-1", "content_id": "c-2", "signals": [], "signals": 1}',
    "invalid UTF-8": b'{"content_id": "\xff\xfe\xfd"}',
    "lone surrogate": b'{"content_id": "c-1", "url": "\\ud800", "name": "\\udfff"}',
    "NUL character": b'{"content_id": "a\\u0000b", "name": "a\\u0000b", "url": "\\u0000"}',
    "empty": b"",
    "whitespace": b"   \n",
    "not JSON": b"content_id=c-1",
    "truncated": b'{"content_id": "c-1", "signals": [{"type": "pdq"',
    "array": b"[]",
    "string": b'"c-1"',
    "null": b"null",
    "number": b"12",
    "wrong types": b'{"content_id": ["c"], "signals": {"a": 1}, "name": 5, "url": false}',
    "negative and huge ids": b'{"content_id": "-1", "report_id": -99999999999999999999}',
}


HEAVY_JSON_CORPUS: dict[str, bytes] = {
    "a hundred thousand keys": (b"{" + b",".join(b'"k%d": 1' % i for i in range(100_000)) + b"}"),
    "a hundred thousand signals": (
        b'{"content_id": "c-1", "signals": ['
        + b",".join([b'{"type": "md5", "value": "x"}'] * 100_000)
        + b"]}"
    ),
    "long string": b'{"content_id": "' + b"a" * 1_500_000 + b'"}',
}


def test_odd_json_bodies_are_refused_with_4xx(hostile: Service) -> None:
    routes = [("POST", path) for path in READ_BODY_ROUTES] + json_routes(hostile)
    for method, path in routes:
        for body in JSON_CORPUS.values():
            send(hostile, method, path, content=body, headers={"content-type": "application/json"})
    # the big ones (a second each) to the routes that read their own body and two others
    for method, path in [("POST", p) for p in READ_BODY_ROUTES] + routes[-2:]:
        for body in HEAVY_JSON_CORPUS.values():
            send(hostile, method, path, content=body, headers={"content-type": "application/json"})


def test_what_the_json_parser_refuses(hostile: Service) -> None:
    """The routes that parse their own body say what is wrong (400 bad_request)."""
    refused = (
        "NaN",
        "Infinity",
        "overflowing float",
        "huge integer",
        "integer past Python's limit",
        "invalid UTF-8",
        "not JSON",
        "truncated",
    )
    for path in READ_BODY_ROUTES:
        for name in refused:
            answer = send(hostile, "POST", path, content=JSON_CORPUS[name])
            assert (answer.status_code, answer.json()["code"]) == (400, "bad_request"), (
                path,
                name,
                answer.text[:200],
            )


def test_huge_bodies_are_413(hostile: Service) -> None:
    huge = b'{"content_id": "' + b"a" * BODY_LIMIT + b'"}'

    def chunked() -> Iterator[bytes]:
        for start in range(0, len(huge), 65536):
            yield huge[start : start + 65536]

    for method, path in [("POST", p) for p in READ_BODY_ROUTES] + json_routes(hostile)[:6]:
        declared = send(hostile, method, path, content=huge)
        assert (declared.status_code, declared.json()["code"]) == (413, "payload_too_large")
        streamed = send(hostile, method, path, content=chunked())
        assert streamed.status_code == 413, (path, streamed.text[:200])


def test_wrong_content_types(hostile: Service) -> None:
    body = b'{"content_id": "c-1", "signals": []}'
    types = (
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data",  # no boundary
        "multipart/form-data; boundary=",
        "application/json; charset=utf-16",
        "image/jpeg",
        "*/*",
        b"\xe9/\xe9",
    )
    for method, path in [("POST", p) for p in READ_BODY_ROUTES] + json_routes(hostile):
        for content_type in types:
            send(hostile, method, path, content=body, headers={"content-type": content_type})
    for path in READ_BODY_ROUTES:
        answer = send(hostile, "POST", path, content=body, headers={"content-type": "text/plain"})
        assert (answer.status_code, answer.json()["code"]) == (415, "unsupported_media_type")


# --- the corpus: multipart and media ------------------------------------------------------


def multipart(parts: list[tuple[str, bytes, str | None]], boundary: str = "b0und") -> bytes:
    """A multipart body written by hand, so that it can be as odd as wanted."""
    out = io.BytesIO()
    for name, value, filename in parts:
        out.write(f"--{boundary}\r\n".encode())
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out.write(f"Content-Disposition: {disposition}\r\n\r\n".encode())
        out.write(value + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


def test_odd_multipart_bodies(hostile: Service) -> None:
    jpeg = encode(synthetic_rgb(3), "JPEG")
    ct = {"content-type": "multipart/form-data; boundary=b0und"}
    bodies = {
        "no parts": multipart([]),
        "empty body": b"",
        "no closing boundary": multipart([("content_id", b"c-1", None)])[:-10],
        "other boundary": multipart([("content_id", b"c-1", None)], boundary="other"),
        "a thousand fields": multipart([(f"f{i}", b"x", None) for i in range(1000)]),
        "a thousand files": multipart([("file", b"x", f"{i}.jpg") for i in range(1000)]),
        "two files": multipart([("file", jpeg, "a.jpg"), ("file", jpeg, "b.jpg")]),
        "file under another name": multipart([("photo", jpeg, "a.jpg")]),
        "zero-length file": multipart([("content_id", b"c-0", None), ("file", b"", "a.jpg")]),
        "signals not JSON": multipart([("content_id", b"c-1", None), ("signals", b"[", None)]),
        "signals NaN": multipart([("content_id", b"c-1", None), ("signals", b"[NaN]", None)]),
        "field not UTF-8": multipart([("content_id", b"\xff\xfe", None)]),
        "a field name not UTF-8": multipart([("c", b"x", None)]).replace(b'"c"', b'"\xff"'),
        "unclosed header": b"--b0und\r\nContent-Disposition: form-data; name=",
        "garbage": b"\x00" * 1000,
    }
    paths = [*READ_BODY_ROUTES, f"/v1/banks/{BANK}/import", "/v1/reports"]
    for path in paths:
        for name, body in bodies.items():
            answer = send(hostile, "POST", path, content=body, headers=ct)
            assert answer.status_code != 201 or name in {"two files"}, (path, name, answer.text)
    for path in READ_BODY_ROUTES:
        fields = [(name, value.encode(), None) for name, value in fields_for(path, "c-0").items()]
        answer = send(
            hostile,
            "POST",
            path,
            content=multipart([*fields, ("file", b"", "a.jpg")]),
            headers=ct,
        )
        assert (answer.status_code, answer.json()["code"]) == (422, "empty_media"), answer.text


def media_samples(shared_data: Path, tmp_path: Path) -> dict[str, bytes]:
    """One file of each format in the shared data, and one of each other format takedown
    reads, made here."""
    samples = {
        "jpeg (shared)": sorted((shared_data / "photos").glob("*.jpg"))[0].read_bytes(),
        "png (shared)": (
            shared_data / "reference/pdq/images/reg-test-input/pen-and-coaster.png"
        ).read_bytes(),
        "mp4 (shared)": (shared_data / "videos/carphone_distorted.mp4").read_bytes(),
        "m4v (shared)": (shared_data / "videos/rgb.m4v").read_bytes(),
        "mov (shared)": (shared_data / "videos/v2s.mov").read_bytes(),
    }
    rgb = synthetic_rgb(5)
    for fmt, params in (
        ("JPEG", {"progressive": True}),
        ("WEBP", {}),
        ("GIF", {}),
        ("BMP", {}),
        ("TIFF", {}),
        ("HEIF", {}),
        ("AVIF", {}),
    ):
        if fmt == "HEIF":
            import pillow_heif

            pillow_heif.register_heif_opener()
        samples[fmt.lower()] = encode(rgb, fmt, **params)
    frames = [Image.fromarray(synthetic_rgb(i, (64, 48))) for i in range(3)]
    animated = io.BytesIO()
    frames[0].save(animated, format="GIF", save_all=True, append_images=frames[1:])
    samples["animated gif"] = animated.getvalue()
    for container, codec in (("webm", "libvpx-vp9"), ("avi", "mpeg4"), ("matroska", "h264")):
        samples[container] = make_video(
            tmp_path / f"v.{container}", container=container, codec=codec, seconds=1
        )
    return samples


def prefixes(size: int) -> list[int]:
    """Lengths to cut a file to: inside the magic number, the header, the first frame, and
    just short of the end."""
    return sorted({n for n in (1, 3, 4, 12, 20, 64, 512, 4096, size // 2, size - 1) if n < size})


def test_media_of_every_format_cut_short(
    hostile: Service, shared_data: Path, tmp_path: Path
) -> None:
    samples = media_samples(shared_data, tmp_path)
    for name, data in samples.items():
        whole = send(hostile, "POST", "/v1/lookup", files={"file": ("m", data)})
        assert whole.status_code == 200, (name, whole.text)
        for n in prefixes(len(data)):
            answer = send(hostile, "POST", "/v1/lookup", files={"file": ("m", data[:n])})
            if answer.status_code != 200:  # a video cut late may still hash its frames
                assert answer.json()["code"] in MEDIA_CODES, (name, n, answer.text)
        # the routes that store: content (evidence for a match) and bank entries
        for n in (20, len(data) // 2):
            send(
                hostile,
                "POST",
                "/v1/content",
                data={"content_id": f"cut-{len(data)}-{n}"},
                files={"file": ("m", data[:n])},
            )
            send(hostile, "POST", f"/v1/banks/{BANK}/entries", files={"file": ("m", data[:n])})


def test_media_with_flipped_bits(hostile: Service, shared_data: Path, tmp_path: Path) -> None:
    rng = random.Random(13)
    for name, data in media_samples(shared_data, tmp_path).items():
        for _ in range(FLIPS_PER_SAMPLE):
            damaged = bytearray(data)
            for _ in range(3):
                damaged[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            answer = send(hostile, "POST", "/v1/lookup", files={"file": ("m", bytes(damaged))})
            if answer.status_code != 200:
                assert answer.json()["code"] in MEDIA_CODES, (name, answer.text)


def test_a_video_cut_before_its_codec_is_described(hostile: Service, shared_data: Path) -> None:
    """FFmpeg then sees a video track without a decoder: it was read as ``None.width`` (500)."""
    for video in sorted((shared_data / "videos").iterdir()):
        data = video.read_bytes()
        cut = data[: data.find(b"minf")]  # the track's media information box, codec inside
        answer = send(hostile, "POST", "/v1/lookup", files={"file": (video.name, cut)})
        assert (answer.status_code, answer.json()["code"]) == (422, "corrupt_media"), answer.text


def test_a_damaged_avif_is_corrupt_media(hostile: Service) -> None:
    """libavif reports damage as ``RuntimeError``, which was not read as damage (500)."""
    avif = encode(synthetic_rgb(5), "AVIF")
    image_data = avif.find(b"mdat") + 8
    damaged = {
        "no item locations": avif.replace(b"iloc", b"xxxx", 1),
        "no pixels": avif[:image_data] + bytes(len(avif) - image_data),
    }
    for name, data in damaged.items():
        answer = send(hostile, "POST", "/v1/lookup", files={"file": ("a.avif", data)})
        assert (answer.status_code, answer.json()["code"]) == (422, "corrupt_media"), name


def test_a_decompression_bomb_is_refused_quickly(hostile: Service) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1_000_000, 9))
        + chunk(b"IEND", b"")
    )
    for path in READ_BODY_ROUTES:
        answer = send(
            hostile, "POST", path, data=fields_for(path, "bomb"), files={"file": ("b", bomb)}
        )
        assert (answer.status_code, answer.json()["code"]) == (413, "media_too_large"), answer.text
