"""The scaler (scaler/): decide() on its own, then whole ticks against real PostgreSQL,
the DigitalOcean API served by a local fake that follows its published paths and
payloads (tests/fake_digitalocean.py), and the Kubernetes API served by kmock
(tests/scaler_cluster.py, which also plays the controllers between ticks)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import urllib.request
from datetime import datetime, timedelta, timezone as tz

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from front.models import Game, StageRun
from scaler import defaults
from scaler.decide import BUSY, IDLE, WARM, decide
from scaler.demand import Demand
from scaler.digitalocean import DigitalOcean, Node, NodePool
from scaler.exceptions import DigitalOceanError
from scaler.kube import Pod, Workload
from scaler.settings import Limits, load
from scaler.service import run
from tests.fake_digitalocean import FakeDigitalOcean
from tests.scaler_cluster import CLUSTER_ID, NAMESPACE, WORKER_TAINT, Cluster, KubeServer
from volley.exceptions import SettingError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=tz.utc)
LONG_AGO = NOW - timedelta(days=1)
COST = defaults.DELETION_COST_ANNOTATION
db = pytest.mark.django_db(transaction=True)  # the scaler closes its connection after each tick: real commits


# --- decide(): the rules, without I/O ------------------------------------------------

def pod(name, node=None, *, phase="Running", ready=True, terminating=False, created=LONG_AGO, cost=None) -> Pod:
    annotations = {} if cost is None else {COST: cost, defaults.SAFE_TO_EVICT_ANNOTATION: "false"}
    return Pod(name, f"node-{name}" if node is None else node, phase, ready, terminating, created, annotations)


def pool(*names, count=None, auto_scale=True, min_nodes=None, max_nodes=10, states=None) -> NodePool:
    nodes = tuple(Node(f"id-{n}", n, (states or {}).get(n, "running")) for n in names)
    count = len(names) if count is None else count
    return NodePool("pool-id", "vproc", count, auto_scale, count if min_nodes is None else min_nodes,
                    max_nodes if auto_scale else 0, nodes)


def test_decide_wants_a_worker_per_game_within_the_bounds():
    limits = Limits(min_workers=1, max_workers=4)
    cases = [(Demand(), 1), (Demand(queued=1), 1), (Demand(queued=2, processing=1), 3), (Demand(queued=9), 4),
             (Demand(uploading=2), 2)]
    for demand, workers in cases:
        assert decide(demand, Workload(0, False, ()), None, limits, NOW).workers == workers, demand
    two_each = Limits(games_per_worker=2)
    assert decide(Demand(queued=3), Workload(0, False, ()), None, two_each, NOW).workers == 2
    assert "at most 4 (VOLLEY_SCALER_MAX_WORKERS)" in decide(Demand(queued=9), Workload(0, False, ()), None, limits, NOW).reason


def test_decide_scales_up_at_once_but_down_only_after_the_cool_down():
    limits = Limits(cooldown=600)
    worked_recently = Demand(recent_runs={"a": NOW - timedelta(minutes=3)})
    workload = Workload(1, False, (pod("a"),))
    held = decide(worked_recently, workload, None, limits, NOW)
    assert (held.action, held.workers, held.pods) == ("hold", 1, {"a": WARM})
    assert "1 idle pod within the 600 s cool-down" in held.reason
    down = decide(Demand(), workload, None, limits, NOW)
    assert (down.action, down.workers, down.pods) == ("down", 0, {"a": IDLE})
    assert down.reason == "no game queued, in progress or uploading: 1 → 0 workers"
    new_pod = Workload(1, False, (pod("a", created=NOW - timedelta(minutes=1)),))
    assert decide(Demand(), new_pod, None, limits, NOW).workers == 1  # a new pod gets its chance too
    up = decide(Demand(queued=3, processing=1), Workload(2, False, (pod("a"), pod("b"))), None, limits, NOW)
    assert (up.action, up.workers) == ("up", 4)
    assert up.reason.startswith("3 games queued, 1 in progress: 2 → 4 workers")


def test_decide_lowers_the_replicas_only_by_the_idle_pods_that_go_first():
    demand = Demand(processing=1, busy_pods=frozenset({"busy"}), recent_runs={"warm": NOW - timedelta(minutes=1)})
    workload = Workload(3, False, (pod("busy"), pod("warm"), pod("idle")))
    decision = decide(demand, workload, None, Limits(), NOW)
    assert decision.workers == 2  # one game wants one worker; the warm pod waits out its cool-down
    assert decision.pods == {"busy": BUSY, "warm": WARM, "idle": IDLE}
    assert {p: m[COST] for p, m in decision.marks.items()} == {"busy": "1000000", "warm": "0", "idle": "-100"}
    assert all(m[defaults.SAFE_TO_EVICT_ANNOTATION] == "false" for m in decision.marks.values())
    marked = Workload(3, False, (pod("busy", cost="1000000"), pod("warm", cost="0"), pod("idle", cost="-100")))
    assert decide(demand, marked, None, Limits(), NOW).marks == {}  # marked already: nothing to write


def test_decide_never_counts_on_a_busy_pod_the_replica_set_would_delete_first():
    # Not ready, the busy pod comes before the idle one in the ReplicaSet controller's
    # order whatever its deletion cost: lowering the replicas would delete it.
    demand = Demand(processing=1, busy_pods=frozenset({"busy"}))
    workload = Workload(2, False, (pod("busy", ready=False), pod("idle")))
    decision = decide(demand, Workload(2, False, workload.pods), None, Limits(min_workers=0), NOW)
    assert decision.workers == 2
    assert "1 busy pod stays" in decision.reason


def test_decide_lets_pods_without_a_node_and_missing_replicas_go_at_once():
    workload = Workload(4, False, (pod("waiting", node="", phase="Pending", ready=False, created=NOW), pod("a")))
    decision = decide(Demand(processing=1, busy_pods=frozenset({"a"})), workload, None, Limits(), NOW)
    assert decision.workers == 1  # two replicas had no pod yet, one pod waits for a node


def test_decide_counts_the_pods_there_are_not_the_replicas_asked_for():
    # Mid-rollout there may be more pods than replicas: the ReplicaSet controller deletes
    # down to the new count from the pods there are.
    demand = Demand(processing=1, busy_pods=frozenset({"busy"}))
    workload = Workload(2, False, (pod("busy"), pod("idle1"), pod("idle2"), pod("evicted", phase="Failed")))
    decision = decide(demand, workload, None, Limits(), NOW)
    assert decision.workers == 1 and "evicted" not in decision.pods


def test_decide_removes_only_nodes_that_no_worker_pod_is_on():
    demand = Demand(processing=1, busy_pods=frozenset({"busy"}))
    workload = Workload(1, False, (pod("busy", "n1"), pod("leaving", "n2", terminating=True),
                                   pod("evicted", "n3", phase="Failed")))
    decision = decide(demand, workload, pool("n1", "n2", "n3", min_nodes=1), Limits(), NOW)
    assert [n.name for n in decision.remove_nodes] == ["n3"]
    assert (decision.action, decision.nodes_from, decision.nodes) == ("down", 3, 1)
    assert decision.reason.endswith("nodes 3 → 1, removing n3 (no worker pod on them), 1 more once their pods have left")
    assert decision.pool_change is None  # already autoscaling with min 1, max 10


def test_decide_removes_no_node_while_a_pod_waits_for_one():
    workload = Workload(2, False, (pod("a", "n1"), pod("new", "", phase="Pending", ready=False, created=NOW)))
    decision = decide(Demand(processing=2, busy_pods=frozenset({"a"})), workload, pool("n1", "n2", "n3"), Limits(), NOW)
    assert (decision.nodes, decision.remove_nodes) == (2, ())
    assert "nodes 3 → 2, 1 more once no pod waits for a node" in decision.reason


def test_decide_grows_the_pool_by_its_autoscale_floor_or_by_its_count():
    demand, empty = Demand(queued=3), Workload(0, False, ())
    autoscale = decide(demand, empty, pool(min_nodes=0), Limits(max_workers=5), NOW)
    assert (autoscale.pool_change.count, autoscale.pool_change.auto_scale) == (3, True)
    assert (autoscale.pool_change.min_nodes, autoscale.pool_change.max_nodes) == (3, 5)
    fixed = decide(demand, empty, pool(auto_scale=False), Limits(pool_mode="count"), NOW)
    assert (fixed.pool_change.count, fixed.pool_change.auto_scale) == (3, False)
    two_per_node = decide(demand, empty, pool(min_nodes=0), Limits(pods_per_node=2), NOW)
    assert two_per_node.nodes == 2


def test_decide_never_lowers_the_pool_count():
    shrinking = decide(Demand(), Workload(0, False, ()), pool("n1", "n2", "n3", min_nodes=3), Limits(), NOW)
    assert shrinking.pool_change.count == 3 and shrinking.pool_change.min_nodes == 0
    assert [n.name for n in shrinking.remove_nodes] == ["n1", "n2", "n3"]
    fixed = decide(Demand(), Workload(0, False, ()), pool("n1", auto_scale=False), Limits(pool_mode="count"), NOW)
    assert fixed.pool_change is None and [n.name for n in fixed.remove_nodes] == ["n1"]


def test_decide_counts_nodes_being_made_and_ignores_nodes_going():
    states = {"n1": "provisioning", "n2": "draining"}
    decision = decide(Demand(queued=1), Workload(1, False, ()), pool("n1", "n2", count=1, min_nodes=1, states=states),
                      Limits(), NOW)
    assert (decision.nodes_from, decision.nodes, decision.remove_nodes, decision.pool_change) == (1, 1, (), None)


# --- whole ticks on PostgreSQL, the fake DigitalOcean API and kmock -----------------------

@pytest.fixture
def cluster():
    with FakeDigitalOcean() as digitalocean, KubeServer() as kube:
        yield Cluster(digitalocean, kube, timezone.now())


@pytest.fixture
def owner():
    return get_user_model().objects.create_user("owner")


def add_game(owner, status, at, *, stage="", node="") -> Game:
    return Game.objects.create(owner=owner, name="game", status=status, stage=stage, node=node, attempt=1,
                               created_at=at, queued_at=None if status == "uploading" else at)


def add_run(game, node, started, finished=None) -> StageRun:
    outcome = StageRun.Outcome.RUNNING if finished is None else StageRun.Outcome.OK
    return StageRun.objects.create(game=game, stage=game.stage or "analysing", attempt=1, node=node,
                                   worker=f"{node}-vproc", started_at=started, finished_at=finished, outcome=outcome)


def later(cluster, **delta) -> datetime:
    cluster.now += timedelta(**delta)
    return cluster.now


@db
def test_it_scales_an_idle_pool_to_zero(cluster, owner):
    cluster.start_workers(2)
    done = add_game(owner, "done", cluster.now - timedelta(hours=2))
    add_run(done, "elsewhere", done.created_at, done.created_at + timedelta(minutes=30))
    scaler = cluster.scaler()

    assert scaler.tick(cluster.now).workers == 0
    assert cluster.replicas() == 0
    cluster.settle()  # the pods are terminating: still on their nodes
    waiting = scaler.tick(later(cluster, seconds=30))
    assert waiting.remove_nodes == () and "2 more once their pods have left" in waiting.reason
    cluster.settle()
    assert [n.name for n in scaler.tick(later(cluster, seconds=30)).remove_nodes] == sorted(cluster.nodes())
    cluster.settle()
    assert cluster.nodes() == {} and cluster.pool()["count"] == 0 and cluster.pods() == {}
    assert cluster.evicted_pods == []
    assert scaler.tick(later(cluster, seconds=30)).action == "hold"  # and it stays there


@db
def test_it_brings_the_pool_up_when_a_game_is_uploaded(cluster, owner):
    upload = add_game(owner, "uploading", cluster.now)  # the browser is sending it
    scaler = cluster.scaler()

    decision = scaler.tick(cluster.now)
    assert (decision.action, decision.workers, decision.nodes) == ("up", 1, 1)
    assert decision.reason.startswith("1 upload under way: 0 → 1 workers; nodes 0 → 1")
    pool = cluster.pool()
    assert (pool["auto_scale"], pool["min_nodes"], pool["count"]) == (True, 1, 1)
    assert pool["taints"] == [WORKER_TAINT] and pool["labels"] == {"volley.dev/pool": "processing"}  # sent back
    cluster.settle()  # the node is being made: the pod waits
    assert cluster.running_pods() == {}
    cluster.settle()
    (worker, node), = cluster.running_pods().items()
    assert cluster.nodes() == {node: "running"}

    Game.objects.filter(id=upload.id).update(status="queued", queued_at=later(cluster, minutes=2))
    assert scaler.tick(cluster.now).action == "hold"
    Game.objects.filter(id=upload.id).update(status="processing", stage="analysing", node=worker)
    assert scaler.tick(later(cluster, minutes=1)).pods == {worker: BUSY}
    assert cluster.annotation(worker, COST) == defaults.COST_BUSY


@db
def test_it_adds_workers_as_the_backlog_grows_within_bounds(cluster, owner):
    scaler = cluster.scaler(max_workers=3)
    add_game(owner, "queued", cluster.now)
    assert scaler.tick(cluster.now).workers == 1
    for _ in range(2):
        add_game(owner, "queued", cluster.now)
    assert scaler.tick(later(cluster, seconds=30)).workers == 3
    for _ in range(3):
        add_game(owner, "queued", cluster.now)
    bounded = scaler.tick(later(cluster, seconds=30))
    assert (bounded.action, bounded.workers, bounded.nodes) == ("hold", 3, 3)
    assert "6 games queued: 3 workers; at most 3 (VOLLEY_SCALER_MAX_WORKERS)" in bounded.reason
    assert (cluster.replicas(), cluster.pool()["count"], cluster.pool()["max_nodes"]) == (3, 3, 3)
    cluster.settle()
    cluster.settle()
    assert len(cluster.running_pods()) == 3
    assert sorted(cluster.running_pods().values()) == sorted(cluster.nodes())


@db
def test_it_waits_for_the_cool_down_before_scaling_to_zero(cluster, owner):
    (worker,) = cluster.start_workers(1)
    game = add_game(owner, "done", cluster.now - timedelta(minutes=40), stage="done", node=worker)
    add_run(game, worker, game.created_at, cluster.now)  # published just now
    scaler = cluster.scaler(cooldown=600)

    held = scaler.tick(later(cluster, minutes=1))
    assert (held.action, held.workers, held.pods) == ("hold", 1, {worker: WARM})
    assert "1 idle pod within the 600 s cool-down" in held.reason
    assert scaler.tick(later(cluster, minutes=8)).workers == 1
    assert scaler.tick(later(cluster, minutes=2)).workers == 0  # 11 minutes after the last stage ended
    cluster.settle()
    assert scaler.tick(later(cluster, seconds=30)).remove_nodes == ()  # its pod is leaving
    cluster.settle()
    assert len(scaler.tick(later(cluster, seconds=30)).remove_nodes) == 1
    cluster.settle()
    assert cluster.nodes() == {} and cluster.evicted_pods == []


@db
def test_it_converges_after_a_crash_mid_decision(cluster, owner):
    for _ in range(2):
        add_game(owner, "queued", cluster.now)
    cluster.kube.call(lambda h: h.fail_next("PATCH", "deployments/scale", 503))
    crashed = cluster.scaler()
    assert crashed.tick(cluster.now) is None  # the pool was resized, the Deployment not
    assert (cluster.pool()["count"], cluster.replicas()) == (2, 0)
    cluster.settle()

    restarted = cluster.scaler()  # a new process: nothing carried over
    decision = restarted.tick(later(cluster, seconds=30))
    assert (decision.workers_from, decision.workers, decision.pool_change) == (0, 2, None)
    assert (cluster.pool()["count"], cluster.replicas()) == (2, 2)
    assert [c.body["count"] for c in cluster.digitalocean.writes()] == [2]  # grown once, not twice
    cluster.settle()
    assert len(cluster.running_pods()) == 2

    # DigitalOcean failing (every try) changes nothing either; the next tick does it all.
    add_game(owner, "queued", cluster.now)
    cluster.digitalocean.fail_next("PUT", 500, times=2)
    assert restarted.tick(later(cluster, seconds=30)) is None
    assert (cluster.pool()["count"], cluster.replicas()) == (2, 2)
    assert cluster.scaler().tick(later(cluster, seconds=30)).workers == 3
    assert (cluster.pool()["count"], cluster.replicas()) == (3, 3)


@db
def test_it_never_removes_a_busy_node_or_pod(cluster, owner):
    running, holding, idle = cluster.start_workers(3)
    start = cluster.now - timedelta(hours=1)
    analysing = add_game(owner, "processing", start, stage="analysing", node=running)
    add_run(analysing, running, start)  # a stage runs on it
    between = add_game(owner, "processing", start, stage="cutting", node=holding)  # its files are there
    add_run(between, holding, start, start + timedelta(minutes=5))
    scaler = cluster.scaler(cooldown=600, games_per_worker=2)  # two games want one worker
    nodes = cluster.running_pods()

    down = scaler.tick(cluster.now)
    assert (down.workers_from, down.workers) == (3, 2)
    assert down.pods == {running: BUSY, holding: BUSY, idle: IDLE}
    assert down.reason == ("2 in progress: 3 → 2 workers; 2 busy pods stay; "
                           "nodes 3 → 2, 1 more once their pods have left (pool: autoscale 2..10, count 3)")
    assert [cluster.annotation(p, COST) for p in (running, holding, idle)] == ["1000000", "1000000", "-100"]
    cluster.settle()
    assert cluster.deleted_pods == [idle]
    assert scaler.tick(later(cluster, seconds=30)).remove_nodes == ()  # the idle pod is still leaving
    cluster.settle()
    (removed,) = scaler.tick(later(cluster, seconds=30)).remove_nodes
    assert removed.name == nodes[idle]

    # The cool-down is long over and one worker is all two games want: the busy pods stay.
    cluster.settle()
    for _ in range(3):
        assert scaler.tick(later(cluster, hours=1)).workers == 2
        cluster.settle()
    assert cluster.running_pods() == {running: nodes[running], holding: nodes[holding]}
    assert sorted(cluster.nodes()) == sorted([nodes[running], nodes[holding]])
    assert cluster.deleted_pods == [idle] and cluster.evicted_pods == []
    deletes = [(c.path.rsplit("/", 1)[1], c.query) for c in cluster.digitalocean.writes() if c.method == "DELETE"]
    assert deletes == [(removed.id, {"skip_drain": "0", "replace": "0"})]

    # The games end: the pods go once the cool-down has passed since their last stage.
    StageRun.objects.filter(outcome="running").update(outcome="ok", finished_at=cluster.now)
    add_run(between, holding, cluster.now - timedelta(minutes=20), cluster.now)
    Game.objects.update(status="done", stage="done", finished_at=cluster.now)
    assert scaler.tick(later(cluster, minutes=5)).workers == 2
    assert scaler.tick(later(cluster, minutes=6)).workers == 0


@pytest.fixture
def scaler_environment(cluster, monkeypatch, tmp_path):
    """The environment `volley scaler` runs in, pointed at this test's cluster."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "kmock",
        "clusters": [{"name": "kmock", "cluster": {"server": cluster.kube.url}}],
        "users": [{"name": "scaler", "user": {"token": "test"}}],
        "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "scaler"}}]}))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    for name, value in {"KUBECONFIG": str(kubeconfig), "VOLLEY_SCALER_NAMESPACE": NAMESPACE,
                        "VOLLEY_SCALER_METRICS_PORT": "0", "VOLLEY_DO_TOKEN": cluster.digitalocean.token,
                        "VOLLEY_DO_CLUSTER_ID": CLUSTER_ID, "VOLLEY_DO_NODE_POOL_ID": cluster.pool_id,
                        "VOLLEY_DO_API_URL": cluster.digitalocean.url}.items():
        monkeypatch.setenv(name, value)


