"""The documentation site: its reference pages are generated from the code (every setting, CLI
command and route appears, each setting with its meaning), the README's links point at pages
that exist, and every benchmark result has a place to be pasted. ``make docs`` (CI) builds the
site itself with warnings as errors."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from takedown.config import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docs_reference", ROOT / "docs/hooks/reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_reference"] = module
    spec.loader.exec_module(module)
    return module


def test_every_setting_is_in_the_configuration_reference(hook: ModuleType) -> None:
    page = hook.configuration_page()
    undocumented = [
        n for n, f in Settings.model_fields.items() if not (f.description or "").strip()
    ]
    assert undocumented == [], "give these settings a description"
    missing = [name for name in Settings.model_fields if f"| `{name}` |" not in page]
    assert missing == []


def test_every_command_is_in_the_cli_reference(hook: ModuleType) -> None:
    import typer

    from takedown.cli.main import app

    page = hook.cli_page()
    names = [name for name, _ in hook._commands(typer.main.get_command(app), "takedown")]
    assert {
        "takedown hash",
        "takedown serve",
        "takedown exchange add",
        "takedown vault status",
    } <= set(names)
    assert [n for n in names if f"## `{n}`" not in page] == []


def test_every_route_is_in_the_api_reference(hook: ModuleType) -> None:
    schema = hook.openapi()
    page = hook.api_page()
    missing = [
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method in operations
        if f"### `{method.upper()} {path}`" not in page
    ]
    assert missing == []
    assert "/v1/content" in schema["paths"] and "/v1/exchanges" in schema["paths"]


def test_the_readme_links_to_pages_that_exist() -> None:
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)#]+)\)", text)
    assert links, "the README points into docs/"
    assert [link for link in links if not (ROOT / link).is_file()] == []
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert [page for page in pages if page not in nav] == [], "every page is in mkdocs.yml's nav"


def test_every_benchmark_result_has_a_place_in_the_docs() -> None:
    texts = "".join(p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
    names = [p.stem for p in (ROOT / "benchmarks/results").glob("*.md")]
    assert names
    assert [n for n in names if f"<!-- bench:{n} -->" not in texts] == []
