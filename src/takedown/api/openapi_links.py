"""OpenAPI links: how the answer of one operation feeds the next.

They tell a platform's developer where an id in an answer is used (a report's status token,
a bank's name), and they let the stateful hostile-input test chain real calls (create a bank,
then add entries to it) instead of guessing ids that do not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Link:
    """``source`` (a path and method) answering ``status`` feeds ``parameter`` of ``target``
    with the value at ``expression`` (an OpenAPI runtime expression)."""

    name: str
    source: tuple[str, str, str]
    target: tuple[str, str]
    parameter: str
    expression: str
    description: str


LINKS = (
    Link(
        "ReportStatus",
        ("/v1/reports", "post", "201"),
        ("/v1/reports/status/{token}", "get"),
        "token",
        "$response.body#/status_token",
        "The reporter's status page for this report.",
    ),
    Link(
        "ReportReply",
        ("/v1/reports", "post", "201"),
        ("/v1/reports/status/{token}/reply", "post"),
        "token",
        "$response.body#/status_token",
        "The reporter answers a reviewer's question to this report.",
    ),
    Link(
        "ReportAppeal",
        ("/v1/reports", "post", "201"),
        ("/v1/reports/status/{token}/appeal", "post"),
        "token",
        "$response.body#/status_token",
        "The reporter appeals a dismissal of this report.",
    ),
    Link(
        "ReportCase",
        ("/v1/reports", "post", "201"),
        ("/v1/cases/{case_id}", "get"),
        "case_id",
        "$response.body#/case_id",
        "The case this report joined or opened.",
    ),
    Link(
        "Content",
        ("/v1/content", "post", "201"),
        ("/v1/content/{content_id}", "get"),
        "content_id",
        "$response.body#/content_id",
        "The registered content.",
    ),
    Link(
        "ContentPatch",
        ("/v1/content", "post", "201"),
        ("/v1/content/{content_id}", "patch"),
        "content_id",
        "$response.body#/content_id",
        "Tell of a deletion or an edit of the registered content.",
    ),
    Link(
        "Bank",
        ("/v1/banks", "post", "201"),
        ("/v1/banks/{name}", "get"),
        "name",
        "$response.body#/name",
        "The new bank.",
    ),
    Link(
        "BankEntries",
        ("/v1/banks", "post", "201"),
        ("/v1/banks/{name}/entries", "post"),
        "name",
        "$response.body#/name",
        "Add entries to the new bank.",
    ),
    Link(
        "BankImport",
        ("/v1/banks", "post", "201"),
        ("/v1/banks/{name}/import", "post"),
        "name",
        "$response.body#/name",
        "Import a hash list into the new bank.",
    ),
)


def _pointer(path: str, method: str) -> str:
    escaped = path.replace("~", "~0").replace("/", "~1")
    return f"#/paths/{escaped}/{method}"


def add_links(schema: dict[str, Any], links: tuple[Link, ...] = LINKS) -> None:
    """Add ``links`` to the responses of ``schema`` whose source and target both exist (a
    route left out of a build is no reason to publish a dangling link)."""
    paths = schema.get("paths", {})
    for link in links:
        path, method, status = link.source
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        target_path, target_method = link.target
        if response is None or target_method not in paths.get(target_path, {}):
            continue
        response.setdefault("links", {})[link.name] = {
            "operationRef": _pointer(target_path, target_method),
            "parameters": {link.parameter: link.expression},
            "description": link.description,
        }