@db
def test_it_changes_nothing_in_dry_run(cluster, owner, scaler_environment, caplog):
    add_game(owner, "queued", cluster.now)
    caplog.set_level(logging.INFO)

    assert run(argparse.Namespace(dry_run=True, once=True)) == 0  # `volley scaler --dry-run --once`
    assert cluster.digitalocean.writes() == [] and cluster.kube.writes() == []
    assert cluster.replicas() == 0 and cluster.pool()["count"] == 0
    line = next(r.getMessage() for r in caplog.records if r.name == "volley.scaler" and r.getMessage().startswith("scale up"))
    assert line == "scale up: 1 game queued: 0 → 1 workers; nodes 0 → 1 (pool: autoscale 1..10, count 1) [dry run: nothing changed]"
    event = next(r.getMessage() for r in caplog.records if r.name == "volley.telemetry" and "VolleyScalerDecision" in r.getMessage())
    attributes = json.loads(event.split(" ", 1)[1])
    assert (attributes["action"], attributes["applied"], attributes["held"], attributes["workers"]) == ("up", False, "dry run", 1)


@db
def test_it_stops_between_ticks_on_sigterm(cluster, owner, scaler_environment, monkeypatch):
    add_game(owner, "queued", cluster.now)
    monkeypatch.setenv("VOLLEY_SCALER_INTERVAL", "3600")  # it must not wait for a next tick
    cluster.digitalocean.on_request = lambda method, path: os.kill(os.getpid(), signal.SIGTERM)
    assert run(argparse.Namespace(dry_run=False, once=False)) == 0
    assert (cluster.pool()["count"], cluster.replicas()) == (1, 1)  # the tick under way was finished


