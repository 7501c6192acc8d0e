"""The CLI end to end against the test database (in-process mode: no server answering)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, get_args

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from almanac.cli.main import app
from almanac.db.engine import create_engine
from almanac.memory.schemas import MemoryScope
from almanac.state import AppState

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_remember_recall_and_facts(cli_env: AppState):
    meta = json.dumps(
        {"subject_type": "user", "subject_id": "me", "fact_type": "preference", "category": "focus"}
    )
    code, out = invoke(
        "remember", "Deep work happens before noon", "--salience", "0.8", "--metadata", meta
    )
    assert code == 0, out
    assert "remembered event " in out and "promoted to fact" in out
    # In-process, the answer is built after commit, so the cache copy is reported too.
    assert "in postgres" in out
    code, out = invoke("remember", "Invoice Acme on the first of the month")
    assert code == 0, out

    code, out = invoke("recall", "when does deep work happen", "-k", "3")
    assert code == 0, out
    # The relevance, comparable across queries (0.5 the floor), not the fused score, which
    # ranks one answer and means nothing beside another's (0.0837 read as "8%").
    assert "Deep work happens before noon" in out and "relevance" in out and "score" not in out
    data = json.loads(invoke("recall", "when does deep work happen", "-k", "3", "--json")[1])
    for hit in data["results"]:
        row = next(line for line in out.splitlines() if f"{hit['kind']} {hit['id']} " in line)
        assert f" {hit['relevance']:.2f} " in row, out
    under = sum(1 for hit in data["results"] if hit["relevance"] < 0.5)
    assert under > 0, data  # the invoice memory: listed, but no match for the question
    assert f"{under} of {len(data['results'])} under the relevance floor" in out, out

    code, out = invoke("recall", "invoice", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["results"][0]["content"] == "Invoice Acme on the first of the month"

    code, out = invoke("facts", "--subject-id", "me")
    assert code == 0 and "Deep work happens before noon" in out and "current" in out
    assert "┃ id " in out and "└" in out, out  # boxed, as the rich tables of other commands


def test_recall_says_when_the_relevance_floor_emptied_the_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API's `no_match` answer (README: no hit reached the floor) is said in words, so
    an empty table does not read as an empty memory."""
    import almanac.cli.recall as recall_cli

    answers = {
        True: {"results": [], "no_match": True, "cached": False, "took_ms": 3.0},
        False: {"results": [], "no_match": False, "cached": False, "took_ms": 3.0},
    }
    for floored, answer in answers.items():
        monkeypatch.setattr(recall_cli, "call", lambda *a, answer=answer, **k: answer)
        code, out = invoke("recall", "when do I like to focus?")
        assert code == 0, out
        assert ("no hit reached the relevance floor" in out) is floored, out


