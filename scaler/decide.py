"""The decision, as a pure function: what the database asks for (`Demand`), what the
cluster holds (`Workload`, `NodePool`), the bounds (`Limits`) and the time in, a
`Decision` out. No I/O here, so every rule has a unit test.

The rules:
- Workers wanted = ceil(backlog / games per worker), within [min, max] workers; the
  backlog is the games queued, in progress and being uploaded.
- More are wanted: scale up at once.
- Fewer are wanted: a pod may go only when it is idle (no running stage names it, no
  unfinished game's files are on it) and has been for the cool-down (no stage run of
  it ended within it, and it is older than that), or when it has no node yet. Pods are
  marked with a deletion cost (idle < warm < busy) and the replicas drop only as far
  as the pods the ReplicaSet controller deletes first may go, so Kubernetes removes
  exactly those: never a busy pod.
- Nodes wanted = ceil(workers / pods per node). More: the pool grows (its count, or
  its autoscale floor). Fewer: only a node that no worker pod is on (not even a
  terminating one) is removed, by its id: a node drains of its pod first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import takewhile

from scaler import defaults
from scaler.demand import Demand
from scaler.digitalocean import Node, NodePool
from scaler.kube import Pod, Workload
from scaler.settings import Limits

BUSY, WARM, IDLE = "busy", "warm", "idle"
COST = {IDLE: defaults.COST_IDLE, WARM: defaults.COST_WARM, BUSY: defaults.COST_BUSY}
#: The ReplicaSet controller deletes pods in these phases first (then not-ready ones).
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}
#: Pods that run nothing any more (an evicted pod lingers as Failed): not workers, and
#: their node is free.
TERMINAL = ("Succeeded", "Failed")


@dataclass(frozen=True)
class PoolChange:
    """The node pool's new size settings (one PUT)."""

    count: int
    auto_scale: bool
    min_nodes: int
    max_nodes: int


@dataclass(frozen=True)
class Decision:
    action: str  # up | down | hold
    reason: str  # in words, for the log line and the event
    workers_from: int
    workers: int
    pods: dict[str, str] = field(default_factory=dict)  # live pod → busy | warm | idle
    marks: dict[str, dict[str, str]] = field(default_factory=dict)  # pod → annotations to set
    nodes_from: int | None = None  # nodes up; None when no pool is sized
    nodes: int | None = None
    pool_change: PoolChange | None = None
    remove_nodes: tuple[Node, ...] = ()

    @property
    def changes_something(self) -> bool:
        return bool(self.marks or self.pool_change or self.remove_nodes or self.workers != self.workers_from)


