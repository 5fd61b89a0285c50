"""Commands whose modules are imported only when the command runs.

``takedown --help`` and ``takedown hash one.jpg`` must not pay for the service's imports
(FastAPI, SQLAlchemy, the index's numba kernels: over a second of start-up), so a command
group lives in the registry below as the dotted path of its Typer app or function plus the one
line ``--help`` shows for it. The help listing is built from those lines; the module is imported
when the command is actually run (or its own ``--help`` is asked for). A test holds every line
equal to the loaded command's own short help, so the two cannot drift apart.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer import _click as click  # Typer's own copy of Click, which its classes extend
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_group
from typer.models import CommandInfo


@dataclass(frozen=True)
class LazyCommand:
    """``target`` is ``module:attribute``: a ``typer.Typer`` (a group) or a command function."""

    name: str
    target: str
    help: str

    def load(self) -> click.Command:
        module_name, _, attribute = self.target.partition(":")
        obj: Any = getattr(importlib.import_module(module_name), attribute)
        command: click.Command
        if isinstance(obj, typer.Typer):
            command = get_group(obj)
        else:
            command = get_command_from_info(
                CommandInfo(name=self.name, callback=obj),
                pretty_exceptions_short=True,
                rich_markup_mode="rich",
            )
        command.name = self.name
        return command


class LazyCommands:
    """The registry of one Typer app's lazily imported commands: pass ``group_class`` as the
    app's ``cls``, then :meth:`add` each command."""

    def __init__(self) -> None:
        self.entries: dict[str, LazyCommand] = {}
        registry = self

        class LazyGroup(TyperGroup):
            _listing = False

            def list_commands(self, ctx: click.Context) -> list[str]:
                eager = super().list_commands(ctx)
                return eager + [name for name in registry.entries if name not in eager]

            def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
                found = super().get_command(ctx, cmd_name)
                entry = registry.entries.get(cmd_name)
                if found is not None or entry is None:
                    return found
                if self._listing:
                    return TyperCommand(name=cmd_name, help=entry.help)
                command = entry.load()
                self.commands[cmd_name] = command
                return command

            def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
                self._listing = True
                try:
                    super().format_help(ctx, formatter)
                finally:
                    self._listing = False

        self.group_class: type[TyperGroup] = LazyGroup

    def add(self, name: str, target: str, help: str) -> None:
        """``takedown NAME``: a sub-app (``module:typer_app``) or a command (``module:function``);
        ``help`` is the line the listing shows (the command's own first help line)."""
        self.entries[name] = LazyCommand(name, target, help)
