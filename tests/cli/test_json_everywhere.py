"""Every command accepts `--json`, except the few the registry says produce no data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from almanac.cli.lazy import load
from almanac.cli.main import COMMANDS, WITHOUT_JSON


def _leaves(command: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for name, sub in subcommands.items():
            yield from _leaves(sub, [*path, name])
    else:
        yield " ".join(path), command


def _all_commands() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, entry in COMMANDS.items():
        found.update(_leaves(load(name, entry), [name]))
    return found


def test_every_command_takes_json() -> None:
    commands = _all_commands()
    assert len(commands) > len(COMMANDS)  # groups were walked into
    missing = []
    for path, command in commands.items():
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        if path.split()[0] in WITHOUT_JSON:
            assert "--json" not in options, f"{path} is listed as producing no data"
            continue
        if "--json" not in options:
            missing.append(path)
    assert missing == []


def test_the_exceptions_are_real_commands_with_a_reason() -> None:
    for name, reason in WITHOUT_JSON.items():
        assert name in COMMANDS and reason


def test_only_the_root_offers_shell_completion() -> None:
    """`almanac --install-completion` installs it; a sub-command's help listing the option
    again (it would install the root's completion anyway) is noise in every `--help`."""
    offering = [
        path
        for path, command in _all_commands().items()
        if {"--install-completion", "--show-completion"}
        & {opt for param in command.params for opt in getattr(param, "opts", [])}
    ]
    assert offering == []
