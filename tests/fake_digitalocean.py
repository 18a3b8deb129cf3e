"""A local stand-in for the DigitalOcean API v2, as far as Kubernetes node pools go: a
real HTTP server on 127.0.0.1 that follows the published API
(https://docs.digitalocean.com/reference/api/api-reference/#tag/Kubernetes):

- GET  /v2/kubernetes/clusters/{cluster_id}/node_pools           → 200 {"node_pools": [...]}
- GET  /v2/kubernetes/clusters/{cluster_id}/node_pools/{pool_id} → 200 {"node_pool": {...}}
- PUT  the same path, body `kubernetes_node_pool_update` (name and count required;
  tags, labels, taints, auto_scale, min_nodes, max_nodes) → 202 {"node_pool": {...}}
- DELETE .../node_pools/{pool_id}/nodes/{node_id}?skip_drain=0|1&replace=0|1 → 202, no body

Errors have DigitalOcean's shape, {"id": ..., "message": ...}: 401 without the bearer
token, 404 for an unknown cluster, pool or node, 400 for a body that is not JSON, 422
for a body that breaks the schema. Every answer carries the ratelimit-* headers.

What DigitalOcean does behind the API is simulated in steps the test controls:
a grown count adds nodes in state `provisioning` (DigitalOcean picks their names);
a deleted node goes `draining` (or `deleting` with skip_drain=1) and the count drops
by one (unless replace=1); a lowered count marks the newest nodes `deleting` (the API
picks them: what the scaler must never rely on). `advance()` is "time passes":
provisioning nodes are running, draining and deleting ones gone. With autoscaling on,
a count outside min..max is taken as min_nodes (as DigitalOcean documents for its
Terraform provider). A PUT replaces the tags, labels and taints with the body's (empty
when left out), so a client that forgets them strips the pool's taints here too.

`fail_next(method, status)` makes the next matching request fail, to test retries and
crashes; `on_request` lets a test act while a request is under way.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

RATE_LIMIT = 5000
AUTO_TAGS = ("k8s", "k8s-worker")  # plus k8s:<cluster id>
_POOLS = re.compile(r"^/v2/kubernetes/clusters/(?P<cluster>[^/]+)/node_pools$")
_POOL = re.compile(r"^/v2/kubernetes/clusters/(?P<cluster>[^/]+)/node_pools/(?P<pool>[^/]+)$")
_NODE = re.compile(r"^/v2/kubernetes/clusters/(?P<cluster>[^/]+)/node_pools/(?P<pool>[^/]+)/nodes/(?P<node>[^/]+)$")
_ERRORS = {
    400: ("bad_request", "The request could not be understood: the body must be JSON."),
    401: ("Unauthorized", "Unable to authenticate you."),
    404: ("not_found", "The resource you were accessing could not be found."),
    429: ("too_many_requests", "API Rate limit exceeded."),
    500: ("server_error", "Unexpected server-side error"),
    503: ("service_unavailable", "The service is temporarily unavailable."),
}


class ApiError(Exception):
    def __init__(self, status: int, message: str | None = None, error_id: str | None = None):
        self.status = status
        default_id, default_message = _ERRORS.get(status, ("unprocessable_entity", ""))
        self.error_id = error_id or default_id
        self.message = message or default_message
        super().__init__(self.message)


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: object
    status: int


@dataclass
class _Failure:
    method: str
    status: int
    times: int


@dataclass
class FakeDigitalOcean:
    token: str = "do-test-token"
    clusters: dict[str, dict[str, dict]] = field(default_factory=dict)  # cluster id → pool id → node_pool
    calls: list[Call] = field(default_factory=list)
    #: A test's hook, called with (method, path) as each request comes in.
    on_request: Callable[[str, str], None] | None = None
    _failures: list[_Failure] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = None

    # --- the test's side -------------------------------------------------------
    def add_pool(self, cluster_id: str, name: str, *, count: int = 0, size: str = "c-4", auto_scale: bool = False,
                 min_nodes: int = 0, max_nodes: int = 0, taints: list | None = None, labels: dict | None = None) -> dict:
        """A node pool with `count` running nodes; returns it (the live dict)."""
        with self._lock:
            pool = {
                "id": str(uuid.uuid4()), "name": name, "size": size, "count": 0,
                "tags": [*AUTO_TAGS, f"k8s:{cluster_id}"], "labels": labels, "taints": list(taints or []),
                "auto_scale": auto_scale, "min_nodes": min_nodes if auto_scale else 0,
                "max_nodes": max_nodes if auto_scale else 0, "nodes": [],
            }
            self.clusters.setdefault(cluster_id, {})[pool["id"]] = pool
            _resize(pool, count)
            for node in pool["nodes"]:
                node["status"]["state"] = "running"
            return pool

    def resize_now(self, cluster_id: str, pool_id: str, count: int) -> None:
        """The pool at `count` running nodes, as if resized long ago (test setup)."""
        with self._lock:
            pool = self.clusters[cluster_id][pool_id]
            _resize(pool, count)
            pool["nodes"] = [n for n in pool["nodes"] if n["status"]["state"] != "deleting"]
            for node in pool["nodes"]:
                node["status"]["state"] = "running"

    def pool(self, cluster_id: str, pool_id: str) -> dict:
        with self._lock:
            return json.loads(json.dumps(self.clusters[cluster_id][pool_id]))

    def advance(self) -> None:
        """Time passes: nodes being made are running, nodes being removed are gone."""
        with self._lock:
            for pools in self.clusters.values():
                for pool in pools.values():
                    pool["nodes"] = [n for n in pool["nodes"] if n["status"]["state"] not in ("draining", "deleting")]
                    for node in pool["nodes"]:
                        if node["status"]["state"] == "provisioning":
                            node["status"]["state"], node["updated_at"] = "running", _now()

    def fail_next(self, method: str, status: int, times: int = 1) -> None:
        with self._lock:
            self._failures.append(_Failure(method.upper(), status, times))

    def writes(self) -> list[Call]:
        """The requests that changed something (or tried to)."""
        return [c for c in self.calls if c.method != "GET"]

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FakeDigitalOcean":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-digitalocean", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- the API's side --------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], headers, raw: bytes) -> tuple[int, object]:
        if self.on_request is not None:
            self.on_request(method, path)
        with self._lock:
            if headers.get("Authorization") != f"Bearer {self.token}":
                raise ApiError(401)
            for failure in self._failures:
                if failure.method == method:
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    raise ApiError(failure.status)
            if (match := _POOLS.match(path)) and method == "GET":
                return 200, {"node_pools": list(self._cluster(match["cluster"]).values())}
            if match := _POOL.match(path):
                pool = self._pool(match["cluster"], match["pool"])
                if method == "GET":
                    return 200, {"node_pool": pool}
                if method == "PUT":
                    _update(pool, _json(raw), match["cluster"])
                    return 202, {"node_pool": pool}
            if (match := _NODE.match(path)) and method == "DELETE":
                pool = self._pool(match["cluster"], match["pool"])
                _delete_node(pool, match["node"], query.get("skip_drain", "0") == "1", query.get("replace", "0") == "1")
                return 202, None
            raise ApiError(404)

    def _cluster(self, cluster_id: str) -> dict[str, dict]:
        if cluster_id not in self.clusters:
            raise ApiError(404)
        return self.clusters[cluster_id]

    def _pool(self, cluster_id: str, pool_id: str) -> dict:
        pools = self._cluster(cluster_id)
        if pool_id not in pools:
            raise ApiError(404)
        return pools[pool_id]


def _update(pool: dict, body: object, cluster_id: str) -> None:
    """PUT: validate `kubernetes_node_pool_update`, then apply it whole."""
    if not isinstance(body, dict):
        raise ApiError(422, "the body must be a JSON object")
    name, count = body.get("name"), body.get("count")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(422, "name is required")
    if not _is_int(count) or count < 0:
        raise ApiError(422, "count is required and must be a non-negative integer")
    auto_scale = body.get("auto_scale", False)
    if not isinstance(auto_scale, bool):
        raise ApiError(422, "auto_scale must be a boolean")
    min_nodes, max_nodes = body.get("min_nodes", 0), body.get("max_nodes", 0)
    if auto_scale:
        if not (_is_int(min_nodes) and _is_int(max_nodes)) or min_nodes < 0 or max_nodes < 1 or min_nodes > max_nodes:
            raise ApiError(422, "with auto_scale, min_nodes must be >= 0 and <= max_nodes, and max_nodes >= 1")
        if not min_nodes <= count <= max_nodes:
            count = min_nodes
    for key, kind in (("tags", list), ("taints", list), ("labels", (dict, type(None)))):
        if key in body and not isinstance(body[key], kind):
            raise ApiError(422, f"{key} has the wrong type")
    pool["name"] = name
    pool["tags"] = list(dict.fromkeys([*AUTO_TAGS, f"k8s:{cluster_id}", *body.get("tags", [])]))
    pool["labels"] = body.get("labels")
    pool["taints"] = list(body.get("taints", []))
    pool["auto_scale"] = auto_scale
    pool["min_nodes"], pool["max_nodes"] = (min_nodes, max_nodes) if auto_scale else (0, 0)
    _resize(pool, count)


def _resize(pool: dict, count: int) -> None:
    """DigitalOcean makes or picks nodes to match the count (newest go first)."""
    alive = [n for n in pool["nodes"] if n["status"]["state"] in ("provisioning", "running")]
    for node in alive[count:]:
        node["status"]["state"] = "deleting"
    for _ in range(count - len(alive)):
        pool["nodes"].append(_new_node(pool))
    pool["count"] = count


def _delete_node(pool: dict, node_id: str, skip_drain: bool, replace: bool) -> None:
    node = next((n for n in pool["nodes"] if n["id"] == node_id and n["status"]["state"] in ("provisioning", "running")), None)
    if node is None:
        raise ApiError(404)
    node["status"]["state"], node["updated_at"] = ("deleting" if skip_drain else "draining"), _now()
    if replace:
        pool["nodes"].append(_new_node(pool))
    else:
        pool["count"] -= 1


def _new_node(pool: dict) -> dict:
    now = _now()
    return {
        "id": str(uuid.uuid4()), "name": f"{pool['name']}-{uuid.uuid4().hex[:5]}",
        "status": {"state": "provisioning"}, "droplet_id": str(uuid.uuid4().int % 10**9),
        "created_at": now, "updated_at": now,
    }


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise ApiError(400) from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _handler(api: FakeDigitalOcean) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        do_PUT = do_DELETE = do_POST = do_GET

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                status, body = api.handle(self.command, parts.path, query, self.headers, raw)
            except ApiError as err:
                status, body = err.status, {"id": err.error_id, "message": err.message}
            try:
                sent = json.loads(raw) if raw else None
            except ValueError:
                sent = raw
            with api._lock:
                api.calls.append(Call(self.command, parts.path, query, sent, status))
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("ratelimit-limit", str(RATE_LIMIT))
            self.send_header("ratelimit-remaining", "0" if status == 429 else str(RATE_LIMIT - len(api.calls)))
            self.send_header("ratelimit-reset", str(int(time.time())))
            if payload:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    return Handler
