"""`almanac docs` end to end against the test database (in-process: no server answering)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from typer.testing import CliRunner

from almanac.cli.main import app
from almanac.state import AppState

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_add_a_folder_twice_then_list_and_remove(cli_env: AppState, tmp_path: Path):  # noqa: F811
    (tmp_path / "sop.md").write_text("# Onboarding SOP\n\n## Access\n\nAsk for the admin login.\n")
    (tmp_path / "notes.txt").write_text("Meeting notes: the client wants weekly reports.\n")
    (tmp_path / "image.png").write_bytes(b"\x89PNG not a document")

    code, out = invoke("docs", "add", str(tmp_path), "--client-id", "5", "--tag", "acme", "--json")
    assert code == 0, out
    first = json.loads(out)
    assert sorted(r["status"] for r in first) == ["created", "created"]  # the PNG is skipped

    code, out = invoke("docs", "add", str(tmp_path), "--client-id", "5", "--json")
    assert code == 0, out
    assert [r["status"] for r in json.loads(out)] == ["unchanged", "unchanged"]

    code, out = invoke("docs", "list", "--client-id", "5", "--json")
    assert code == 0, out
    listed = json.loads(out)
    assert {d["title"] for d in listed} == {"Onboarding SOP", "notes"}

    sop = next(d["id"] for d in listed if d["title"] == "Onboarding SOP")
    code, out = invoke("docs", "show", str(sop))  # the module's docstring named it; no command
    assert code == 0, out
    assert (
        "Onboarding SOP" in out
        and "1 page)" in out
        and "[0] Access" in out
        and "admin login" in out
    )
    code, out = invoke("docs", "rm", str(listed[0]["id"]))
    assert code == 0 and "removed" in out
    code, out = invoke("docs", "rm", str(listed[0]["id"]))
    assert code == 2 and "does not exist" in out


def test_a_bad_file_is_reported_and_fails_the_command(cli_env: AppState, tmp_path: Path):  # noqa: F811
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 not really")
    code, out = invoke("docs", "add", str(bad))
    assert code == 1
    assert "failed" in out and "could not be read" in out


def test_reindex_reembeds_document_chunks(cli_env: AppState, tmp_path: Path, pg_url: str):  # noqa: F811
    from tests.cli.test_memory_cli import sql

    (tmp_path / "sop.md").write_text(
        "# Offboarding SOP\n\n## Laptops\n\nReturn the laptop to the IT desk on the last day.\n"
        "\n## Badges\n\nHand the badge to reception.\n"
    )
    code, out = invoke("docs", "add", str(tmp_path))
    assert code == 0, out
    model = cli_env.embedder.model
    before = sql(pg_url, "SELECT chunk_id, embedding::text FROM doc_chunk_embeddings ORDER BY 1")
    assert len(before) == 2
    # As if the chunks had been embedded by an earlier model, with a vector of another size.
    sql(pg_url, "UPDATE doc_chunk_embeddings SET model = 'old-model@0', embedding = '[1,0,0]'")

    code, out = invoke("memory", "reindex")
    assert code == 0, out
    assert "2 document chunks" in out
    after = sql(
        pg_url, "SELECT chunk_id, model, embedding::text FROM doc_chunk_embeddings ORDER BY 1"
    )
    # The same vectors as when the document was added: title and heading embedded too.
    assert [(c, m, e) for c, m, e in after] == [(c, model, e) for c, e in before]

    code, out = invoke("memory", "reindex")  # nothing left to do
    assert code == 0 and "0 document chunks" in out
    code, out = invoke("recall", "laptop IT desk")
    assert code == 0 and "Return the laptop" in out


def test_a_folder_named_like_a_file_and_a_broken_link_are_no_traceback(
    cli_env: AppState, tmp_path: Path
):
    # Before: `notes.md/` (a folder) and a dangling link were read as files, and the
    # IsADirectoryError or FileNotFoundError ended the command with a traceback.
    (tmp_path / "notes.md").mkdir()
    (tmp_path / "notes.md" / "inside.txt").write_text("Kept inside a folder named notes.md.\n")
    (tmp_path / "gone.md").symlink_to(tmp_path / "nowhere.md")
    (tmp_path / "ok.md").write_text("# Kept\n\nA plain document.\n")

    result = runner.invoke(app, ["docs", "add", str(tmp_path), "--json"])

    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    rows = {Path(r["path"]).name: r for r in json.loads(result.stdout)}
    assert set(rows) == {"inside.txt", "gone.md", "ok.md"}  # the folder is walked, not read
    assert rows["inside.txt"]["status"] == rows["ok.md"]["status"] == "created"
    assert rows["gone.md"]["status"] == "failed"
    assert "does not exist" in rows["gone.md"]["error"]


def test_a_device_is_refused_unread(cli_env: AppState):
    # Before: a device was read to its end (/dev/zero until the machine ran out of memory:
    # a device has no size to check first). /dev/null ends at once, so this is safe to run
    # on the old code: it sent an empty upload.
    result = runner.invoke(app, ["docs", "add", "/dev/null", "--json"])
    assert result.exit_code == 1, result.output
    (row,) = json.loads(result.stdout)
    assert row["status"] == "failed" and "not a regular file" in row["error"]


class _LimitedServer(ThreadingHTTPServer):
    """A server that answers the first uploads 429 (as a key past its write limit is
    answered) and then accepts them, recording each body it accepted."""

    refusals = 2
    accepted: list[bytes]


class _LimitedHandler(BaseHTTPRequestHandler):
    server: _LimitedServer

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if self.server.refusals > 0:
            self.server.refusals -= 1
            self._answer(429, {"title": "Too many requests", "status": 429}, retry="0")
            return
        self.server.accepted.append(body)
        self._answer(201, {"status": "created", "id": 7, "chunks": 1, "pages": 1})

    def _answer(self, status: int, body: dict[str, object], retry: str | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        if retry is not None:
            self.send_header("retry-after", retry)
        self.end_headers()
        self.wfile.write(data)


def test_a_rate_limited_upload_waits_and_is_sent_again(tmp_path: Path, monkeypatch):
    # Before: past the key's write limit (120 a minute) every further file of a folder
    # failed with the 429: 2,822 of 3,000 files of a folder against a running server.
    monkeypatch.setenv("ALMANAC_API_KEY", "alm_test")
    doc = tmp_path / "sop.md"
    doc.write_text("# SOP\n\nThe one line that must arrive whole.\n")
    server = _LimitedServer(("127.0.0.1", 0), _LimitedHandler)
    server.accepted = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = runner.invoke(app, ["docs", "add", str(doc), "--url", url, "--json"])
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0, result.output
    assert [r["status"] for r in json.loads(result.stdout)] == ["created"]
    (body,) = server.accepted  # sent again whole after the two refusals
    assert b"The one line that must arrive whole." in body
    assert "rate limited by the server: waiting 0 s" in result.stderr


def test_links_leaving_the_folder_are_not_followed(cli_env: AppState, tmp_path: Path):
    """Adding a folder read files its links pointed to anywhere (a link to ~/.ssh/x.txt
    was uploaded) and walked linked folders outside it. Now each such link is a failed row
    naming its target; links inside the folder are read as before."""
    folder, outside = tmp_path / "docs", tmp_path / "elsewhere"
    folder.mkdir()
    (outside / "deep").mkdir(parents=True)
    (outside / "secret.md").write_text("# Secret\n\nNot in the folder.\n")
    (outside / "deep" / "also.md").write_text("# Also secret\n\nNot in the folder.\n")
    (folder / "ok.md").write_text("# Kept\n\nA plain document.\n")
    (folder / "secret.md").symlink_to(outside / "secret.md")
    (folder / "away").symlink_to(outside / "deep", target_is_directory=True)
    (folder / "same.txt").symlink_to(folder / "ok.md")

    result = runner.invoke(app, ["docs", "add", str(folder), "--json"])

    assert result.exit_code == 1, result.output
    rows = {Path(r["path"]).name: r for r in json.loads(result.stdout)}
    assert set(rows) == {"ok.md", "secret.md", "away", "same.txt"}, rows
    assert rows["ok.md"]["status"] == "created" and rows["same.txt"]["status"] != "failed"
    for name, target in (("secret.md", outside / "secret.md"), ("away", outside / "deep")):
        assert rows[name]["status"] == "failed", rows[name]
        assert str(target.resolve()) in rows[name]["error"] and "outside" in rows[name]["error"]
    code, out = invoke("docs", "list", "--json")
    assert code == 0 and "Secret" not in out, out


def test_recall_names_a_passage_by_its_documents_id(cli_env: AppState, tmp_path: Path):  # noqa: F811
    """`recall` listed a passage as "document 3", its own id: `docs rm 3` then removed
    another document, and "document 4" was in no `docs list`."""
    (tmp_path / "a.md").write_text(
        "# Handbook\n\n## One\n\nFirst part.\n\n## Two\n\nSecond part.\n\n## Three\n\nThird.\n"
    )
    (tmp_path / "b.md").write_text("# Handover\n\n## Keys\n\nRotate the Falcon API keys.\n")
    code, out = invoke("docs", "add", str(tmp_path), "--json")
    assert code == 0, out
    ids = {r["title"]: r["id"] for r in json.loads(out)}
    code, out = invoke("recall", "Falcon API keys", "--json")
    hit = next(h for h in json.loads(out)["results"] if "Falcon" in h["content"])
    assert hit["id"] != ids["Handover"]  # a passage's id is not its document's
    code, out = invoke("recall", "Falcon API keys")
    assert code == 0 and f"document {ids['Handover']}" in out, out
    assert f"document {hit['id']} " not in out, out