def decide(demand: Demand, workload: Workload, pool: NodePool | None, limits: Limits, now: datetime) -> Decision:
    live = [p for p in workload.pods if not p.terminating and p.phase not in TERMINAL]
    kinds = {p.name: _kind(p, demand, limits, now) for p in live}
    needed = -(-demand.backlog // limits.games_per_worker)
    wanted = min(max(needed, limits.min_workers), limits.max_workers)
    current = workload.replicas
    if wanted >= current:
        workers = wanted
    else:  # the ReplicaSet controller will delete len(live) - workers pods: only idle ones
        workers = min(current, max(wanted, len(live) - _idle_first(live, kinds)))

    words = [f"{_demand_words(demand)}: " + (f"{current} → {workers} workers" if workers != current else f"{workers} workers")]
    if needed > limits.max_workers:
        words.append(f"at most {limits.max_workers} (VOLLEY_SCALER_MAX_WORKERS)")
    if workers > wanted:
        words.append(_kept_words(kinds, limits))
    sized: dict = {}
    if pool is not None:
        sized = _size_pool(pool, workers, workload, limits, words)
    grows = workers > current or (pool is not None and sized["nodes"] > sized["nodes_from"])
    shrinks = workers < current or bool(sized.get("remove_nodes"))
    return Decision(action="up" if grows else "down" if shrinks else "hold", reason="; ".join(words),
                    workers_from=current, workers=workers, pods=kinds, marks=_marks(live, kinds), **sized)


def _kind(pod: Pod, demand: Demand, limits: Limits, now: datetime) -> str:
    if pod.name in demand.busy_pods:
        return BUSY
    if not pod.node:
        return IDLE  # never scheduled: nothing can be on it
    since = now - timedelta(seconds=limits.cooldown)
    if pod.name in demand.recent_runs or (pod.created is not None and pod.created > since):
        return WARM
    return IDLE


def _idle_first(live: list[Pod], kinds: dict[str, str]) -> int:
    """How many pods the ReplicaSet controller would delete first (unscheduled, then by
    phase, then not ready, then by deletion cost) before it reaches one that is not
    idle. A busy pod ranked early (not ready, say) stops the count there: fewer go,
    never a busy one."""
    order = sorted(live, key=lambda p: (bool(p.node), _PHASE_RANK.get(p.phase, 1), p.ready, int(COST[kinds[p.name]]), p.name))
    return sum(1 for _ in takewhile(lambda p: kinds[p.name] == IDLE, order))


def _marks(live: list[Pod], kinds: dict[str, str]) -> dict[str, dict[str, str]]:
    marks = {}
    for pod in live:
        wanted = {defaults.DELETION_COST_ANNOTATION: COST[kinds[pod.name]], defaults.SAFE_TO_EVICT_ANNOTATION: "false"}
        if any(pod.annotations.get(k) != v for k, v in wanted.items()):
            marks[pod.name] = wanted
    return marks


def _size_pool(pool: NodePool, workers: int, workload: Workload, limits: Limits, words: list[str]) -> dict:
    """The pool's part of the decision (Decision's node fields); says it in `words`."""
    want = -(-workers // limits.pods_per_node)
    up = pool.nodes_up
    # Terminating pods too: one may be finishing a stage.
    occupied = {p.node for p in workload.pods if p.node and p.phase not in TERMINAL}
    empty = sorted((n for n in up if n.name not in occupied), key=lambda n: (n.state != "running", n.name))
    # A pod waiting for a node may be put on an empty one any moment: remove none then.
    waiting = sum(1 for p in workload.pods if not p.node and not p.terminating and p.phase not in TERMINAL)
    remove = () if waiting else tuple(empty[:max(0, len(up) - want)])
    change = _pool_change(pool, want, limits)

    text = f"nodes {len(up)} → {want}" if want != len(up) else f"{want} nodes"
    if remove:
        text += f", removing {', '.join(n.name for n in remove)} (no worker pod on them)"
    if len(up) - want > len(remove):
        after = "no pod waits for a node" if waiting else "their pods have left"
        text += f", {len(up) - want - len(remove)} more once {after}"
    if change is not None:
        text += (f" (pool: autoscale {change.min_nodes}..{change.max_nodes}, count {change.count})" if change.auto_scale
                 else f" (pool: count {pool.count} → {change.count}{', autoscale off' if pool.auto_scale else ''})")
    words.append(text)
    return {"nodes_from": len(up), "nodes": want, "pool_change": change, "remove_nodes": remove}


def _pool_change(pool: NodePool, want: int, limits: Limits) -> PoolChange | None:
    """The pool settings that let `want` nodes run, or None when it has them already.
    The count is never lowered here (DigitalOcean would choose which node goes)."""
    count = max(pool.count, want)
    if limits.pool_mode == "count":
        return PoolChange(count, False, 0, 0) if pool.auto_scale or pool.count < want else None
    ceiling = max(limits.max_nodes, count)
    if (pool.auto_scale, pool.min_nodes, pool.max_nodes) == (True, want, ceiling) and pool.count >= want:
        return None
    return PoolChange(count, True, want, ceiling)


def _demand_words(demand: Demand) -> str:
    parts = []
    if demand.queued:
        parts.append(f"{demand.queued} game{_s(demand.queued)} queued")
    if demand.processing:
        parts.append(f"{demand.processing} in progress")
    if demand.uploading:
        parts.append(f"{demand.uploading} upload{_s(demand.uploading)} under way")
    return ", ".join(parts) or "no game queued, in progress or uploading"


def _kept_words(kinds: dict[str, str], limits: Limits) -> str:
    busy = sum(k == BUSY for k in kinds.values())
    warm = sum(k == WARM for k in kinds.values())
    parts = [f"{busy} busy pod{_s(busy)} stay{'s' if busy == 1 else ''}"] if busy else []
    if warm:
        parts.append(f"{warm} idle pod{_s(warm)} within the {limits.cooldown} s cool-down")
    return ", ".join(parts) or "the pods that may go are not first in the deletion order yet"


def _s(n: int) -> str:
    return "" if n == 1 else "s"
