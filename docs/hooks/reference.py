"""MkDocs hook: the reference pages (HTTP API, CLI, configuration keys, case policy) are made
from the code at build time, so they cannot drift from what the service does.

Each page is added to the build as a generated file (nothing is written into ``docs/``);
``make docs`` builds with ``--strict``, so a broken link or a page missing from the
navigation fails the build."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import typer
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from takedown.api.app import create_app
from takedown.cli.main import app as cli_app
from takedown.config import Settings

POLICY = Path(__file__).resolve().parents[2] / "src/takedown/cases/default_policy.toml"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    pages = {
        "reference/api.md": api_page(),
        "reference/cli.md": cli_page(),
        "reference/configuration.md": configuration_page(),
        "reference/policy.md": policy_page(),
        "reference/openapi.json": json.dumps(openapi(), indent=2),
    }
    for uri, content in pages.items():
        files.append(File.generated(config, uri, content=content))
    return files


def openapi() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), background_worker=False)
        return create_app(settings).openapi()


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def api_page() -> str:
    schema = openapi()
    lines = [
        "# HTTP API",
        "",
        "Generated from the service's OpenAPI document at build time "
        "([openapi.json](openapi.json); a running service serves it at `/openapi.json` and "
        "an interactive explorer at `/docs`). Platform routes take `Authorization: Bearer KEY` "
        "or `X-API-Key: KEY`; the scope each needs is in its description.",
        "",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            tag = (operation.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append((method.upper(), path, operation))
    for tag in sorted(by_tag):
        lines += [f"## {tag}", ""]
        for method, path, operation in by_tag[tag]:
            lines += [f"### `{method} {path}`", ""]
            summary = operation.get("summary", "")
            description = operation.get("description", "")
            if summary:
                lines += [summary, ""]
            if description and description != summary:
                lines += [description.strip(), ""]
            parameters = operation.get("parameters", [])
            if parameters:
                lines += ["| parameter | in | required | description |", "|---|---|---|---|"]
                for parameter in parameters:
                    lines.append(
                        f"| `{parameter['name']}` | {parameter['in']} | "
                        f"{'yes' if parameter.get('required') else 'no'} | "
                        f"{_cell(parameter.get('description', ''))} |"
                    )
                lines.append("")
            body = operation.get("requestBody", {}).get("content", {})
            if body:
                lines += [f"Request body: {', '.join(f'`{kind}`' for kind in body)}", ""]
            responses = operation.get("responses", {})
            if responses:
                lines += ["| status | meaning |", "|---|---|"]
                for status, response in responses.items():
                    lines.append(f"| {status} | {_cell(response.get('description', ''))} |")
                lines.append("")
    return "\n".join(lines)


def _commands(group: click.Command, prefix: str) -> Iterator[tuple[str, click.Command]]:
    yield prefix, group
    # duck-typed: the CLI's lazily loading group is not a click.Group subclass
    list_commands = getattr(group, "list_commands", None)
    get_command = getattr(group, "get_command", None)
    if list_commands is not None and get_command is not None:
        context = click.Context(group, info_name=prefix)
        for name in list_commands(context):
            command = get_command(context, name)
            if command is not None and not command.hidden:
                yield from _commands(command, f"{prefix} {name}")


def cli_page() -> str:
    root = typer.main.get_command(cli_app)
    lines = [
        "# Command line",
        "",
        "Generated from the `takedown` command's own help at build time: what "
        "`takedown COMMAND --help` prints.",
        "",
    ]
    for name, command in _commands(root, "takedown"):
        # plain click help: typer's rich help prints to the terminal instead of returning
        command.rich_markup_mode = None  # type: ignore[attr-defined]
        context = click.Context(command, info_name=name, terminal_width=100)
        lines += [f"## `{name}`", "", "```text", command.get_help(context), "```", ""]
    return "\n".join(lines)


def configuration_page() -> str:
    lines = [
        "# Configuration",
        "",
        "Generated from `takedown.config.Settings` at build time. Keys are read from "
        "`takedown.toml` in the working directory (or the file named by `TAKEDOWN_CONFIG`), "
        "overlaid by `TAKEDOWN_*` environment variables (lists as JSON).",
        "",
        "| key | environment | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "empty" if default in ("", None, [], ()) else f"`{_cell(str(default))}`"
        if isinstance(default, tuple | list) and len(default) > 4:
            shown = f"{len(default)} entries (see the source)"
        lines.append(
            f"| `{name}` | `TAKEDOWN_{name.upper()}` | {shown} | {_cell(field.description or '')} |"
        )
    return "\n".join(lines) + "\n"


def policy_page() -> str:
    return "\n".join(
        [
            "# Case policy",
            "",
            "The packaged default policy (triage, deadline clocks, copy thresholds, appeals, "
            "URL patterns). Copy it, change it, and name your file with the `policy_file` "
            "setting; a key you leave out keeps this default.",
            "",
            "```toml",
            POLICY.read_text().rstrip(),
            "```",
            "",
        ]
    )
