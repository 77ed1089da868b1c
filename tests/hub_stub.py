"""A loopback stand-in for the Hugging Face Hub endpoints that ``huggingface_hub`` uploads through.

No machine here reaches the hub, so tests point ``HfApi(endpoint=...)`` / ``HF_ENDPOINT`` at this.
It implements what ``create_repo`` and ``create_commit``/``upload_folder`` of small files call (read
from huggingface_hub 2.4's ``hf_api.py`` and ``_commit_api.py``, confirmed by the request log):

- ``GET  /api/whoami-v2``                          the token's user, or 401
- ``POST /api/repos/create``                       ``{"url"}``; 409 when it exists (``exist_ok``)
- ``GET  /api/models/{repo}[/revision/{rev}]``     repo info (``create_repo`` asks after a 401)
- ``POST /api/validate-yaml``                      the README.md metadata check; refuses a path as
                                                   ``base_model`` the way the hub does
- ``POST /api/models/{repo}/preupload/{revision}`` every file ``"regular"``: its bytes ride in
                                                   the commit. The hub answers ``"lfs"`` for weights
                                                   (``*.safetensors``), which then go to Xet
                                                   storage; that protocol is not stubbed.
- ``POST /api/models/{repo}/commit/{revision}``    NDJSON header + base64 files; stores them

Every request is recorded (method, path, whether a valid token came with it), and any other
route answers 404 so that a new call of the client shows up in ``unexpected``. Run the client
with telemetry off (``HF_HUB_DISABLE_TELEMETRY``): otherwise it also fetches
``/api/agent-harnesses`` once a day, for its user agent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

import yaml

USER = "stub-user"
INFO_ROUTE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(/revision/.+)?$")
REPO_ROUTE = re.compile(
    r"^/api/models/(?P<repo>[^/]+/[^/]+)/(?P<action>preupload|commit)/(?P<rev>.+)$"
)


@dataclass
class Recorded:
    method: str
    path: str
    auth: str  # "valid", "invalid" or "missing"; the token itself is never kept


@dataclass
class Repo:
    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)


class HubStub:
    """``with HubStub(token) as hub:`` serves on ``hub.url``; ``hub.repos`` holds what was pushed.

    ``stall_s`` delays the answer of a path (to test timeouts).
    """

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[Recorded] = []
        self.repos: dict[str, Repo] = {}
        self.unexpected: list[str] = []
        self.stall_s: dict[str, float] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- routes

    def answer(self, method: str, path: str, auth: str, body: bytes) -> tuple[int, Any, dict]:
        if path == "/api/whoami-v2" and method == "GET":
            if auth != "valid":
                return 401, {"error": "Invalid credentials in Authorization header"}, {}
            return 200, {"type": "user", "name": USER, "auth": {"type": "access_token"}}, {}
        if path == "/api/validate-yaml" and method == "POST":
            return self._validate_yaml(json.loads(body)["content"])
        if path == "/api/repos/create" and method == "POST":
            if auth != "valid":
                return 401, {"error": "Invalid username or password."}, {}
            return self._create_repo(json.loads(body))
        info = INFO_ROUTE.match(path)
        if info and method == "GET":
            return self._repo_info(info["repo"], auth)
        route = REPO_ROUTE.match(path)
        if route and method == "POST":
            if auth != "valid":
                return 401, {"error": "Invalid credentials in Authorization header"}, {}
            repo = self.repos.get(route["repo"])
            if repo is None:
                return 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
            if route["action"] == "preupload":
                return self._preupload(json.loads(body))
            return self._commit(route["repo"], repo, body)
        self.unexpected.append(f"{method} {path}")
        return 404, {"error": f"the hub stub does not implement {method} {path}"}, {}

    def _validate_yaml(self, content: str) -> tuple[int, Any, dict]:
        match = re.match(r"^---\n(.*?)\n---\n", content, re.DOTALL)
        metadata = yaml.safe_load(match[1]) if match else {}
        base = (metadata or {}).get("base_model")
        if isinstance(base, str) and (base.startswith(("/", ".")) or base.count("/") > 1):
            message = f'"base_model" with value "{base}" is not a valid model id'
            return 400, {"errors": [{"message": message}], "warnings": []}, {}
        return 200, {"errors": [], "warnings": []}, {}

    def _create_repo(self, payload: dict[str, Any]) -> tuple[int, Any, dict]:
        repo_id = f"{payload.get('organization') or USER}/{payload['name']}"
        url = f"{self.url}/{repo_id}"
        if repo_id in self.repos:
            return 409, {"error": "You already created this model repo", "url": url}, {}
        self.repos[repo_id] = Repo(private=payload.get("visibility") == "private")
        return 200, {"url": url, "name": repo_id, "id": hashlib.sha1(url.encode()).hexdigest()}, {}

    def _repo_info(self, repo_id: str, auth: str) -> tuple[int, Any, dict]:
        repo = self.repos.get(repo_id)
        if auth == "invalid":
            return 401, {"error": "Invalid credentials in Authorization header"}, {}
        if repo is None or (repo.private and auth != "valid"):
            return 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
        sha = repo.commits[-1]["oid"] if repo.commits else "0" * 40
        return 200, {"id": repo_id, "sha": sha, "private": repo.private}, {}

    def _preupload(self, payload: dict[str, Any]) -> tuple[int, Any, dict]:
        files = [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
            for f in payload["files"]
        ]
        return 200, {"files": files, "commitOid": "0" * 40}, {}

    def _commit(self, repo_id: str, repo: Repo, body: bytes) -> tuple[int, Any, dict]:
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        header, *operations = lines
        added: dict[str, bytes] = {}
        for operation in operations:
            if operation["key"] != "file":
                return 400, {"error": f"the hub stub has no {operation['key']} support"}, {}
            added[operation["value"]["path"]] = base64.b64decode(operation["value"]["content"])
        if "README.md" in added:
            status, answer, _ = self._validate_yaml(added["README.md"].decode())
            if status != 200:
                return status, {"error": answer["errors"][0]["message"]}, {}
        repo.files.update(added)
        oid = hashlib.sha1(body).hexdigest()
        repo.commits.append({"oid": oid, "summary": header["value"]["summary"], "files": added})
        return (
            200,
            {
                "success": True,
                "commitOid": oid,
                "commitUrl": f"{self.url}/{repo_id}/commit/{oid}",
                "pullRequestUrl": None,
            },
            {},
        )

    # ---------------------------------------------------------------- server

    def __enter__(self) -> HubStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                path = urlparse(self.path).path
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                given = self.headers.get("Authorization")
                auth = (
                    "missing"
                    if given is None
                    else "valid"
                    if given == f"Bearer {stub.token}"
                    else "invalid"
                )
                with stub._lock:
                    stub.requests.append(Recorded(self.command, path, auth))
                time.sleep(stub.stall_s.get(path, 0.0))
                with stub._lock:
                    status, answer, headers = stub.answer(self.command, path, auth, body)
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except ConnectionError:
                    pass  # the client gave up first (a timeout test)

            do_GET = do_POST = do_HEAD = _serve  # noqa: N815 (http.server's names)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        serve = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        serve.start()  # a short poll interval: shutdown() returns within 50 ms
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
