"""A command group whose sub-commands are imported only when they run.

`almanac --help` lists every command from the registry's one-line descriptions without
importing any of them; `almanac recall …` imports `almanac.cli.recall` and nothing else.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Lazy:
    """A command that lives in `module:attr`: a `typer.Typer` (a group) or a function."""

    target: str
    help: str
    # Its arguments are numbers: `-1` is one (refused by its range, naming the argument),
    # not an unknown option ("No such option: -1"). An unknown option is then an extra
    # argument, named as such.
    numbers: bool = False


def load(name: str, entry: Lazy) -> Any:
    """Import the entry's module and turn its object into a click command named `name`."""
    module_name, _, attr = entry.target.partition(":")
    obj = getattr(importlib.import_module(module_name), attr)
    if isinstance(obj, typer.Typer):
        # get_group, not get_command: a group with one sub-command stays a group.
        group = typer.main.get_group(obj)
        group.name = name
        return group
    single = typer.Typer(add_completion=False)  # the root offers it, once
    settings = {"ignore_unknown_options": True} if entry.numbers else None
    single.command(name=name, context_settings=settings)(obj)
    return typer.main.get_command(single)


class LazyGroup(TyperGroup):
    """A Typer group that resolves names in `registry` on first use."""

    registry: ClassVar[Mapping[str, Lazy]] = {}
    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        eager = super().list_commands(ctx)
        return eager + [name for name in self.registry if name not in self.commands]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = self.registry.get(cmd_name)
        if entry is None:
            return None
        if self._listing:  # help text only: describe it without importing it
            return TyperCommand(name=cmd_name, help=entry.help, callback=None)
        command = load(cmd_name, entry)
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:  # suggest registry names too
            from difflib import get_close_matches

            if args and "Did you mean" not in exc.message:
                matches = get_close_matches(args[0], list(self.registry))
                if matches:
                    exc.message = exc.message.rstrip(".") + f". Did you mean {matches[0]!r}?"
            raise


def lazy_group(registry: Mapping[str, Lazy]) -> type[LazyGroup]:
    """A LazyGroup class bound to `registry` (Typer instantiates the class itself)."""
    return type("AlmanacGroup", (LazyGroup,), {"registry": registry})
