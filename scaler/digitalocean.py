"""A small client of the DigitalOcean API v2, for the one thing the scaler does there:
size one Kubernetes node pool.

- `node_pool()`: GET /v2/kubernetes/clusters/{cluster}/node_pools/{pool}
- `update_node_pool(...)`: PUT the same path. DigitalOcean requires `name` and `count`
  in the body and treats it as the whole pool, so the pool's tags, labels and taints
  are sent back as read: leaving them out would strip the worker pool's taint.
- `delete_node(node_id)`: DELETE .../nodes/{node} with skip_drain=0 and replace=0,
  which removes that very node (drained first) and lowers the count by one. Lowering
  the count instead would let DigitalOcean pick the node, maybe a busy one.

Requests carry the token as a bearer token. A 429, a 5xx or a dropped connection is
retried with exponential backoff (honouring `ratelimit-reset` on a 429); any other
error raises a `DigitalOceanError` with the status and DigitalOcean's "id" and
"message".
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import requests

from scaler import defaults
from scaler.exceptions import DigitalOceanError
from volley import __version__

log = logging.getLogger("volley.scaler")


@dataclass(frozen=True)
class Node:
    id: str
    name: str  # the Kubernetes node's name (spec.nodeName of its pods)
    state: str  # provisioning | running | draining | deleting

    @property
    def up(self) -> bool:
        return self.state in defaults.NODE_STATES_UP


@dataclass(frozen=True)
class NodePool:
    id: str
    name: str
    count: int
    auto_scale: bool
    min_nodes: int
    max_nodes: int
    nodes: tuple[Node, ...]
    #: Sent back unchanged on update (DigitalOcean replaces what the body holds).
    tags: tuple[str, ...] = ()
    labels: dict | None = None
    taints: tuple[dict, ...] = ()

    @classmethod
    def from_api(cls, data: dict) -> "NodePool":
        return cls(
            id=data["id"], name=data["name"], count=int(data["count"]),
            auto_scale=bool(data.get("auto_scale")), min_nodes=int(data.get("min_nodes") or 0),
            max_nodes=int(data.get("max_nodes") or 0),
            nodes=tuple(Node(n["id"], n["name"], (n.get("status") or {}).get("state", "")) for n in data.get("nodes") or ()),
            tags=tuple(data.get("tags") or ()), labels=data.get("labels"), taints=tuple(data.get("taints") or ()),
        )

    @property
    def nodes_up(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.up)


class DigitalOcean:
    def __init__(self, token: str, base_url: str = defaults.DO_API_URL, *, timeout: float = defaults.DO_TIMEOUT,
                 attempts: int = defaults.DO_ATTEMPTS, backoff: float = defaults.DO_BACKOFF,
                 backoff_max: float = defaults.DO_BACKOFF_MAX):
        self.base_url = base_url.rstrip("/")
        self.timeout, self.attempts, self.backoff, self.backoff_max = timeout, attempts, backoff, backoff_max
        self.session = requests.Session()
        self.session.headers.update({
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "User-Agent": f"volley-scaler/{__version__}",
        })

    def node_pool(self, cluster_id: str, pool_id: str) -> NodePool:
        return NodePool.from_api(self._request("GET", _pool_path(cluster_id, pool_id))["node_pool"])

    def update_node_pool(self, cluster_id: str, pool: NodePool, *, count: int, auto_scale: bool,
                         min_nodes: int, max_nodes: int) -> NodePool:
        body: dict[str, Any] = {
            "name": pool.name, "count": count, "tags": list(pool.tags), "labels": pool.labels,
            "taints": list(pool.taints), "auto_scale": auto_scale,
        }
        if auto_scale:  # DigitalOcean reports 0 for both when autoscaling is off
            body.update(min_nodes=min_nodes, max_nodes=max_nodes)
        return NodePool.from_api(self._request("PUT", _pool_path(cluster_id, pool.id), body)["node_pool"])

    def delete_node(self, cluster_id: str, pool_id: str, node_id: str) -> None:
        path = f"{_pool_path(cluster_id, pool_id)}/nodes/{node_id}"
        self._request("DELETE", path, params={"skip_drain": "0", "replace": "0"}, gone_after_retry_ok=True)

    def _request(self, method: str, path: str, body: dict | None = None, params: dict | None = None,
                 gone_after_retry_ok: bool = False) -> dict:
        retried = False
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.session.request(method, self.base_url + path, json=body, params=params, timeout=self.timeout)
            except requests.RequestException as err:
                if attempt == self.attempts:
                    raise DigitalOceanError(method, path, 0, "no_answer", str(err)) from None
                self._wait(attempt, None, f"{type(err).__name__}: {err}", method, path)
                retried = True
                continue
            if response.status_code < 400:
                return response.json() if response.content else {}
            if (response.status_code == 429 or response.status_code >= 500) and attempt < self.attempts:
                self._wait(attempt, response, f"HTTP {response.status_code}", method, path)
                retried = True
                continue
            if response.status_code == 404 and retried and gone_after_retry_ok:
                return {}  # an earlier try went through before its answer was lost
            raise _error(method, path, response)
        raise AssertionError("not reached")  # the loop returns or raises

    def _wait(self, attempt: int, response: requests.Response | None, why: str, method: str, path: str) -> None:
        delay = min(self.backoff * 2 ** (attempt - 1), self.backoff_max)
        if response is not None and response.status_code == 429:
            delay = max(delay, _until_reset(response, self.backoff_max))
        log.warning("DigitalOcean %s %s: %s; trying again in %.1f s", method, path, why, delay)
        time.sleep(delay)


def _pool_path(cluster_id: str, pool_id: str) -> str:
    return f"/v2/kubernetes/clusters/{cluster_id}/node_pools/{pool_id}"


def _until_reset(response: requests.Response, cap: float) -> float:
    """Seconds until the rate limit resets (`ratelimit-reset` is a Unix time), capped."""
    try:
        reset = float(response.headers.get("ratelimit-reset", ""))
    except ValueError:
        return 0.0
    return min(max(reset - time.time(), 0.0), cap)


def _error(method: str, path: str, response: requests.Response) -> DigitalOceanError:
    try:
        data = response.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    message = data.get("message") or response.text.strip()[:200] or response.reason or ""
    return DigitalOceanError(method, path, response.status_code, data.get("id") or "", message)
