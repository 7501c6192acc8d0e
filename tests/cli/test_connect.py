"""Hostile connection settings: a key or URL the HTTP libraries cannot take is one line
naming the setting and exit code 2, never a traceback, and never echoes the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from almanac.cli.main import app
from tests.live_server import (  # noqa: F401
    LiveServer,
    free_port,
    live_server,
    live_server_process,
)

runner = CliRunner()
SECRET = "alm_Secret0123456789abcdefghij"


# `plans` goes through httpx (cli.runtime), `recall` through the standard library
# (cli.connect): both ways must refuse the key before anything is sent.
@pytest.mark.parametrize("command", [["plans"], ["recall", "anything"]])
@pytest.mark.parametrize("key", [SECRET + "\nX-Evil: 1", SECRET + "é", SECRET[:10] + " x"])
def test_a_key_no_header_can_carry_is_refused_without_echoing_it(
    command: list[str], key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALMANAC_API_KEY", key)
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: it must not get that far
    result = runner.invoke(app, [*command, "--url", url])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # an exit, not an escaped exception
    (line,) = [ln for ln in result.output.splitlines() if ln.strip()]
    assert line.startswith("error: the API key in ALMANAC_API_KEY holds"), line
    assert SECRET[4:14] not in result.output


def test_a_bad_key_in_the_data_folder_file_names_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "api-key").write_text(SECRET + "\x00\n")
    monkeypatch.setenv("ALMANAC_DATA_DIR", str(folder))
    result = runner.invoke(app, ["plans", "--url", f"http://127.0.0.1:{free_port()}"])
    assert result.exit_code == 2
    assert f"the API key in {folder / 'api-key'} holds" in result.output
    assert SECRET[4:14] not in result.output


@pytest.mark.parametrize("command", [["plans"], ["recall", "anything"]])
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1", "not a URL (Invalid IPv6 URL)"),
        ("http://127.0.0.1:port", "not a URL (Port could not be cast"),
        ("garbage", "'garbage' is not an http(s) URL"),
        ("ftp://127.0.0.1:21", "'ftp://127.0.0.1:21' is not an http(s) URL"),
    ],
)
def test_a_url_that_is_no_http_url_is_named(command: list[str], url: str, reason: str) -> None:
    result = runner.invoke(app, [*command, "--url", url])
    assert result.exit_code == 2, result.output
    (line,) = [ln for ln in result.output.splitlines() if ln.strip()]
    assert line.startswith(f"error: --url: {reason}"), line


def test_almanac_url_is_named_when_it_is_the_bad_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALMANAC_URL", "http://[::1")
    result = runner.invoke(app, ["plans"])
    assert result.exit_code == 2
    assert result.output.startswith("error: ALMANAC_URL: not a URL")


@pytest.mark.parametrize(
    "command",
    [["keys", "revoke", "k" * 100_000], ["docs", "list", "--tag", "t" * 100_000]],
)
def test_an_argument_too_long_for_a_url_is_refused_before_sending(command: list[str]) -> None:
    # httpx raises InvalidURL (no HTTPError) before connecting: nothing listens here.
    result = runner.invoke(app, [*command, "--url", f"http://127.0.0.1:{free_port()}"])
    assert result.exit_code == 2, result.output
    (line,) = [ln for ln in result.output.splitlines() if ln.strip()]
    assert line.startswith("error: an argument cannot be sent in a URL"), line


@pytest.mark.parametrize("command", [["plans"], ["recall", "anything"]])
def test_a_url_with_a_proxy_login_still_sends_the_key(
    command: list[str],
    live_server: LiveServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A login in the URL (a proxy's) goes as `Authorization: Basic`; httpx let it replace
    the Bearer key (401) and the standard library took `user:pass@host` for the host. The
    key goes as X-API-Key beside it, on both ways."""
    monkeypatch.setenv("ALMANAC_API_KEY", live_server.key)
    url = live_server.url.replace("http://", "http://proxy:s3cret-pass@")
    result = runner.invoke(app, [*command, "--url", url, "--json"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", [["plans"], ["recall", "anything"]])
def test_a_url_login_is_masked_when_the_server_is_down(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALMANAC_API_KEY", SECRET)
    url = f"http://proxy:s3cret-pass@127.0.0.1:{free_port()}"
    result = runner.invoke(app, [*command, "--url", url])
    assert result.exit_code == 1, result.output
    assert "cannot reach" in result.output and "proxy:***@" in result.output, result.output
    assert "s3cret-pass" not in result.output
