"""`almanac`: the root command. Every sub-command is imported only when it runs.

To add a command or a group, add one line to COMMANDS: its name, where it lives
(`module:attr`, a function or a `typer.Typer`) and the one-line help `almanac --help`
shows without importing it.
"""

from __future__ import annotations

import typer

from almanac.cli.lazy import Lazy, lazy_group

COMMANDS: dict[str, Lazy] = {
    "serve": Lazy("almanac.cli.serve:serve", "Run the Memory Gateway and the Planner API."),
    "remember": Lazy("almanac.cli.recall:remember", "Store a memory."),
    "recall": Lazy("almanac.cli.recall:recall", "Search memories, facts and documents."),
    "facts": Lazy("almanac.cli.recall:facts_app", "Durable facts: list, add, supersede, history."),
    "plan": Lazy("almanac.cli.planner:plan", "Turn an intent into a draft plan."),
    "plans": Lazy("almanac.cli.planner:plans", "List plans, newest first."),
    "approve": Lazy("almanac.cli.planner:approve", "Approve a draft plan."),
    "schedule": Lazy("almanac.cli.scheduler:schedule", "Place an approved plan in the calendar."),
    "agenda": Lazy("almanac.cli.scheduler:agenda", "What is in the calendar for the next days."),
    "calendar": Lazy("almanac.cli.calendar:calendar_app", "The built-in calendar."),
    "workflows": Lazy("almanac.cli.workflows:workflows_app", "The workflow library."),
    "memory": Lazy("almanac.cli.memory:memory_app", "Bulk memory: import, export, reindex."),
    "jobs": Lazy("almanac.cli.jobs:jobs_app", "The background job queue."),
    "worker": Lazy("almanac.cli.jobs:worker", "Run background jobs and the clock."),
    "retention": Lazy("almanac.cli.jobs:retention_app", "Archive and delete old events."),
    "db": Lazy("almanac.cli.serve:db_app", "Database maintenance."),
    "demo": Lazy("almanac.cli.demo:demo", "The whole loop on a throwaway database."),
    "plan-show": Lazy("almanac.cli.plan_versions:plan_show", "One plan, its match and notes."),
    "plan-edit": Lazy("almanac.cli.plan_versions:plan_edit", "Replace a draft plan's SOP."),
    "plan-diff": Lazy("almanac.cli.plan_versions:plan_diff", "What changed between plan versions."),
    "replan": Lazy("almanac.cli.capabilities:replan", "Re-place a scheduled plan."),
    "runs": Lazy("almanac.cli.capabilities:runs_app", "Execution runs: start, stop, list."),
    "reflect": Lazy("almanac.cli.capabilities:reflect", "Reflect on a day or a week."),
    "sprints": Lazy("almanac.cli.sprints:sprints_app", "Weekly capacity and billable target."),
    "prompts": Lazy("almanac.cli.capabilities:prompts_app", "Prompt templates and versions."),
    "export": Lazy("almanac.cli.data:export", "Everything you own as one JSONL file."),
    "import": Lazy("almanac.cli.data:import_", "Import an export (safe to repeat)."),
    "backup": Lazy("almanac.cli.data:backup", "Back up the whole database (pg_dump)."),
    "restore": Lazy("almanac.cli.data:restore", "Restore a backup (pg_restore)."),
    "docs": Lazy("almanac.cli.docs:docs_app", "Documents recall can cite: add, list, rm."),
    "keys": Lazy("almanac.cli.keys:keys_app", "API keys: create, list, revoke."),
    "tasks": Lazy(
        "almanac.cli.tasks:tasks", "Tasks, most urgent first: by plan, status or for today."
    ),
    "done": Lazy("almanac.cli.tasks:done", "Mark a task done (optionally with hours)."),
    "log": Lazy("almanac.cli.tasks:log", "Record hours worked on a task.", numbers=True),
    "mcp": Lazy("almanac.cli.mcp:mcp", "An MCP server on stdio, for desktop assistants."),
}

# Every command takes `--json` (its answer as JSON on stdout) except these, which run until
# stopped or narrate a throwaway database: they produce no data to print.
WITHOUT_JSON: dict[str, str] = {
    "serve": "runs the server until stopped",
    "worker": "runs background jobs until stopped",
    "mcp": "speaks MCP on stdin/stdout until stopped",
    "demo": "narrates the whole loop on a throwaway database",
}

app = typer.Typer(
    cls=lazy_group(COMMANDS),
    help="Almanac: memory, planning, scheduling and reflection.",
    no_args_is_help=True,
    # Plain help and errors at the root: Rich (and the Markdown parser it brings) costs more
    # than the rest of `almanac --help`. Sub-commands keep Rich formatting.
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Almanac: memory, planning, scheduling and reflection."""
    # Every command checks the settings first: an impossible one stops it here, with the
    # variable named, rather than as a traceback or a 500 on some later request.
    from almanac.cli.settings_check import check_settings
    from almanac.cli.terminal import guard_terminal

    guard_terminal()
    check_settings()


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