@db
def test_it_leaves_a_paused_pool_alone(cluster, owner):
    cluster.start_workers(1)
    cluster.pause()
    add_game(owner, "queued", cluster.now)
    add_game(owner, "queued", cluster.now)
    scaler = cluster.scaler()
    writes_before = cluster.kube.writes()

    paused = scaler.tick(cluster.now)
    assert (paused.action, paused.workers) == ("up", 2)
    assert cluster.digitalocean.writes() == [] and cluster.kube.writes() == writes_before
    assert (cluster.replicas(), cluster.pool()["count"]) == (1, 1)
    cluster.pause(False)
    scaler.tick(later(cluster, seconds=30))
    assert (cluster.replicas(), cluster.pool()["count"]) == (2, 2)


@db
def test_it_exposes_metrics(cluster, owner):
    cluster.start_workers(1)
    add_game(owner, "queued", cluster.now)
    add_game(owner, "processing", cluster.now, stage="cutting")
    scaler = cluster.scaler()
    scaler.tick(cluster.now)
    server = scaler.metrics.serve(0, host="127.0.0.1")
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            text = response.read().decode()
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:
            assert response.status == 200
        scaler.metrics.last_end -= 3600  # as if the loop had hung for an hour
        with pytest.raises(urllib.error.HTTPError) as stuck:
            urllib.request.urlopen(f"{base}/healthz", timeout=10)
        assert stuck.value.code == 503
    finally:
        server.shutdown()
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert samples['volley_scaler_games{status="queued"}'] == "1.0"
    assert samples['volley_scaler_games_in_stage{stage="cutting"}'] == "1.0"
    assert (samples["volley_scaler_workers"], samples["volley_scaler_workers_desired"]) == ("1.0", "2.0")
    assert (samples["volley_scaler_nodes"], samples["volley_scaler_nodes_desired"]) == ("1.0", "2.0")
    assert samples['volley_scaler_decisions_total{action="up"}'] == "1.0"
    assert samples["volley_scaler_tick_errors_total"] == "0.0"
    assert float(samples["volley_scaler_last_success_timestamp_seconds"]) > 0


