"""The worker Deployment and its pods through the Kubernetes API (the `kubernetes`
client): what the scaler observes and the three things it changes.

- `observe()`: the Deployment's replicas and pause annotation, and its pods (found by
  the Deployment's own selector): name, node, phase, readiness, whether terminating,
  creation time and annotations.
- `annotate(pod, annotations)`: marks a pod (deletion cost, safe-to-evict), so that a
  lower replica count removes the pods the scaler chose.
- `scale(replicas)`: through the scale subresource, as `kubectl scale` does (the Role
  grants deployments/scale, not the whole Deployment).

In the cluster the scaler's ServiceAccount is used; elsewhere the kubeconfig
(`KUBECONFIG` or ~/.kube/config) is.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from scaler import defaults
from scaler.exceptions import KubernetesError


@dataclass(frozen=True)
class Pod:
    name: str  # Volley's "node": VOLLEY_NODE_NAME, the owner of the work files
    node: str  # spec.nodeName, "" while unscheduled
    phase: str  # Pending | Running | Succeeded | Failed | Unknown
    ready: bool
    terminating: bool
    created: datetime | None = None
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Workload:
    """The worker Deployment as observed."""

    replicas: int
    paused: bool
    pods: tuple[Pod, ...]


class Kube:
    def __init__(self, api: client.ApiClient, namespace: str, deployment: str):
        self.namespace, self.deployment = namespace, deployment
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)

    @classmethod
    def from_environment(cls, namespace: str, deployment: str) -> "Kube":
        try:
            if os.environ.get("KUBERNETES_SERVICE_HOST"):
                config.load_incluster_config()
            else:  # the client reads KUBECONFIG when imported; read it now
                config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or None)
        except config.ConfigException as err:
            raise KubernetesError("load the cluster's address and credentials", 0, str(err)) from None
        return cls(client.ApiClient(), namespace, deployment)

    def observe(self) -> Workload:
        what = f"read Deployment {self.namespace}/{self.deployment}"
        with _errors(what):
            found = self.apps.read_namespaced_deployment(self.deployment, self.namespace)
        labels = (found.spec.selector.match_labels or {}) if found.spec.selector else {}
        if not labels:
            raise KubernetesError(what, 0, "the Deployment has no spec.selector.matchLabels to find its pods by")
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        with _errors(f"list the pods of {self.namespace}/{self.deployment} ({selector})"):
            listed = self.core.list_namespaced_pod(self.namespace, label_selector=selector)
        annotations = found.metadata.annotations or {}
        return Workload(
            replicas=found.spec.replicas if found.spec.replicas is not None else 1,  # the API's default
            paused=annotations.get(defaults.PAUSE_ANNOTATION, "").strip().lower() == "true",
            pods=tuple(sorted((_pod(p) for p in listed.items), key=lambda p: p.name)),
        )

    def annotate(self, pod: str, annotations: dict[str, str]) -> None:
        with _errors(f"annotate pod {self.namespace}/{pod}"):
            self.core.patch_namespaced_pod(pod, self.namespace, {"metadata": {"annotations": annotations}})

    def scale(self, replicas: int) -> None:
        with _errors(f"scale Deployment {self.namespace}/{self.deployment} to {replicas}"):
            self.apps.patch_namespaced_deployment_scale(self.deployment, self.namespace, {"spec": {"replicas": replicas}})


def _pod(item) -> Pod:
    conditions = (item.status.conditions or []) if item.status else []
    return Pod(
        name=item.metadata.name,
        node=(item.spec.node_name or "") if item.spec else "",
        phase=(item.status.phase or "Unknown") if item.status else "Unknown",
        ready=any(c.type == "Ready" and c.status == "True" for c in conditions),
        terminating=item.metadata.deletion_timestamp is not None,
        created=item.metadata.creation_timestamp,
        annotations=dict(item.metadata.annotations or {}),
    )


@contextmanager
def _errors(action: str) -> Iterator[None]:
    """Turns the client's exceptions into a `KubernetesError` naming the action."""
    try:
        yield
    except ApiException as error:
        raise KubernetesError(action, error.status or 0, _reason(error)) from None
    except (HTTPError, OSError) as error:  # the API server cannot be reached
        raise KubernetesError(action, 0, str(error)) from None


def _reason(error: ApiException) -> str:
    """The Status message the API server sent, else the HTTP reason."""
    try:
        return json.loads(error.body or "{}").get("message") or error.reason or ""
    except (ValueError, AttributeError):
        return error.reason or ""
