"""Service commands: serve, worker, db, keys, users, audit."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy import select
from sqlalchemy.engine import make_url

from takedown.audit.log import record, verify
from takedown.auth.accounts import (
    AccountError,
    create_key,
    create_user,
    create_user_token,
    enable_totp,
    revoke_key,
    set_role,
    unlock_user,
    user_by_email,
)
from takedown.auth.scopes import Role, Scope, parse_scopes
from takedown.cli.output import stderr, stdout
from takedown.config import LOOPBACK_NETWORKS, Settings, load_settings
from takedown.legal.evidence import KEY_FILE, RESET_COMMAND, EvidenceStore, open_for_reset
from takedown.legal.vault import MasterKeys, Vault, VaultError, VaultKeyMissing, VaultKeyWrong
from takedown.logs import configure
from takedown.store.db import Database
from takedown.store.migrate import upgrade
from takedown.store.models import ApiKey, User
from takedown.store.private import private_dir

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys for platform clients.", no_args_is_help=True)
users_app = typer.Typer(help="Staff accounts and their API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
report_app = typer.Typer(help="Reports about the service.", no_args_is_help=True)
vault_app = typer.Typer(help="The evidence vault.", no_args_is_help=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except Exception as exc:
        stderr().print(f"[red]configuration error[/red]: {escape(str(exc))}")
        stderr().print("Check takedown.toml and the TAKEDOWN_* environment variables.")
        raise typer.Exit(2) from None


def open_database(settings: Settings) -> Database:
    """Migrate to the newest schema (creating the embedded database on first use), then open."""
    private_dir(settings.home)
    try:
        upgrade(settings.db_url)
    except Exception as exc:
        stderr().print(
            f"[red]cannot open the database[/red]: {escape(type(exc).__name__)}: "
            f"{escape(str(exc).splitlines()[0] if str(exc) else '')}"
        )
        stderr().print("Is TAKEDOWN_DATABASE_URL right and the server running?")
        raise typer.Exit(1) from None
    return Database(settings.db_url)


def _first_steps(db: Database) -> list[str]:
    with db.read() as session:
        has_user = session.execute(select(User.id).limit(1)).first() is not None
        has_key = session.execute(select(ApiKey.id).limit(1)).first() is not None
    steps = []
    if not has_user:
        steps.append("create the first admin:  takedown users create you@example.org --role admin")
    if not has_key:
        steps.append(
            "create a platform API key:  takedown keys create my-platform "
            "--scope content:write --scope lookup --scope banks:write --scope actions:read "
            "--scope webhooks:write"
        )
    return steps


def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default from config).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from config).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="API worker processes.")] = None,
) -> None:
    """Run the API with a background worker, on the embedded SQLite default unless configured."""
    import uvicorn

    settings = _settings()
    overrides = {k: v for k, v in (("host", host), ("port", port), ("workers", workers)) if v}
    if overrides:
        settings = settings.model_copy(update=overrides)
    db = open_database(settings)
    open_vault(settings)
    steps = _first_steps(db)
    db.dispose()
    err = stderr()
    err.print(f"takedown {escape(settings.base_url)}  (database: {escape(_safe_url(settings))})")
    err.print(f"  API docs    {escape(settings.base_url)}/docs")
    err.print(f"  readiness   {escape(settings.base_url)}/readyz")
    err.print(f"  metrics     {escape(settings.base_url)}/metrics  (a key with the metrics scope)")
    for step in steps:
        err.print(f"  next: {escape(step)}")
    configure(settings.log_level)
    # the workers read their settings again from the environment: pass the overrides on
    os.environ.update({f"TAKEDOWN_{k.upper()}": str(v) for k, v in overrides.items()})
    uvicorn.run(
        "takedown.api.asgi:app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_config=None,
        # X-Forwarded-For/-Proto only from our own proxies (uvicorn's default believes any
        # loopback peer); the app reads the header the same way (takedown.api.clients)
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
    )


def open_vault(settings: Settings) -> EvidenceStore:
    """The evidence store, or exit 1 saying why not: the service does not start with a vault
    it cannot open (a lost key file would otherwise go unnoticed until evidence is needed)."""
    try:
        return EvidenceStore(settings.home, settings.vault_key, settings.evidence_retention_days)
    except VaultError as exc:
        stderr().print(f"[red]cannot open the evidence vault[/red]: {escape(str(exc))}")
        raise typer.Exit(1) from None


def _safe_url(settings: Settings) -> str:
    return make_url(settings.db_url).render_as_string(hide_password=True)


def worker() -> None:
    """Run background workers (webhook delivery) in the foreground until stopped."""
    # the worker's modules (the index's numba kernels, the exchanges): 1.5 s that the other
    # service commands (keys, users, audit) must not pay at every start
    from takedown.actions import worker as delivery_worker

    settings = _settings()
    db = open_database(settings)
    open_vault(settings)
    configure(settings.log_level)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stderr().print("takedown worker: delivering webhooks (Ctrl-C stops)")
    delivery_worker.run(db, settings, stop)
    db.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    settings = _settings()
    open_database(settings).dispose()
    stderr().print(f"database {escape(_safe_url(settings))} is at the newest schema")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who uses the key (e.g. the platform's name).")],
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope", help=f"Repeat or comma-separate: {', '.join(s.value for s in Scope)}."
        ),
    ],
) -> None:
    """Create an API key; it is printed once and only its hash is stored."""
    try:
        scopes = parse_scopes(scope)
    except ValueError as exc:
        stderr().print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    db = open_database(_settings())
    try:
        with db.write() as session:
            row, secret = create_key(session, name, scopes)
            key_id = row.id
    except AccountError as exc:
        stderr().print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    print(secret)
    stderr().print(f"key {key_id} ({escape(name)}): store it now, it is not shown again")


@keys_app.command("list")
def keys_list() -> None:
    """List keys, tab-separated: id, prefix, name, scopes, state (never the secret)."""
    db = open_database(_settings())
    with db.read() as session:
        for row in session.execute(select(ApiKey).order_by(ApiKey.id)).scalars():
            state = "revoked" if row.revoked_at else "active"
            print(f"{row.id}\t{row.prefix}…\t{row.name}\t{row.scopes}\t{state}")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id (keys list).")]) -> None:
    """Revoke a key (API workers stop accepting it within key_cache_s seconds)."""
    db = open_database(_settings())
    try:
        with db.write() as session:
            revoke_key(session, key_id, "cli")
    except AccountError as exc:
        stderr().print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    stderr().print(f"key {key_id} revoked")


@keys_app.command("hma-client")
def keys_hma_client(
    key_id: Annotated[int, typer.Argument(help="The key's id (keys list).")],
    off: Annotated[
        bool, typer.Option("--off", help="Unflag it: every request needs a key.")
    ] = False,
) -> None:
    """Flag a platform key as the HMA client: requests to the HMA API without a key, from an
    address in hma_client_networks, act as this key (for HMA tools that cannot send one)."""
    from takedown.service.hma_content import set_hma_client  # the exchanges: this command's

    db = open_database(_settings())
    try:
        with db.write() as session:
            set_hma_client(session, key_id, not off, "cli")
    except AccountError as exc:
        stderr().print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    stderr().print(
        f"key {key_id} is no longer the HMA client"
        if off
        else f"key {key_id} is the HMA client (from hma_client_networks only)"
    )


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Argument(help="The staff member's email (their login).")],
    role: Annotated[Role, typer.Option(help="What they may do.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a staff account; without --password-stdin a password is generated and shown once."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    db = open_database(_settings())
    try:
        with db.write() as session:
            user, generated = create_user(session, email, role, password)
            user_id = user.id
    except AccountError as exc:
        stderr().print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    stderr().print(f"user {user_id} created with role {role.value}")
    if generated:
        print(generated)
        stderr().print("that is the generated password: give it to them, it is not shown again")


@users_app.command("role")
def users_role(
    email: Annotated[str, typer.Argument(help="The staff member's email.")],
    role: Annotated[Role, typer.Argument(help="Their new role.")],
) -> None:
    """Change a staff member's role (audited). The operator's way to grant the roles that read
    evidence or reporters' contacts, which the console and the API never grant."""
    db = open_database(_settings())
    try:
        with db.write() as session:
            user = set_role(session, user_by_email(session, email).id, role, "cli")
            user_id = user.id
    except AccountError as exc:
        stderr().print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    stderr().print(f"user {user_id} now has the role {role.value}")


