"""`almanac docs` end to end against the test database (in-process: no server answering)."""

from __future__ import annotations

import json
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


def test_a_file_that_cannot_be_read_fails_alone(cli_env: AppState, tmp_path: Path):  # noqa: F811
    """A dangling link (or a folder named like a document) in the folder stopped the
    command with a traceback, the files after it not added and nothing reported."""
    (tmp_path / "a-broken.md").symlink_to(tmp_path / "gone.md")
    (tmp_path / "b-folder.md").mkdir()
    (tmp_path / "b-folder.md" / "inner.txt").write_text("Inner notes: the boiler in March.\n")
    (tmp_path / "c-sop.md").write_text("# SOP\n\nAsk for the admin login.\n")
    code, out = invoke("docs", "add", str(tmp_path), "--json")
    assert code == 1, out
    by_name = {Path(str(r["path"])).name: r for r in json.loads(out)}
    assert by_name.keys() == {"a-broken.md", "inner.txt", "c-sop.md"}
    assert by_name["a-broken.md"]["status"] == "failed"
    assert "No such file" in by_name["a-broken.md"]["error"]
    assert by_name["inner.txt"]["status"] == by_name["c-sop.md"]["status"] == "created"