@db
def test_it_sizes_a_fixed_pool_by_its_count_and_removes_idle_nodes_by_id(cluster, owner):
    cluster.start_workers(2)
    scaler = cluster.scaler(pool_mode="count")
    add_game(owner, "queued", cluster.now)
    for _ in range(2):
        add_game(owner, "queued", cluster.now)
    assert scaler.tick(cluster.now).workers == 3
    pool = cluster.pool()
    assert (pool["auto_scale"], pool["count"], pool["min_nodes"]) == (False, 3, 0)
    Game.objects.update(status="done", finished_at=cluster.now)
    cluster.settle()
    cluster.settle()
    assert scaler.tick(later(cluster, hours=1)).workers == 0
    cluster.settle()
    cluster.settle()
    removed = scaler.tick(later(cluster, seconds=30)).remove_nodes
    assert len(removed) == 3
    assert [c.body["count"] for c in cluster.digitalocean.writes() if c.method == "PUT"] == [3]  # never lowered
    cluster.settle()
    assert cluster.pool()["count"] == 0 and cluster.evicted_pods == []


# --- the parts --------------------------------------------------------------------

def test_the_digitalocean_client_retries_rate_limits_and_server_errors():
    with FakeDigitalOcean() as fake:
        pool_id = fake.add_pool(CLUSTER_ID, "vproc", count=2)["id"]
        fake.fail_next("GET", 429)
        fake.fail_next("GET", 503)
        client = DigitalOcean(fake.token, fake.url, attempts=3, backoff=0.01)
        found = client.node_pool(CLUSTER_ID, pool_id)
        assert (found.name, found.count, [n.state for n in found.nodes]) == ("vproc", 2, ["running", "running"])
        assert [c.status for c in fake.calls] == [429, 503, 200]
        assert all(c.path == f"/v2/kubernetes/clusters/{CLUSTER_ID}/node_pools/{pool_id}" for c in fake.calls)


