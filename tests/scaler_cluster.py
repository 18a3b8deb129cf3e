"""The cluster the scaler's tests run against, without a cluster:

- `KubeServer`: kmock's in-memory Kubernetes API server (`KubernetesEmulator`) on
  127.0.0.1, in a thread of its own with its own event loop, so that the synchronous
  `kubernetes` client (and the scaler) can talk to it. kmock stores objects and serves
  reads, lists, creates, patches and deletes as the API does; `KubeEmulator` adds the
  Deployment's scale subresource (an autoscaling/v1 Scale, as the API server returns)
  and `fail_next()`, an API error on the next matching request.
- `Cluster`: one DOKS cluster: the worker pool in `FakeDigitalOcean` and the worker
  Deployment in kmock, plus `settle()`, one step of what Kubernetes and DigitalOcean
  do on their own: nodes come up or go, the ReplicaSet controller creates pods or
  deletes the ones its ranking (pod-deletion-cost included) puts first, terminating pods
  finish, the scheduler puts pending pods on free nodes, one per node.
- `Cluster.now`: the test's clock. Ticks, pods and database rows take their times
  from it, so the cool-down is tested by moving it, not by waiting.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timedelta

import aiohttp.web
import attrs
import kmock
from kubernetes import client

from scaler import defaults
from scaler.digitalocean import DigitalOcean
from scaler.kube import Kube
from scaler.service import Scaler
from scaler.settings import Limits, ScalerSettings
from tests.fake_digitalocean import FakeDigitalOcean

NAMESPACE = "volley"
DEPLOYMENT = "volley-worker"
CLUSTER_ID = "bd5f5959-5e1e-4205-a714-a914373942af"
LABELS = {"app.kubernetes.io/name": "volley", "app.kubernetes.io/instance": "volley",
          "app.kubernetes.io/component": "worker"}
WORKER_TAINT = {"key": "volley.dev/processing", "value": "true", "effect": "NoSchedule"}
DEPLOYMENTS = kmock.resource("apps", "v1", "deployments")
PODS = kmock.resource("", "v1", "pods")
logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # a line per request would bury a failure


@attrs.define(kw_only=True)
class KubeEmulator(kmock.KubernetesEmulator):
    failures: list[tuple[str, str, int]] = attrs.field(factory=list)  # (method, "plural[/sub]", status)

    def fail_next(self, method: str, target: str, status: int) -> None:
        self.failures.append((method.upper(), target, status))

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if request.resource is not None:
            target = request.resource.plural + (f"/{request.subresource}" if request.subresource else "")
            for failure in self.failures:
                if failure[:2] == (request.method.upper(), target):
                    self.failures.remove(failure)
                    raise kmock.KubernetesError(status=failure[2], reason="ServiceUnavailable",
                                                message=f"the test made {request.method} {target} fail")
            if request.resource == DEPLOYMENTS and request.subresource == "scale":
                return aiohttp.web.json_response(await self._serve_scale(request))
        return await super()._handle(request)

    async def _serve_scale(self, request: kmock.Request) -> dict:
        async with self._lock:
            key = (DEPLOYMENTS, request.namespace, request.name)
            if key not in self._objects or self._objects[key].deleted:
                raise kmock.KubernetesObjectNotFoundError()
            deployment = self._objects[key]
            if request.method.upper() == "PATCH":
                replicas = ((request.data or {}).get("spec") or {}).get("replicas")
                if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                    raise kmock.KubernetesError(status=422, reason="Invalid", message="spec.replicas: must be >= 0")
                deployment.patch({"spec": {"replicas": replicas}})
            elif request.method.upper() != "GET":
                raise kmock.KubernetesError(status=405, reason="MethodNotAllowed", message=request.method)
            raw = deployment.raw
        labels = raw["spec"]["selector"]["matchLabels"]
        return {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": request.name, "namespace": request.namespace},
            "spec": {"replicas": raw["spec"].get("replicas", 1)},
            "status": {"replicas": (raw.get("status") or {}).get("replicas", 0),
                       "selector": ",".join(f"{k}={v}" for k, v in labels.items())},
        }


class KubeServer:
    """kmock on a port, served from a thread with its own event loop."""

    def __enter__(self) -> "KubeServer":
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kmock", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("kmock did not start")
        return self

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self._serve())
        self.loop.close()

    async def _serve(self) -> None:
        async with KubeEmulator() as handler, kmock.Server(handler) as server:
            # Declared as the API server discovers them (kmock serves only what it knows).
            handler.resources[DEPLOYMENTS] = kmock.ResourceInfo(
                kind="Deployment", singular="deployment", namespaced=True, subresources={"scale", "status"},
                verbs={"get", "list", "watch", "create", "update", "patch", "delete"})
            handler.resources[PODS] = kmock.ResourceInfo(
                kind="Pod", singular="pod", namespaced=True, subresources={"status"},
                verbs={"get", "list", "watch", "create", "update", "patch", "delete"})
            self.handler, self.url = handler, str(server.url).rstrip("/")
            self._stop = asyncio.Event()
            self._ready.set()
            await self._stop.wait()

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def call(self, fn):
        """Run `fn(handler)` on the server's loop, holding its lock: the test's reads and
        writes of the objects never interleave with a request being served."""
        async def locked():
            async with self.handler._lock:
                return fn(self.handler)

        return asyncio.run_coroutine_threadsafe(locked(), self.loop).result(30)

    def api_client(self) -> client.ApiClient:
        configuration = client.Configuration()
        configuration.host = self.url
        return client.ApiClient(configuration)

    def writes(self) -> list[str]:
        """'METHOD path' of every request that changed something (or tried to)."""
        return self.call(lambda h: [f"{r.method} {r.url.path}" for r in h if r.method.upper() != "GET"])


class Cluster:
    """Starts with no node (an autoscaling pool, 0..10) and the Deployment at 0 replicas."""

    def __init__(self, digitalocean: FakeDigitalOcean, kube: KubeServer, now: datetime):
        self.digitalocean, self.kube, self.now = digitalocean, kube, now
        self.pool_id = digitalocean.add_pool(
            CLUSTER_ID, "vproc", count=0, auto_scale=True, min_nodes=0, max_nodes=10,
            taints=[WORKER_TAINT], labels={"volley.dev/pool": "processing"})["id"]
        self.deleted_pods: list[str] = []  # by the ReplicaSet controller, in order
        self.evicted_pods: list[str] = []  # still on a node when DigitalOcean took it away
        self._serial = 0
        kube.call(lambda h: h.objects.__setitem__((DEPLOYMENTS, NAMESPACE, DEPLOYMENT), _deployment()))

    # --- what a test sets up or looks at ----------------------------------------
    def scaler(self, *, dry_run: bool = False, **limits) -> Scaler:
        """A scaler as `volley scaler` makes one (fresh clients: a restarted process)."""
        settings = ScalerSettings(
            limits=Limits(**{"cooldown": 600, **limits}), interval=30, upload_window=3600, namespace=NAMESPACE,
            deployment=DEPLOYMENT, metrics_port=0, do_token=self.digitalocean.token, do_cluster_id=CLUSTER_ID,
            do_pool_id=self.pool_id, do_api_url=self.digitalocean.url)
        digitalocean = DigitalOcean(settings.do_token, settings.do_api_url, timeout=5, attempts=2, backoff=0.01)
        return Scaler(settings, Kube(self.kube.api_client(), NAMESPACE, DEPLOYMENT), digitalocean, dry_run=dry_run)

    def pool(self) -> dict:
        return self.digitalocean.pool(CLUSTER_ID, self.pool_id)

    def nodes(self) -> dict[str, str]:
        """DigitalOcean node name → state."""
        return {n["name"]: n["status"]["state"] for n in self.pool()["nodes"]}

    def replicas(self) -> int:
        return self.kube.call(lambda h: h.objects[DEPLOYMENTS, NAMESPACE, DEPLOYMENT].raw["spec"]["replicas"])

    def pods(self) -> dict[str, dict]:
        """Pod name → the pod (terminating ones included)."""
        return self.kube.call(lambda h: {
            name: obj.raw for (res, ns, name), obj in h.objects.items() if res == PODS and not obj.deleted})

    def running_pods(self) -> dict[str, str]:
        """Pod name → node, for pods running and not terminating."""
        return {name: p["spec"].get("nodeName", "") for name, p in self.pods().items()
                if p["status"]["phase"] == "Running" and not p["metadata"].get("deletionTimestamp")}

    def annotation(self, pod: str, key: str) -> str | None:
        return self.pods()[pod]["metadata"].get("annotations", {}).get(key)

    def pause(self, paused: bool = True) -> None:
        value = "true" if paused else None  # None removes the key (kmock merges patches)
        self.kube.call(lambda h: h.objects[DEPLOYMENTS, NAMESPACE, DEPLOYMENT].patch(
            {"metadata": {"annotations": {defaults.PAUSE_ANNOTATION: value}}}))

    def start_workers(self, count: int) -> list[str]:
        """`count` worker pods running on nodes of their own (made before the test began)."""
        self.digitalocean.resize_now(CLUSTER_ID, self.pool_id, count)
        self.kube.call(lambda h: h.objects[DEPLOYMENTS, NAMESPACE, DEPLOYMENT].patch({"spec": {"replicas": count}}))
        self.settle(created=self.now - timedelta(days=1))
        return sorted(self.running_pods())

    # --- time passes -----------------------------------------------------------
    def settle(self, created: datetime | None = None) -> None:
        """One step of the controllers (see the module's docstring): Kubernetes acts on
        the nodes as they were, then DigitalOcean finishes making and removing nodes;
        a pod still on a node DigitalOcean removed is evicted (and noted)."""
        nodes = self.nodes()
        self.kube.call(lambda h: self._controllers(h, nodes, created or self.now))
        self.digitalocean.advance()
        self.kube.call(lambda h: self._evict(h, self.nodes()))

    def _evict(self, handler, nodes: dict[str, str]) -> None:
        for (res, ns, name), obj in list(handler.objects.items()):
            if res == PODS and not obj.deleted and obj.raw["spec"].get("nodeName") not in (None, *nodes):
                self.evicted_pods.append(name)
                obj.delete()

    def _controllers(self, handler, nodes: dict[str, str], created: datetime) -> None:
        running_nodes = {name for name, state in nodes.items() if state == "running"}
        pods = {name: obj for (res, ns, name), obj in handler.objects.items() if res == PODS and not obj.deleted}
        for obj in pods.values():
            if obj.raw["metadata"].get("deletionTimestamp"):
                obj.delete()  # terminating pods end (their worker finished its job)
        live = {n: o for n, o in pods.items() if not o.deleted and not o.raw["metadata"].get("deletionTimestamp")}
        replicas = handler.objects[DEPLOYMENTS, NAMESPACE, DEPLOYMENT].raw["spec"]["replicas"]
        for name in sorted(live, key=lambda n: _deletion_rank(live[n].raw))[:max(0, len(live) - replicas)]:
            live.pop(name).patch({"metadata": {"deletionTimestamp": self.now.isoformat()}})
            self.deleted_pods.append(name)
        for _ in range(replicas - len(live)):
            self._serial += 1
            name = f"{DEPLOYMENT}-6d4b9c-{self._serial:03d}"
            handler.objects[PODS, NAMESPACE, name] = _pod(name, created)
            live[name] = handler.objects[PODS, NAMESPACE, name]
        taken = {o.raw["spec"].get("nodeName") for o in pods.values() if not o.deleted}  # terminating ones too
        free = sorted(running_nodes - taken)
        for name in sorted(live):
            if not live[name].raw["spec"].get("nodeName") and free:
                live[name].patch({"spec": {"nodeName": free.pop(0)}, "status": {
                    "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})


def _deletion_rank(pod: dict) -> tuple:
    """The ReplicaSet controller's order: unscheduled, pending, not ready, lowest
    pod-deletion-cost, then newest first."""
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
    cost = int(pod["metadata"].get("annotations", {}).get(defaults.DELETION_COST_ANNOTATION, "0"))
    created = datetime.fromisoformat(pod["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    return (bool(pod["spec"].get("nodeName")), pod["status"]["phase"] == "Running", ready, cost, -created.timestamp())


def _deployment() -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "namespace": NAMESPACE, "labels": dict(LABELS), "annotations": {}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": dict(LABELS)},
            "template": {"metadata": {"labels": dict(LABELS)}, "spec": {"containers": [
                {"name": stage, "image": "registry.digitalocean.com/volley/volley:test", "args": ["worker", stage]}
                for stage in ("vproc", "framer", "clipper", "pusher")]}},
        },
        "status": {"replicas": 0},
    }


def _pod(name: str, created: datetime) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": dict(LABELS),
                     "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ"), "annotations": {}},
        "spec": {"containers": [{"name": "vproc", "image": "registry.digitalocean.com/volley/volley:test"}]},
        "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]},
    }
