"""A local stand-in for the DSA Transparency Database API (``POST /api/v1/statements``): bearer
token, batches of at most 100, required fields and allowed values checked, all-or-nothing with
a 422 listing errors per statement."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.http_servers import QuietHandler, serving

REQUIRED = (
    "decision_visibility",
    "decision_ground",
    "category",
    "content_type",
    "territorial_scope",
    "content_date",
    "application_date",
    "decision_facts",
    "source_type",
    "automated_detection",
    "automated_decision",
    "puid",
)
CATEGORIES = {
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
    "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
    "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
}
GROUNDS = {"DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"}
SOURCES = {"SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_VOLUNTARY"}


@dataclass
class FakeDsa:
    token: str = "dsa-token"
    stored: list[dict[str, Any]] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)
    url: str = ""

    def problems(self, statement: dict[str, Any]) -> list[str]:
        found = [f"{name} is required" for name in REQUIRED if not statement.get(name)]
        if statement.get("category") not in CATEGORIES:
            found.append("category is not allowed")
        if statement.get("decision_ground") not in GROUNDS:
            found.append("decision_ground is not allowed")
        if statement.get("source_type") not in SOURCES:
            found.append("source_type is not allowed")
        if statement.get(
            "decision_ground"
        ) == "DECISION_GROUND_ILLEGAL_CONTENT" and not statement.get(
            "illegal_content_legal_ground"
        ):
            found.append("illegal_content_legal_ground is required for illegal content")
        if any(s.get("puid") == statement.get("puid") for s in self.stored):
            found.append("puid already used")
        return found

    @contextmanager
    def running(self) -> Iterator[FakeDsa]:
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    self._answer(401, {"message": "Unauthenticated."})
                    return
                statements = json.loads(body).get("statements", [])
                if not 1 <= len(statements) <= 100:
                    self._answer(422, {"message": "1 to 100 statements per call"})
                    return
                errors = {i: p for i, s in enumerate(statements) if (p := fake.problems(s))}
                if errors:
                    self._answer(422, {"message": "invalid", "errors": errors})
                    return
                fake.stored.extend(statements)
                fake.batches.append(len(statements))
                self._answer(201, {"statements": statements})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        with serving(Handler) as base:
            self.url = base + ""
            yield self
