"""TEST DOUBLE: a stand-in for Zep Cloud's v2 REST API, the endpoints Almanac's provider uses.

Not Zep: it keeps users, threads and messages in memory and "searches" by counting shared
words, which is enough to check what Almanac sends and how it fuses what comes back. It
speaks the JSON shapes the `zep-cloud` SDK parses (users, threads, messages, graph search
for edges and episodes, deletes of users, threads and graph episodes), checks the
`Authorization: Api-Key` header, records every request, and can be told to answer
slowly (`delay` for search, `delay_all` for everything) or with an error (`fail_status`;
`search_reply`: any status and bytes, for search alone).
With `learn`, each graph episode added (`graph.add`) teaches it one fact (edge) holding the
episode's text, valid from its `created_at`, as Zep's extraction would; with `learn_later`
too, the episode stays unprocessed, and teaches nothing, until `learn_pending()`. Edges are
listed per user (filtered by `episode_uuids`) and updated (`PATCH graph/edge/<uuid>`).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.doubles.loopback import JSONHandler, Loopback

_WORD = re.compile(r"\w+")
_NOW = "2026-11-29T12:00:00Z"


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if len(w) > 2}


@dataclass
class ZepFact:
    fact: str
    valid_at: str | None = None
    invalid_at: str | None = None
    name: str = "RELATES_TO"
    subject: str = "Acme"
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    # The episodes (messages) it was extracted from: deleting one deletes it, as in Zep.
    episodes: list[str] = field(default_factory=list)


@dataclass
class FakeZep:
    """Start with `start()` (or as a context manager); `base_url` ends in `/api/v2`."""

    api_key: str = "zep-test-key"
    delay: float = 0.0  # seconds to wait before answering graph search
    delay_all: float = 0.0  # seconds to wait before answering any request (a slow Zep)
    fail_status: int | None = None  # answer every request with this status
    # Answer graph search (alone) with this status and these bytes as they are: a search
    # quota spent (429), or not JSON, or JSON of another shape than the API's.
    search_reply: tuple[int, bytes] | None = None
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: dict[str, dict[str, Any]] = field(default_factory=dict)
    facts: dict[str, list[ZepFact]] = field(default_factory=dict)  # by user id
    episodes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # graph.add, by user
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    deleted_episodes: list[str] = field(default_factory=list)
    learn: bool = False
    learn_later: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loopback: Loopback | None = None

    @property
    def base_url(self) -> str:
        assert self._loopback is not None, "server not started"
        return self._loopback.base_url.removesuffix("/v1") + "/api/v2"

    def messages(self, thread_id: str | None = None) -> list[dict[str, Any]]:
        """Every message stored (in one thread, or all)."""
        return [
            m
            for tid, t in self.threads.items()
            if thread_id is None or tid == thread_id
            for m in t["messages"]
        ]

    def learn_pending(self) -> None:
        """Process the episodes `learn_later` held: each teaches its fact now."""
        with self._lock:
            for uid, eps in self.episodes.items():
                for ep in eps:
                    if ep.get("processed") is False:
                        self._learn(uid, ep)

    def _learn(self, uid: str, episode: dict[str, Any]) -> None:
        episode["processed"] = True
        # Worded as Zep's own (recall merges a Zep fact worded as a local one into it).
        fact = ZepFact(
            f"Zep learnt: {episode['content']}",
            valid_at=episode["created_at"],
            episodes=[episode["uuid"]],
        )
        self.facts.setdefault(uid, []).append(fact)

    def start(self) -> FakeZep:
        self._loopback = Loopback(_handler(self), "fake-zep")
        return self

    def close(self) -> None:
        if self._loopback is not None:
            self._loopback.close()

    def __enter__(self) -> FakeZep:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the API -------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        """(status, payload) for one request."""
        parts = path.removeprefix("/api/v2/").strip("/").split("/")
        with self._lock:
            if method == "GET" and parts[0] == "users" and len(parts) == 2:
                user = self.users.get(parts[1])
                return (200, user) if user else (404, {"message": "not found"})
            if method == "POST" and parts == ["users"]:
                uid = body["user_id"]
                if uid in self.users:
                    return 400, {"message": f"user {uid} already exists"}
                self.users[uid] = {"user_id": uid, "uuid": str(uuid.uuid4()), "created_at": _NOW}
                return 201, self.users[uid]
            if method == "POST" and parts == ["threads"]:
                tid, uid = body["thread_id"], body["user_id"]
                if uid not in self.users:
                    return 404, {"message": f"user {uid} not found"}
                if tid in self.threads:
                    return 400, {"message": f"thread {tid} already exists"}
                self.threads[tid] = {"thread_id": tid, "user_id": uid, "messages": []}
                return 201, {"thread_id": tid, "user_id": uid, "uuid": str(uuid.uuid4())}
            if parts[0] == "threads" and len(parts) == 3 and parts[2] == "messages":
                thread = self.threads.get(parts[1])
                if thread is None:
                    return 404, {"message": "thread not found"}
                if method == "GET":
                    lastn = int(query.get("lastn", ["0"])[0]) or None
                    msgs = thread["messages"][-lastn:] if lastn else thread["messages"]
                    return 200, {
                        "messages": msgs,
                        "row_count": len(msgs),
                        "total_count": len(thread["messages"]),
                        "user_id": thread["user_id"],
                    }
                for m in body["messages"]:
                    thread["messages"].append({**m, "uuid": str(uuid.uuid4()), "processed": True})
                return 200, {"context": None}
            if method == "POST" and parts == ["graph"]:
                uid = body.get("user_id")
                if uid not in self.users:
                    return 404, {"message": f"user {uid} not found"}
                episode = {
                    "uuid": str(uuid.uuid4()),
                    "content": body["data"],
                    "created_at": body.get("created_at") or _NOW,
                    "metadata": body.get("metadata"),
                    "source_description": body.get("source_description"),
                }
                self.episodes.setdefault(uid, []).append(episode)
                if self.learn and self.learn_later:
                    episode["processed"] = False
                elif self.learn:
                    self._learn(uid, episode)
                return 202, episode
            if method == "GET" and parts[:2] == ["graph", "episodes"] and len(parts) == 3:
                found = [e for eps in self.episodes.values() for e in eps if e["uuid"] == parts[2]]
                return (200, found[0]) if found else (404, {"message": "episode not found"})
            if method == "GET" and parts[:3] == ["graph", "episodes", "user"] and len(parts) == 4:
                lastn = int(query.get("lastn", ["0"])[0]) or None
                eps = self.episodes.get(parts[3], [])
                return 200, {"episodes": eps[-lastn:] if lastn else eps}
            if method == "POST" and parts[:3] == ["graph", "edge", "user"] and len(parts) == 4:
                if parts[3] not in self.users:
                    return 404, {"message": "user not found"}
                wanted = ((body or {}).get("filters") or {}).get("episode_uuids")
                return 200, [
                    self._edge(f, None)
                    for f in self.facts.get(parts[3], [])
                    if wanted is None or set(wanted) & set(f.episodes)
                ]
            if method == "PATCH" and parts[:2] == ["graph", "edge"] and len(parts) == 3:
                return self._update_edge(parts[2], body or {})
            if method == "POST" and parts == ["graph", "search"]:
                return 200, self._search(body)
            if method == "DELETE":
                return self._delete(parts)
        return 404, {"message": f"no route {method} {path}"}

    def _delete(self, parts: list[str]) -> tuple[int, dict[str, Any]]:
        """Users (with their threads, episodes and facts), threads, graph episodes."""
        ok = {"message": "deleted"}
        if parts[0] == "users" and len(parts) == 2:
            if self.users.pop(parts[1], None) is None:
                return 404, {"message": "user not found"}
            for tid in [t for t, th in self.threads.items() if th["user_id"] == parts[1]]:
                del self.threads[tid]
            self.episodes.pop(parts[1], None)
            self.facts.pop(parts[1], None)
            return 200, ok
        if parts[0] == "threads" and len(parts) == 2:
            thread = self.threads.pop(parts[1], None)
            if thread is None:
                return 404, {"message": "thread not found"}
            # Zep's graph keeps what it learnt from the thread: each message's episode
            # (under the message's uuid) stays until deleted itself.
            self.episodes.setdefault(thread["user_id"], []).extend(
                {"uuid": m["uuid"], "content": m["content"], "created_at": _NOW}
                for m in thread["messages"]
                if m["uuid"] not in self.deleted_episodes
            )
            return 200, ok
        if parts[:2] == ["graph", "episodes"] and len(parts) == 3:
            # A thread message is also an episode of the user's graph, under its uuid.
            found = False
            for eps in self.episodes.values():
                found = found or any(e["uuid"] == parts[2] for e in eps)
                eps[:] = [e for e in eps if e["uuid"] != parts[2]]
            found = found or any(
                m["uuid"] == parts[2] for t in self.threads.values() for m in t["messages"]
            )
            if not found:
                return 404, {"message": "episode not found"}
            self.deleted_episodes.append(parts[2])
            for facts in self.facts.values():
                facts[:] = [f for f in facts if parts[2] not in f.episodes]
            return 200, ok
        return 404, {"message": "no such route"}

    def _update_edge(self, ref: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for f in (f for facts in self.facts.values() for f in facts):
            if f.uuid == ref:
                for key in ("fact", "name", "valid_at", "invalid_at"):
                    if body.get(key) is not None:
                        setattr(f, key, body[key])
                return 200, self._edge(f, None)
        return 404, {"message": "edge not found"}

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        user, words, limit = body["user_id"], _words(body["query"]), body.get("limit") or 10
        if body.get("scope") == "episodes":
            found = []
            for tid, t in self.threads.items():
                if t["user_id"] != user:
                    continue
                for m in t["messages"]:
                    score = len(words & _words(m["content"])) / (len(words) or 1)
                    if score > 0:
                        found.append((score, tid, m))
            found.sort(key=lambda x: x[0], reverse=True)
            episodes = [
                {
                    "uuid": m["uuid"],
                    "content": m["content"],
                    "created_at": _NOW,
                    "thread_id": tid,
                    "score": score,
                }
                for score, tid, m in found[:limit]
            ]
            return {"episodes": episodes}
        scored = [
            (len(words & _words(f.fact)) / (len(words) or 1), f) for f in self.facts.get(user, [])
        ]
        scored = sorted((s for s in scored if s[0] > 0), key=lambda x: x[0], reverse=True)
        return {"edges": [self._edge(f, score) for score, f in scored[:limit]]}

    @staticmethod
    def _edge(f: ZepFact, score: float | None) -> dict[str, Any]:
        return {
            "uuid": f.uuid,
            "fact": f.fact,
            "name": f.name,
            "created_at": _NOW,
            "source_node_uuid": str(uuid.uuid5(uuid.NAMESPACE_OID, f.subject)),
            "source_node_name": f.subject,
            "target_node_uuid": str(uuid.uuid4()),
            "valid_at": f.valid_at,
            "invalid_at": f.invalid_at,
            "score": score,
            "episodes": f.episodes,
        }


def _handler(zep: FakeZep) -> type[JSONHandler]:
    class Handler(JSONHandler):
        def _dispatch(self, method: str) -> None:
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            zep.requests.append((method, url.path))
            if self.headers.get("Authorization") != f"Api-Key {zep.api_key}":
                self._send(401, {"message": "unauthorized"})
                return
            if zep.fail_status is not None:
                self._send(zep.fail_status, {"message": "scripted failure"})
                return
            if zep.search_reply is not None and url.path.endswith("/graph/search"):
                self._raw(*zep.search_reply)
                return
            if zep.delay and url.path.endswith("/graph/search"):
                time.sleep(zep.delay)
            if zep.delay_all:
                time.sleep(zep.delay_all)
            body = json.loads(raw) if raw else None
            status, payload = zep.handle(method, url.path, parse_qs(url.query), body)
            self._send(status, payload)

        def _raw(self, status: int, data: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                # The SDK's own retries of a 429 or a 5xx go at once, not after its backoff
                # (1.5 s of it would eat the time /health gives its probes).
                self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def do_PATCH(self) -> None:
            self._dispatch("PATCH")

    return Handler