def test_the_digitalocean_client_says_what_digitalocean_refused():
    with FakeDigitalOcean() as fake:
        pool_id = fake.add_pool(CLUSTER_ID, "vproc", count=1)["id"]
        with pytest.raises(DigitalOceanError) as wrong_token:
            DigitalOcean("not-the-token", fake.url).node_pool(CLUSTER_ID, pool_id)
        assert (wrong_token.value.status, wrong_token.value.error_id) == (401, "Unauthorized")
        assert str(wrong_token.value) == (f"DigitalOcean GET /v2/kubernetes/clusters/{CLUSTER_ID}/node_pools/{pool_id}: "
                                          "HTTP 401 Unauthorized: Unable to authenticate you.")
        client = DigitalOcean(fake.token, fake.url)
        with pytest.raises(DigitalOceanError) as unknown:
            client.node_pool(CLUSTER_ID, "no-such-pool")
        assert (unknown.value.status, unknown.value.error_id) == (404, "not_found")
        pool = client.node_pool(CLUSTER_ID, pool_id)
        with pytest.raises(DigitalOceanError) as refused:
            client.update_node_pool(CLUSTER_ID, pool, count=2, auto_scale=True, min_nodes=3, max_nodes=2)
        assert (refused.value.status, refused.value.error_id) == (422, "unprocessable_entity")
        assert "min_nodes" in refused.value.message
        with pytest.raises(DigitalOceanError) as gone:
            client.delete_node(CLUSTER_ID, pool_id, "no-such-node")
        assert gone.value.status == 404