def test_facts_history_says_whose_each_fact_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """One slot holds the user's own current fact and a client's (a slot is also whose the
    fact is): the table says which is the client's, else the two read as one slot's two."""
    import almanac.cli.recall as recall_cli

    def row(fid: int, client: int | None, content: str) -> dict[str, object]:
        return {
            "id": fid,
            "subject_type": "user",
            "subject_id": "me",
            "fact_type": "preference",
            "category": "hours",
            "client_id": client,
            "valid_from": f"2026-01-0{fid}T09:00:00+00:00",
            "valid_to": None,
            "content": content,
        }

    rows = [row(1, None, "Works nine to five"), row(2, 4242, "Works ten to two")]
    monkeypatch.setattr(recall_cli, "call", lambda *a, **k: [dict(r) for r in rows])
    result = runner.invoke(app, ["facts", "history"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "client" in result.output
    line = next(x for x in result.output.splitlines() if "ten to two" in x)
    assert "4242" in line, result.output
    assert "4242" not in next(x for x in result.output.splitlines() if "nine to five" in x)


def test_facts_history_tells_a_successor_dated_later_from_the_current_fact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rate superseded from next year: the old one is current (closed then), the new one
    open but not yet valid; both must not read as current."""
    import almanac.cli.recall as recall_cli

    base = {"subject_type": "client", "subject_id": "1", "fact_type": "identity"}
    rows = [
        {
            **base,
            "id": 7,
            "category": "rate",
            "client_id": 1,
            "content": "Rate 1400",
            "valid_from": "2099-01-01T00:00:00+00:00",
            "valid_to": None,
            "current": False,
        },
        {
            **base,
            "id": 6,
            "category": "rate",
            "client_id": 1,
            "content": "Rate 1200",
            "valid_from": "2026-06-01T00:00:00+00:00",
            "valid_to": "2099-01-01T00:00:00+00:00",
            "current": True,
        },
    ]
    monkeypatch.setattr(recall_cli, "call", lambda *a, **k: [dict(r) for r in rows])
    result = runner.invoke(app, ["facts", "history"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    new = next(x for x in result.output.splitlines() if "Rate 1400" in x)
    assert "not yet" in new and "current" not in new, result.output


def test_facts_history_shows_times_in_the_users_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API sends UTC; a fact valid from 1 January in Berlin read "2025-12-31T23:00",
    while `tasks` and `agenda` show times in ALMANAC_TIMEZONE."""
    import almanac.cli.recall as recall_cli

    rows = [
        {
            "id": 3,
            "subject_type": "client",
            "subject_id": "1",
            "fact_type": "constraint",
            "category": None,
            "client_id": 1,
            "content": "Invoices go out on the 1st",
            "valid_from": "2025-12-31T23:00:00Z",
            "valid_to": "2026-06-30T22:00:00Z",
            "current": False,
        }
    ]
    monkeypatch.setattr(recall_cli, "call", lambda *a, **k: [dict(r) for r in rows])
    env = {"COLUMNS": "200", "ALMANAC_TIMEZONE": "Europe/Berlin"}
    result = runner.invoke(app, ["facts", "history"], env=env)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "Invoices" in x)
    assert "2026-01-01 00:00" in line and "2026-07-01 00:00" in line, result.output
    assert "2025-12-31" not in line


def test_valid_from_without_an_offset_is_read_in_the_users_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`facts supersede 4 "x" --valid-from 2026-12-10` was refused ("must include a UTC
    offset"), while `calendar add` and `plan --deadline` read such a time in
    ALMANAC_TIMEZONE."""
    import almanac.cli.recall as recall_cli

    sent: list[dict[str, object]] = []

    def call(method: str, path: str, body: dict[str, object], **_: object) -> dict[str, object]:
        sent.append(body)
        return {"fact": {"id": 5, "content": "x"}}

    monkeypatch.setattr(recall_cli, "call", call)
    monkeypatch.setattr(recall_cli, "_print_write", lambda out, as_json: None)
    env = {"ALMANAC_TIMEZONE": "Europe/Berlin"}
    for args in (
        ["facts", "supersede", "4", "x", "--valid-from", "2026-12-10"],
        ["facts", "add", "x", "--valid-from", "2026-12-10T00:00"],
    ):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
        assert sent[-1]["valid_from"] == "2026-12-10T00:00:00+01:00", sent
    result = runner.invoke(
        app, ["facts", "add", "x", "--valid-from", "2026-12-10T09:00+00:00"], env=env
    )
    assert sent[-1]["valid_from"] == "2026-12-10T09:00+00:00", sent  # an offset given stands


def test_remember_scope_help_lists_its_values():
    result = runner.invoke(app, ["remember", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    line = next(x for x in result.output.splitlines() if "--scope" in x)
    assert all(value in line for value in get_args(MemoryScope)), line


def test_the_cli_hint_reads_no_more_than_the_rest_hint(monkeypatch: pytest.MonkeyPatch):
    """The CLI's note and REST's `hint` share one bound: a long text is a note, not a
    preference, and is not read (a hostile one used to cost seconds)."""
    from almanac.cli.recall import preference_hint
    from almanac.scheduler import preferences
    from almanac.scheduler.preferences import HINT_MAX_CHARS

    read: list[str] = []
    rules = preferences.parse_preferences

    def counted(texts: list[str]) -> Any:
        read.extend(texts)
        return rules(texts)

    monkeypatch.setattr(preferences, "parse_preferences", counted)
    assert preference_hint("No meetings before 10", None)
    assert read == ["No meetings before 10"]
    padded = "No meetings before 10. " + "Notes from the call. " * (HINT_MAX_CHARS // 20)
    assert len(padded) > HINT_MAX_CHARS and preference_hint(padded, None) is None
    assert preference_hint("work 9" + " " * 100_000 + "-17", None) is None
    # Not read at all (counted, not timed): the rules never saw either long text.
    assert read == ["No meetings before 10"]


def test_a_plain_memory_that_reads_as_a_preference_says_how_to_apply_it(cli_env: AppState):
    code, out = invoke("remember", "No meetings before 10", "--client", "4")
    assert code == 0, out
    assert "remembered event " in out and "promoted" not in out  # still a plain memory
    assert "looks like a scheduling preference (nothing before 10:00)" in out
    command = "almanac facts add 'No meetings before 10' --type preference --client 4"
    assert command in out
    code, out = invoke("remember", "Invoice Acme on the first of the month")
    assert code == 0 and "preference" not in out, out
    result = runner.invoke(app, ["remember", "Nothing after 6pm", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["promoted_to_fact_id"] is None  # stdout stays JSON
    assert "nothing after 18:00" in result.stderr
    # The suggested command makes it a fact the scheduler reads.
    code, out = invoke("facts", "add", "No meetings before 10", "--type", "preference")
    assert code == 0, out
    code, out = invoke("facts", "--subject-id", "me", "--json")
    assert "No meetings before 10" in out


def test_bad_input_exits_2_and_writes_nothing(cli_env: AppState):
    code, out = invoke("remember", "x", "--salience", "3")
    assert code == 2 and "--salience" in out and "salience_score" not in out
    code, out = invoke("remember", "x", "--metadata", "{not json")
    assert code == 2 and "metadata" in out
    code, out = invoke("recall", "x", "-k", "0")
    assert code == 2 and "k" in out
    code, out = invoke("facts", "--as-of", "2026-01-01T00:00:00")
    assert code == 2 and "--as-of" in out and "as_of" not in out


def sql(url: str, statement: str) -> list[tuple[object, ...]]:
    """Run SQL on a fresh engine (the CLI runs its own event loop, not the suite's)."""

    async def go() -> list[tuple[object, ...]]:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(statement))
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(go())


def count_events(url: str) -> int:
    return int(sql(url, "SELECT count(*) FROM events")[0][0])  # type: ignore[call-overload]


def test_import_export_roundtrip_and_rerun(cli_env: AppState, pg_url: str, tmp_path: Path):
    src = tmp_path / "in.jsonl"
    lines = [
        {
            "content": f"Imported memory {i}",
            "session_id": "imp",
            "occurred_at": "2026-03-01T09:00:00+01:00",
            "metadata": {"n": i},
        }
        for i in range(7)
    ]
    src.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    code, out = invoke("memory", "import", str(src))
    assert code == 0, out
    assert "imported 7 memories (0 already present)" in out
    code, out = invoke("memory", "import", str(src))
    assert "imported 0 memories (7 already present)" in out

    dst = tmp_path / "out.jsonl"
    code, out = invoke("memory", "export", str(dst))
    assert code == 0, out
    exported = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [e["content"] for e in exported] == [f"Imported memory {i}" for i in range(7)]
    assert exported[3]["metadata"] == {"n": 3}
    assert exported[0]["occurred_at"].startswith("2026-03-01T08:00:00")
    assert count_events(pg_url) == 7


def test_a_missing_fact_is_named_by_the_commands_argument(cli_env: AppState):
    """`facts supersede 999 x` said "fact_id: ...", where `calendar rm` says "EVENT_ID:"."""
    code, out = invoke("facts", "supersede", "999999", "x")
    assert code == 2 and "FACT_ID" in out and "fact_id" not in out, out


def test_import_with_a_bad_line_writes_nothing(cli_env: AppState, pg_url: str, tmp_path: Path):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"content": "good"}\n{"content": ""}\nnot json\n')
    code, out = invoke("memory", "import", str(src))
    assert code == 2
    assert "line 2: content" in out and "line 3" in out
    assert count_events(pg_url) == 0


def test_a_whole_export_given_to_memory_import_says_which_command_takes_it(
    cli_env: AppState, pg_url: str, tmp_path: Path
):
    """Each row of `almanac export` read as a memory: some 400 field errors."""
    src = tmp_path / "export.jsonl"
    header = {"format": "almanac-export", "version": 1, "tables": {"events": 1}}
    row = {"table": "events", "row": {"id": 1, "content": "x"}}
    src.write_text(json.dumps(header) + "\n" + json.dumps(row) + "\n")
    code, out = invoke("memory", "import", str(src))
    assert code == 2 and "is a whole export" in out and "almanac import" in out, out
    assert out.count("error:") == 1, out
    assert count_events(pg_url) == 0


def test_a_line_that_would_be_a_bad_fact_is_named_by_its_number(
    cli_env: AppState, pg_url: str, tmp_path: Path
):
    """A salient memory whose metadata names no fact type was refused by the Gateway for
    the whole batch: "error: metadata.fact_type: ...", no line, in a file of thousands."""
    about = {"subject_type": "client", "subject_id": "7", "fact_type": "bogus"}
    lines = [{"content": "good"}, {"content": "ok", "salience_score": 0.9, "metadata": about}]
    src = tmp_path / "facts.jsonl"
    src.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    code, out = invoke("memory", "import", str(src))
    assert code == 2 and "line 2: metadata.fact_type: " in out, out
    assert count_events(pg_url) == 0


def test_a_file_not_utf8_or_nested_too_deep_is_a_line_error(
    cli_env: AppState, pg_url: str, tmp_path: Path
):
    # Both were tracebacks: the file was decoded outside the per-line checks, and
    # json.loads raises RecursionError (not a ValueError) past its depth.
    src = tmp_path / "bad.jsonl"
    src.write_bytes(b'{"content": "good"}\n{"content": "caf\xe9"}\n' + b"[" * 5000 + b"\n")
    code, out = invoke("memory", "import", str(src))
    assert code == 2 and "Traceback" not in out
    assert "line 2: 'utf-8' codec" in out and "line 3:" in out
    code, out = invoke("remember", "x", "--metadata", "[" * 5000 + "]" * 5000)
    assert code == 2 and "metadata: not valid JSON" in out
    assert count_events(pg_url) == 0


def test_reindex_reembeds_other_models(cli_env: AppState, pg_url: str):
    invoke("remember", "Quarterly planning offsite in May")

    sql(pg_url, "UPDATE event_embeddings SET model = 'old-model@0'")
    code, out = invoke("memory", "reindex")
    assert code == 0, out
    assert "re-embedded 1 events" in out

    models = sql(pg_url, "SELECT DISTINCT model FROM event_embeddings")
    assert models == [(cli_env.embedder.model,)]
    code, out = invoke("recall", "offsite")
    assert "Quarterly planning offsite in May" in out


def test_db_upgrade_reports_head(cli_env: AppState):
    from alembic.script import ScriptDirectory

    from almanac.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    code, out = invoke("db", "upgrade")
    assert code == 0 and f"revision {head}" in out


def test_the_cli_reads_the_relevance_floor_recall_uses() -> None:
    from almanac.cli.recall import RELEVANCE_FLOOR
    from almanac.memory.relevance import FLOOR

    assert RELEVANCE_FLOOR == FLOOR
