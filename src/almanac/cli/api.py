"""`call`: one API request from a command, to the running server or the app in-process.

Kept apart from `connect` (standard library only, shared by the in-process runtime) so
that the fast path never imports the app, and the two modules do not import each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from almanac.cli.connect import fail, not_answering_message, problem_text, request, target


def call(
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    body: Any = None,
    url: str | None = None,
    service: str = "planner",
    names: Mapping[str, str] | None = None,
    optional: bool = False,
) -> Any:
    """Call the API (a server, or the app in-process) and return the JSON body.

    A problem answer becomes a message on stderr and exit code 2 (4xx) or 1, naming the
    fields by the command's options in `names` (the API's name → the option's). With
    `optional` (a follow-up a command can do without), a problem or no answer is None.
    """
    base, record = target(url, service)
    if base is None:
        status, answer = _in_process(method, path, params, body)
    else:
        try:
            status, answer = request(base, method, path, params=params, body=body)
        except OSError as exc:
            if optional:
                return None
            raise fail(not_answering_message(base, record, exc), 1) from exc
    if status >= 400 and optional:
        return None
    if status >= 400:
        raise fail(problem_text(answer, status, names), 2 if status < 500 else 1)
    return answer


def _in_process(
    method: str, path: str, params: dict[str, Any] | None, body: Any
) -> tuple[int, Any]:
    from almanac.cli.runtime import in_process_request

    return in_process_request(method, path, params=params, body=body)


def given(**values: Any) -> dict[str, Any]:
    """A request body of the options given (None: not given)."""
    return {k: v for k, v in values.items() if v is not None}
