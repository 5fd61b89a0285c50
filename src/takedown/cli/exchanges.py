"""``takedown exchange add|list|fetch|remove``: hash-sharing exchanges, on the database
directly (like ``keys`` and ``users``). Credentials come from the environment or a hidden
prompt, never from the command line (shell history, ``ps``), and are never printed."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from takedown import exchanges
from takedown.actions.addresses import Networks
from takedown.cases.policy import load_policy
from takedown.cli.output import stderr, stdout
from takedown.cli.service import _settings, open_database
from takedown.service import exchange_fetch
from takedown.service import exchanges as exchange_service
from takedown.web.session import secret_key

exchange_app = typer.Typer(
    help="Hash-sharing exchanges (NCMEC, StopNCII, hash lists, other takedowns) that fill banks.",
    no_args_is_help=True,
)

ENV_PREFIX = "TAKEDOWN_EXCHANGE_"
_COLUMNS = (
    "name",
    "kind",
    "bank",
    "state",
    "last_success",
    "entries",
    "added",
    "removed",
    "last_error",
)


def _now() -> datetime:
    return datetime.now(UTC)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            stderr().print(f"[red]{what} {escape(value)!r} is not KEY=VALUE[/red]")
            raise typer.Exit(2)
        pairs[key.strip()] = text
    return pairs


def _credential(field: str) -> str:
    """From TAKEDOWN_EXCHANGE_<FIELD>, else a hidden prompt."""
    from_env = os.environ.get(ENV_PREFIX + field.upper())
    if from_env is not None:
        return from_env
    return str(typer.prompt(f"{field}", hide_input=True))


@exchange_app.command("add")
def add(
    name: Annotated[
        str, typer.Argument(help="A name for the exchange (lowercase, digits, _ . -).")
    ],
    kind: Annotated[str, typer.Option("--kind", help="The exchange's kind (see --help-kinds).")],
    bank: Annotated[str, typer.Option("--bank", help="The bank it fills (created if absent).")],
    action: Annotated[
        str | None,
        typer.Option(help="The bank's action: block or hold (new bank: block; else kept)."),
    ] = None,
    threshold: Annotated[
        int | None, typer.Option(min=0, max=128, help="The bank's PDQ threshold.")
    ] = None,
    option: Annotated[
        list[str], typer.Option("--option", "-o", help="KEY=VALUE option (e.g. url=...); repeat.")
    ] = [],  # noqa: B006 - typer reads the default, it is never mutated
    credential: Annotated[
        list[str],
        typer.Option(
            "--credential",
            "-c",
            help=f"A credential field to set (value from {ENV_PREFIX}<FIELD> or a hidden prompt).",
        ),
    ] = [],  # noqa: B006
    schedule: Annotated[int, typer.Option(help="Seconds between fetches.")] = 3600,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it without fetching.")] = False,
    allow_protected_bank: Annotated[
        bool,
        typer.Option(
            "--allow-protected-bank",
            help="Let it fill a bank that routes cases (confirmed-*, watch, child-abuse).",
        ),
    ] = False,
) -> None:
    """Add an exchange and the bank it fills; `takedown exchange fetch NAME` fetches it now."""
    try:
        known = exchanges.kind_named(kind)
    except KeyError as exc:
        stderr().print(f"[red]{escape(str(exc.args[0]))}[/red]")
        raise typer.Exit(2) from None
    unknown = [f for f in credential if f not in known.credential_fields]
    if unknown:
        fields = ", ".join(known.credential_fields) or "none"
        stderr().print(
            f"[red]unknown credential field(s) {escape(', '.join(unknown))}[/red] "
            f"for kind {escape(kind)}; fields: {escape(fields)}"
        )
        raise typer.Exit(2)
    spec = exchange_service.ExchangeSpec(
        name=name,
        kind=kind,
        bank=bank,
        action=action,
        threshold=threshold,
        options=_pairs(option, "option"),
        credentials={field: _credential(field) for field in credential},
        schedule_s=schedule,
        enabled=not disabled,
        allow_protected_bank=allow_protected_bank,
    )
    settings = _settings()
    policy = load_policy(settings.policy_file)
    db = open_database(settings)
    try:
        with db.write() as session:
            exchange_service.create_exchange(
                session,
                spec,
                secret=secret_key(settings.secret_key, settings.home),
                actor="cli",
                now=_now(),
                networks=Networks.from_settings(settings),
                rights=exchange_service.BankRights(
                    may_write_banks=True,  # the operator holds the server
                    protected=exchange_service.protected_banks(
                        policy.watch_bank, policy.child_abuse_banks
                    ),
                ),
            )
    except exchange_service.ExchangeConfigError as exc:
        stderr().print(f"[red]{escape(exc.code)}[/red]: {escape(str(exc))}")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    stdout().print(f"added exchange {escape(name)} ({escape(kind)}) filling bank {escape(bank)}")
    stderr().print(f"next: takedown exchange fetch {escape(name)}")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "never"


@exchange_app.command("list")
def list_() -> None:
    """The exchanges, tab-separated: state, last success, entries (enabled/all), entries
    added and withdrawn, last error (never credentials)."""
    settings = _settings()
    db = open_database(settings)
    try:
        with db.read() as session:
            views = exchange_service.views(session)
    finally:
        db.dispose()
    out = stdout()
    out.print("\t".join(_COLUMNS))
    for v in views:
        row = (
            v.name,
            v.kind,
            f"{v.bank} ({v.action})",
            v.state if v.enabled else "disabled",
            _when(v.last_success_at),
            f"{v.enabled_entries}/{v.entries}",
            str(v.entries_added),
            str(v.entries_removed),
            v.last_error or "-",
        )
        out.print(escape("\t".join(row)))


_WHAT_NEXT = {
    "stopped": "the exchange refused the credentials: set new ones "
    "(PUT /v1/exchanges/NAME/credentials or the console) and fetch again",
    "failed": "it is retried automatically after the back-off; the checkpoint is kept, "
    "so the next fetch resumes where this one stopped",
    "busy": "another fetch of this exchange is running (the worker?); wait for it",
}


@exchange_app.command("fetch")
def fetch(name: Annotated[str, typer.Argument(help="The exchange's name.")]) -> None:
    """Fetch now, from the stored checkpoint, with a progress bar."""
    settings = _settings()
    db = open_database(settings)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} entries, {task.fields[pages]} pages"),
        TimeElapsedColumn(),
        console=stderr(),
        transient=False,
    )
    try:
        with progress:
            task = progress.add_task(f"fetching {escape(name)}", total=None, pages=0)

            def advance(entries: int, pages: int) -> None:
                progress.update(task, completed=entries, pages=pages)

            result = exchange_fetch.fetch_exchange(
                db,
                name,
                secret=secret_key(settings.secret_key, settings.home),
                progress=advance,
                force=True,
                networks=Networks.from_settings(settings),
            )
            progress.update(task, total=max(1, progress.tasks[0].completed))
    except KeyError:
        stderr().print(f"[red]no exchange named {escape(name)}[/red]; see takedown exchange list")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    stdout().print(
        f"{escape(name)}: {result.status}: {result.pages} pages, {result.added} added, "
        f"{result.removed} removed, {result.updated} updated"
    )
    if result.status != "done":
        what_next = _WHAT_NEXT.get(result.status, "")
        stderr().print(f"[red]{escape(result.error or result.status)}[/red]: {what_next}")
        raise typer.Exit(1)


@exchange_app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="The exchange's name.")]) -> None:
    """Stop fetching and forget the exchange; the entries it brought stay in its bank."""
    settings = _settings()
    db = open_database(settings)
    try:
        with db.write() as session:
            row = exchange_service.get_exchange(session, name)
            if row.lease_until is not None and row.lease_until > _now():
                stderr().print(f"[red]a fetch of {escape(name)} is running[/red]; try again later")
                raise typer.Exit(1)
            kept = exchange_service.remove_exchange(session, row, actor="cli")
    except exchange_service.ExchangeConfigError as exc:
        stderr().print(f"[red]{escape(str(exc))}[/red]; see takedown exchange list")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    stdout().print(
        f"removed exchange {escape(name)}; its {kept} entries stay in the bank "
        "(disable the bank to stop matching them)"
    )