@users_app.command("token")
def users_token(
    email: Annotated[str, typer.Argument(help="The staff member's email.")],
) -> None:
    """Issue an API token with the user's role's scopes (printed once)."""
    db = open_database(_settings())
    try:
        with db.write() as session:
            _, secret = create_user_token(session, email)
    except AccountError as exc:
        stderr().print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    print(secret)


@users_app.command("unlock")
def users_unlock(
    email: Annotated[str, typer.Argument(help="The staff member's email.")],
) -> None:
    """Let a locked-out person back in: lift every sign-in lock on the account (audited)."""
    from takedown.web.session import secret_key  # FastAPI: this command's alone

    settings = _settings()
    db = open_database(settings)
    secret = secret_key(settings.secret_key, settings.home)
    try:
        with db.write() as session:
            user = unlock_user(
                session, user_by_email(session, email).id, secret, datetime.now(UTC), "cli"
            )
            user_id = user.id
    except AccountError as exc:
        stderr().print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    stderr().print(f"user {user_id}: sign-in unlocked")


@users_app.command("totp")
def users_totp(
    email: Annotated[str, typer.Argument(help="The staff member's email.")],
) -> None:
    """Turn on a TOTP second factor; prints the otpauth:// URI to add to an authenticator app."""
    db = open_database(_settings())
    try:
        with db.write() as session:
            uri = enable_totp(session, email)
    except AccountError as exc:
        stderr().print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    print(uri)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the whole chain; exit 1 naming the first bad sequence number."""
    db = open_database(_settings())
    result = verify(db)
    if result.problem is None:
        stderr().print(f"audit log intact: {result.events} events")
        return
    stderr().print(
        f"[red]audit log broken at sequence {result.problem.seq}[/red]: "
        f"{escape(result.problem.reason)} ({result.events} events verified before it)"
    )
    raise typer.Exit(1)


def _day(value: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        stderr().print(f"[red]{option} takes a date like 2026-01-31, got {escape(value)}[/red]")
        raise typer.Exit(2) from None


@report_app.command("transparency")
def transparency_report(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD), included.")],
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD), included.")],
    out: Annotated[
        Path | None, typer.Option(help="Folder for transparency.json, .csv and .html.")
    ] = None,
) -> None:
    """Counts, times against deadlines, appeals, CyberTipline reports, banks, upload verdicts;
    JSON on standard output, and the three files in --out."""
    first, last = _day(start, "--from"), _day(end, "--to") + timedelta(days=1)
    if last <= first:
        stderr().print("[red]--to must not be before --from[/red]")
        raise typer.Exit(2)
    from takedown.legal.transparency import to_csv, to_html
    from takedown.service.transparency import transparency

    db = open_database(_settings())
    report = transparency(db, first, last)
    body = json.dumps(report.to_json(), indent=2, default=str)
    print(body)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "transparency.json").write_text(body + "\n")
        (out / "transparency.csv").write_text(to_csv(report))
        (out / "transparency.html").write_text(to_html(report))
        stderr().print(f"wrote transparency.json, .csv and .html in {escape(str(out))}")


@vault_app.command("rotate-key")
def vault_rotate_key() -> None:
    """A new master key: every item's data key is re-wrapped (payloads untouched), then the
    old keys are dropped from the key file."""
    settings = _settings()
    if settings.vault_key:
        stderr().print("[red]the master key comes from vault_key: rotate it there[/red]")
        raise typer.Exit(2)
    db = open_database(settings)
    store = open_vault(settings)
    new_keys = store.vault.keys.rotated()
    new_keys.save(settings.home / KEY_FILE)  # both keys on disk while re-wrapping
    count = store.vault.rewrap(new_keys)
    MasterKeys(new_keys.current, {new_keys.current: new_keys.keys[new_keys.current]}).save(
        settings.home / KEY_FILE
    )
    with db.write() as session:
        record(session, "cli", "vault.rotate", "vault", {"items": count})
    stderr().print(f"re-wrapped {count} data keys under the new master key {new_keys.current}")


@vault_app.command("status")
def vault_status() -> None:
    """Check that the vault opens with the master key as configured (exit 1 saying what is
    wrong and what to do when it does not): run it after restoring a key file from backup."""
    settings = _settings()
    store = open_vault(settings)
    source = "vault_key" if settings.vault_key else str(settings.home / KEY_FILE)
    stderr().print(
        f"evidence vault opens: {store.vault.count()} sealed items, master key "
        f"{store.vault.keys.current} from {escape(source)}"
    )


@vault_app.command("reset-key")
def vault_reset_key(
    acknowledged: Annotated[
        bool,
        typer.Option(
            "--i-understand-evidence-is-lost",
            help="Confirm that no copy of the lost master key exists.",
        ),
    ] = False,
) -> None:
    """Acknowledge that evidence sealed with a lost master key is gone: the items the key at
    hand cannot open are moved to HOME/evidence-unreadable-<time> (kept, should the key turn
    up), a new key is made if the key file is gone, and the service starts again. Audited."""
    settings = _settings()
    if not acknowledged:
        stderr().print(
            "[red]this gives up the evidence the current master key cannot open[/red]. First "
            f"restore {escape(str(settings.home / KEY_FILE))} (or vault_key) from your backup; "
            f"only if none exists, run `{RESET_COMMAND}`."
        )
        raise typer.Exit(2)
    db = open_database(settings)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        vault = open_for_reset(settings.home, settings.vault_key)
        if _vault_opens(vault):
            stderr().print("the evidence vault opens with the current master key: nothing to reset")
            return
        aside = vault.set_aside(settings.home / f"evidence-unreadable-{stamp}")
    except VaultError as exc:
        stderr().print(f"[red]cannot reset the vault[/red]: {escape(str(exc))}")
        raise typer.Exit(1) from None
    with db.write() as session:
        record(
            session,
            "cli",
            "vault.reset_key",
            "vault",
            {"items_lost": aside.items, "held_lost": aside.held, "key": vault.keys.current},
        )
    stderr().print(
        f"{aside.items} unreadable items ({aside.held} under legal hold) moved to "
        f"{escape(str(settings.home))}/evidence-unreadable-{stamp}; the vault now uses master "
        f"key {vault.keys.current}."
    )
    if not settings.vault_key:
        stderr().print(f"Back up {escape(str(settings.home / KEY_FILE))} now.")


def _vault_opens(vault: Vault) -> bool:
    try:
        vault.check()
    except (VaultKeyMissing, VaultKeyWrong):
        return False
    return True


def demo(
    port: Annotated[int, typer.Option(help="takedown's port.")] = 8000,
    platform_port: Annotated[int, typer.Option(help="The reference platform's port.")] = 8001,
    home: Annotated[Path, typer.Option(help="Where the demo keeps its data.")] = Path(
        "takedown-demo"
    ),
) -> None:
    """takedown and the reference platform (Pixshare) on loopback, with staff accounts and
    sample media; Ctrl-C stops both."""
    checkout = Path(__file__).resolve().parents[3]  # src/takedown/cli/service.py -> the repo
    if (checkout / "examples" / "demo_platform").is_dir() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    try:
        from examples.demo_platform.demo import PASSWORD, STAFF, running_demo
    except ImportError:
        stderr().print("[red]the demo needs a checkout of the project (examples/ folder)[/red]")
        raise typer.Exit(1) from None
    settings = load_settings(
        home=home,
        port=port,
        background_worker=True,
        log_level="WARNING",
        webhook_allow_networks=list(LOOPBACK_NETWORKS),  # the demo platform is on loopback
    )
    with running_demo(settings, platform_port) as running:
        out = stdout()
        out.print(
            f"takedown        {running.takedown_url}   (report page: /report, console: /console)"
        )
        out.print(f"reference site  {running.platform_url}   (upload, repost, report a post)")
        out.print(f"staff password  {PASSWORD}")
        for email, role in STAFF.items():
            out.print(f"  {email:28s} {role.value}")
        out.print("sample media:")
        for path in running.samples:
            out.print(f"  {path}")
        out.print("Ctrl-C stops the demo.")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