def test_the_settings_fail_loudly(monkeypatch):
    for name in ("VOLLEY_DO_TOKEN", "VOLLEY_DO_CLUSTER_ID", "VOLLEY_DO_NODE_POOL_ID"):
        monkeypatch.delenv(name, raising=False)
    assert load().sizes_pool is False  # no pool: only the Deployment is sized
    bad = [
        ({"VOLLEY_SCALER_MAX_WORKERS": "ten"}, "VOLLEY_SCALER_MAX_WORKERS must be an integer"),
        ({"VOLLEY_SCALER_MIN_WORKERS": "3", "VOLLEY_SCALER_MAX_WORKERS": "2"}, "must be >= VOLLEY_SCALER_MIN_WORKERS"),
        ({"VOLLEY_SCALER_GAMES_PER_WORKER": "0"}, "VOLLEY_SCALER_GAMES_PER_WORKER must be >= 1"),
        ({"VOLLEY_SCALER_POOL_MODE": "both"}, "VOLLEY_SCALER_POOL_MODE must be one of autoscale, count"),
        ({"VOLLEY_DO_NODE_POOL_ID": "p"}, "VOLLEY_DO_CLUSTER_ID and VOLLEY_DO_NODE_POOL_ID must be set together"),
        ({"VOLLEY_DO_NODE_POOL_ID": "p", "VOLLEY_DO_CLUSTER_ID": "c"}, "VOLLEY_DO_TOKEN must be set"),
        ({"VOLLEY_DO_API_URL": "api.digitalocean.com"}, "VOLLEY_DO_API_URL must be an http(s):// URL"),
    ]
    for env, message in bad:
        with monkeypatch.context() as patched:
            for name, value in env.items():
                patched.setenv(name, value)
            with pytest.raises(SettingError, match=message.replace("(", r"\(").replace(")", r"\)")):
                load()
