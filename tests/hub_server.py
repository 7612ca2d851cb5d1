"""Test helpers for the weights layer: a loopback Hub/URL server and test registries.

`HubServer` speaks just enough of the Hugging Face Hub protocol for `hf_hub_download`
(HEAD/GET on /{repo_id}/resolve/{revision}/{filename} with ETag, X-Repo-Commit, Content-Length and
Range support) and serves plain URLs; faults (404, 500, truncated body, slow body) can be queued
per path, and every request is logged so tests can count them. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

COMMIT_A = "a" * 40


class HubServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hub_commits: dict[str, str] = {}
        self.faults: dict[str, list[str]] = defaultdict(list)  # consumed one per request
        self.sticky: dict[str, str] = {}  # applied to every request
        self.log: list[tuple[str, str]] = []
        self.slow_s = 0.0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                server._handle(self, head=True)

            def do_GET(self) -> None:
                server._handle(self, head=False)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- setup ------------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def add_hub_file(self, repo_id: str, filename: str, data: bytes, revision: str = COMMIT_A) -> str:
        path = f"/{repo_id}/resolve/{revision}/{filename}"
        self.files[path] = data
        self.hub_commits[path] = revision
        return path

    def add_url(self, path: str, data: bytes) -> str:
        self.files[path] = data
        return self.base + path

    def fail(self, path: str, *faults: str) -> None:
        """Queue faults ('404', '500', 'truncate') for the next requests of `path`."""
        self.faults[path].extend(faults)

    def count(self, path: str | None = None, method: str | None = None) -> int:
        with self._lock:
            return sum(
                1 for m, p in self.log if (path is None or p == path) and (method is None or m == method)
            )

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- serving ----------------------------------------------------------------------------------
    def _next_fault(self, path: str, head: bool) -> str | None:
        with self._lock:
            if path in self.sticky:
                return self.sticky[path]
            queue = self.faults.get(path)
            if not queue:
                return None
            if head and queue[0] == "truncate":  # a truncated body only exists for GET
                return None
            return queue.pop(0)

    def _handle(self, req: BaseHTTPRequestHandler, head: bool) -> None:
        path = req.path.split("?", 1)[0]
        with self._lock:
            self.log.append(("HEAD" if head else "GET", path))
        fault = self._next_fault(path, head)
        data = self.files.get(path)
        if fault == "404" or data is None:
            req.send_response(404)
            req.send_header("X-Error-Code", "EntryNotFound")
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        if fault == "500":
            req.send_response(500)
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        start = 0
        rng = req.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[len("bytes="):-1])
        body = data[start:]
        req.send_response(206 if start else 200)
        if path in self.hub_commits:
            req.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            req.send_header("X-Repo-Commit", self.hub_commits[path])
        if start:
            req.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        req.send_header("Accept-Ranges", "bytes")
        req.send_header("Content-Type", "application/octet-stream")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        if head:
            return
        if fault == "truncate":
            req.wfile.write(body[: len(body) // 2])
            req.wfile.flush()
            req.close_connection = True
            return
        pieces = 4 if self.slow_s else 1
        step = max(1, -(-len(body) // pieces))
        for i in range(0, len(body), step):
            req.wfile.write(body[i : i + step])
            req.wfile.flush()
            if self.slow_s:
                time.sleep(self.slow_s)


# ---- a tiny TOML writer for test registries ---------------------------------------------------


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(v)


def write_registry(path: Path, items: list[dict[str, Any]]) -> Path:
    """Write [[weights]] tables; `sources` (list of dicts), `keymap`, `config`, `views` become sub-tables."""
    lines: list[str] = []
    for item in items:
        lines.append("[[weights]]")
        for k, v in item.items():
            if k not in ("sources", "keymap", "config", "views"):
                lines.append(f"{k} = {_toml_value(v)}")
        for src in item.get("sources", []):
            lines.append("[[weights.sources]]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in src.items()]
        for table in ("keymap", "config"):
            if item.get(table):
                lines.append(f"[weights.{table}]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in item[table].items()]
        for view, km in item.get("views", {}).items():
            lines.append(f"[weights.views.{view}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in km.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def entry_dict(
    name: str, data: bytes | None, *, sources: list[dict], tofu: bool = False, **extra: Any
) -> dict:
    """A registry entry for test bytes `data` (sha256/size filled in unless tofu)."""
    item: dict[str, Any] = {
        "name": name,
        "description": f"test checkpoint {name}",
        "architecture": "test",
        "filename": f"{name}.bin",
        "format": "torch-pickle",
        "license": "CC0-1.0",
        "non_commercial": False,
        "upstream": "tests",
        "sha256": "" if tofu or data is None else hashlib.sha256(data).hexdigest(),
        "sources": sources,
    }
    if tofu:
        item["trust_on_first_use"] = True
    elif data is not None:
        item["size"] = len(data)
    item.update(extra)
    return item


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def resolve_in_child(name: str, context, results) -> None:
    """multiprocessing target: resolve `name` in a fresh process and report (path, sha256) or the error."""
    from facefill.weights import resolve
    from facefill.weights.verify import sha256_file

    try:
        path = resolve(name, context)
        results.put((str(path), sha256_file(path)))
    except Exception as exc:  # reported to the parent test
        results.put(("error", repr(exc)))
