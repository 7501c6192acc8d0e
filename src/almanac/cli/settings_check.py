"""The settings check every command runs first, remembered once it passed.

Validating `Settings` imports pydantic-settings and builds every section: about a third of
the CPU time of `almanac recall` against a server. The check's inputs are the `ALMANAC_*`
environment, `./.env` and the settings code itself, so once they passed, a fingerprint of
them is kept in the data folder and an identical run skips the import. Anything changed
(a variable, the file, an upgrade) changes the fingerprint and the check runs again.
Standard library only, like the rest of the CLI's fast path.
"""

from __future__ import annotations

import hashlib
import os
from importlib.util import find_spec
from pathlib import Path

import typer

from almanac import __version__
from almanac.cli.connect import data_dir

STAMP = ".settings-checked"
KEEP = 16  # fingerprints remembered (a few shells with different environments)


def fingerprint() -> str:
    """A digest of everything `Settings()` reads, and of the code that validates it."""
    digest = hashlib.sha256(__version__.encode())
    # pydantic-settings matches the prefix case-insensitively.
    for name, value in sorted(os.environ.items()):
        if name.upper().startswith("ALMANAC_"):
            digest.update(f"\0env\0{name}\0{value}".encode())
    try:
        digest.update(b"\0dotenv\0" + Path(".env").read_bytes())
    except OSError:
        digest.update(b"\0no dotenv")
    spec = find_spec("almanac.config")
    if spec is not None and spec.origin:
        # The settings package: every module of it validates something.
        for path in sorted(Path(spec.origin).parent.glob("*.py")):
            stat = os.stat(path)
            digest.update(f"\0code\0{path}\0{stat.st_mtime_ns}\0{stat.st_size}".encode())
    return digest.hexdigest()


def check_settings() -> None:
    """Stop with exit code 2 and the variable named when the settings cannot work."""
    stamp = fingerprint()
    path = data_dir() / STAMP
    try:
        known = path.read_text(encoding="utf-8").split()
    except OSError:
        known = []
    if stamp in known:
        return
    from almanac.config import ConfigurationError, load_settings

    try:
        load_settings()
    except ConfigurationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    _remember(path, [k for k in known if k != stamp][-(KEEP - 1) :] + [stamp])


def _remember(path: Path, stamps: list[str]) -> None:
    """Write the stamps atomically; a data folder that does not exist yet is left alone."""
    if not path.parent.is_dir():
        return
    tmp = path.with_name(f"{STAMP}.{os.getpid()}.tmp")
    try:
        tmp.write_text("\n".join(stamps) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError:  # a read-only data folder only costs the next command the full check
        tmp.unlink(missing_ok=True)
