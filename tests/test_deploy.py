"""What we deploy to Kubernetes (deploy/k8s/), checked offline: the Helm chart lints and
renders, the Kustomize trees build, every object passes Kubernetes' own schema (strict),
the chart and Kustomize produce the same objects, and the design's operational rules hold
(workers outlive their longest step, only the front is reachable, the scaler may do only
what it does, migrations run before new pods, secrets come only from the Secret).

The tools are the test environment's own (helm_python, kubectl, yamllint beside
sys.executable): no cluster, no helm binary, no network.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import helm_python
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
CHART = K8S / "chart" / "volley"
BIN = Path(sys.executable).parent
#: The Kubernetes version every object is validated against (Chart.yaml's kubeVersion is
#: the floor: 1.30, for the web pods' preStop sleep).
KUBE_VERSION = "1.33.0"
RELEASE = NAMESPACE = "volley"

#: Each Kustomize tree and the chart values that render the same objects (None = defaults).
VARIANTS = {
    "base": None,
    "overlays/local": "ci/local-values.yaml",
    "overlays/do-production": "ci/do-production-values.yaml",
}
#: Where production pods run (deploy/k8s/README.md).
POOL_LABEL = "doks.digitalocean.com/node-pool"
PROCESSING_TAINT = {"key": "volley.dev/processing", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
STAGES = ("vproc", "framer", "clipper", "pusher")
#: The longest single stage step: analysing a 3-hour game. bench/README.md measures about
#: 130 s of analysis per 10 minutes of 1080p50 game, so ~39 min for 3 hours; 45 min leaves
#: room for a slower node.
LONGEST_STAGE_SECONDS = 45 * 60
#: The keys of Secret volley-secrets (docs/settings.md); nothing else may carry them.
SECRET_KEYS = {
    "VOLLEY_SECRET_KEY", "VOLLEY_DATABASE_URL", "VOLLEY_REDIS_URL", "VOLLEY_S3_ACCESS_KEY",
    "VOLLEY_S3_SECRET_KEY", "NEW_RELIC_LICENSE_KEY", "VOLLEY_DO_TOKEN",
}
HOOK = "helm.sh/hook"
HOOK_WEIGHT = "helm.sh/hook-weight"


# --- building the objects -------------------------------------------------------------

def helm_values(variant: str) -> dict:
    values_file = VARIANTS[variant]
    return yaml.safe_load((CHART / values_file).read_text()) if values_file else {}


def render(values: dict | None = None, release: str = RELEASE) -> list[dict]:
    """The chart's objects for a release in namespace "volley", as Helm would apply them."""
    with helm_python.Chart.load(CHART) as chart:
        files = chart.render(values or {}, name=release, namespace=NAMESPACE)
    return [doc for name, text in sorted(files.items()) if name.endswith(".yaml")
            for doc in yaml.safe_load_all(text) if doc]


def kustomize(variant: str) -> list[dict]:
    built = subprocess.run([BIN / "kubectl", "kustomize", K8S / variant],
                           capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


@pytest.fixture(scope="module")
def charts() -> dict[str, list[dict]]:
    return {variant: render(helm_values(variant)) for variant in VARIANTS}


@pytest.fixture(scope="module")
def kustomized() -> dict[str, list[dict]]:
    return {variant: kustomize(variant) for variant in VARIANTS}


@pytest.fixture(scope="module")
def every_build(charts, kustomized) -> dict[str, list[dict]]:
    """Everything we ship: each chart variant, each Kustomize tree, the chart making its Secret."""
    builds = {f"helm {v}": objects for v, objects in charts.items()}
    builds |= {f"kustomize {v}": objects for v, objects in kustomized.items()}
    builds["helm secrets.create"] = render({"secrets": {"create": True, "values": {"VOLLEY_SECRET_KEY": "k"}}})
    return builds


@pytest.fixture(scope="module")
def any_build(every_build) -> dict[str, list[dict]]:
    """Also the chart with its optional parts off (a fixed web count, no Ingress, no policies)."""
    switched_off = {"web": {"autoscaling": {"enabled": False}}, "ingress": {"enabled": False},
                    "networkPolicy": {"enabled": False}}
    return every_build | {"helm optional parts off": render(switched_off)}


# --- looking at them ------------------------------------------------------------------

def find(objects: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[dict], kind: str, name: str) -> dict:
    found = find(objects, kind, name)
    assert len(found) == 1, f"{len(found)} {kind} {name}"
    return found[0]


def pod_template(obj: dict) -> dict | None:
    """The pod template of a workload, None for other kinds."""
    if obj["kind"] in ("Deployment", "Job"):
        return obj["spec"]["template"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return None


def pod_spec(obj: dict) -> dict | None:
    template = pod_template(obj)
    return template and template["spec"]


def pods(objects: list[dict]) -> list[tuple[str, dict]]:
    return [(o["metadata"]["name"], spec) for o in objects if (spec := pod_spec(o)) is not None]


def containers(objects: list[dict]) -> list[tuple[str, dict]]:
    return [(f"{name}/{c['name']}", c) for name, spec in pods(objects)
            for c in spec.get("initContainers", []) + spec["containers"]]


def hooks(objects: list[dict]) -> list[dict]:
    return [o for o in objects if HOOK in o["metadata"].get("annotations", {})]


def quantity(text) -> float:
    """A Kubernetes quantity as a number (cores, bytes)."""
    units = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    number, unit = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(text)).groups()
    return float(number) * units.get(unit, 1)


# --- the chart and Kustomize say the same thing -----------------------------------------

#: Labels only Helm adds: who manages the object and which chart version made it.
HELM_ONLY_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")


def normalised(objects: list[dict]) -> dict[tuple[str, str], dict]:
    """Objects keyed by (kind, name), without what only says which tool made them: Helm's
    labels and hook annotations, the checksum annotations (Helm's way of rolling pods on a
    settings change) and the content hash in the ConfigMap's name (Kustomize's way). The
    migrate hook's copy of the ConfigMap is checked equal to the ConfigMap, then dropped."""
    objects = copy.deepcopy(objects)
    configs = {o["metadata"]["name"]: o for o in find(objects, "ConfigMap")}
    hashed = [name for name in configs if re.fullmatch(r"volley-config-[a-z0-9]{10}", name)]
    renames = {name: "volley-config" for name in hashed}
    if "volley-migrate-config" in configs:
        assert configs["volley-migrate-config"]["data"] == configs["volley-config"]["data"]
        objects.remove(configs["volley-migrate-config"])
        renames["volley-migrate-config"] = "volley-config"
    cleaned = [_without_tool_marks(_renamed(o, renames)) for o in objects]
    keyed = {(o["kind"], o["metadata"]["name"]): o for o in cleaned}
    assert len(keyed) == len(cleaned), "two objects share a kind and name"
    return keyed


def _renamed(node, renames: dict[str, str]):
    if isinstance(node, dict):
        return {k: _renamed(v, renames) for k, v in node.items()}
    if isinstance(node, list):
        return [_renamed(v, renames) for v in node]
    return renames.get(node, node) if isinstance(node, str) else node


def _without_tool_marks(node):
    if isinstance(node, list):
        return [_without_tool_marks(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "labels":
            value = {k: v for k, v in value.items() if k not in HELM_ONLY_LABELS}
        elif key == "annotations":
            value = {k: v for k, v in value.items() if not k.startswith(("helm.sh/", "checksum/"))}
        value = _without_tool_marks(value)
        if value != {}:
            out[key] = value
    return out


def differences(a, b, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in (differences(a[k], b[k], f"{path}.{k}") if k in a and k in b
                          else [f"{path}.{k}: only in {'helm' if k in a else 'kustomize'}"])]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: helm {a!r} != kustomize {b!r}"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_it_renders_the_same_objects_with_helm_as_with_kustomize(variant, charts, kustomized):
    helm, kust = normalised(charts[variant]), normalised(kustomized[variant])
    assert sorted(helm) == sorted(kust)
    found = [f"{kind} {name}{d}" for (kind, name) in sorted(helm)
             for d in differences(helm[kind, name], kust[kind, name])]
    assert found == [], f"{VARIANTS[variant] or 'values.yaml'} vs {variant}:\n" + "\n".join(found)


# --- the chart as a chart ---------------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS)
def test_it_lints_the_chart_without_a_warning(variant):
    report = helm_python.lint(CHART, helm_values(variant), strict=True, namespace=NAMESPACE,
                              kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("typo, key", [
    ({"wroker": {"replicas": 2}}, "wroker"),
    ({"worker": {"terminationGracePeriod": 60}}, "terminationGracePeriod"),
    ({"worker": {"stages": {"vprc": {}}}}, "vprc"),
    ({"web": {"resources": {"request": {"cpu": "1", "memory": "1Gi"}}}}, "request"),
    ({"ingress": {"tls": {"enable": True}}}, "enable"),
])
def test_it_refuses_a_misspelt_value_key(typo, key):
    with pytest.raises(helm_python.HelmValuesError, match=f"additional properties '{key}' not allowed"):
        render(typo)


@pytest.mark.parametrize("key", sorted(SECRET_KEYS))
def test_it_refuses_a_secret_in_the_config(key):
    with pytest.raises(helm_python.HelmValuesError, match=key):
        render({"config": {key: "postgres://volley:hunter2@db/volley"}})


def test_it_refuses_a_setting_that_is_not_a_string():
    # Helm prints a large number as 2.147483648e+10; the schema asks for "21474836480".
    with pytest.raises(helm_python.HelmValuesError, match="VOLLEY_MAX_UPLOAD_BYTES"):
        render({"config": {"VOLLEY_MAX_UPLOAD_BYTES": 21474836480}})


def test_it_tags_the_image_with_the_chart_app_version(charts):
    with helm_python.Chart.load(CHART) as chart:
        app_version = chart.metadata["appVersion"]
    images = {c["image"] for _, c in containers(charts["base"])}
    assert images == {f"registry.digitalocean.com/volley/volley:{app_version}"}
    assert {c["image"] for _, c in containers(charts["overlays/do-production"])} == images


def test_it_rolls_the_pods_when_a_setting_changes(charts):
    changed = render({"config": {"VOLLEY_LOG_LEVEL": "DEBUG"}})
    for name in ("volley-web", "volley-worker", "volley-scaler"):
        before = one(charts["base"], "Deployment", name)["spec"]["template"]["metadata"]["annotations"]
        after = one(changed, "Deployment", name)["spec"]["template"]["metadata"]["annotations"]
        assert before["checksum/config"] != after["checksum/config"], name


def test_it_names_the_kustomize_config_after_its_content(kustomized):
    for variant, objects in kustomized.items():
        (config,) = find(objects, "ConfigMap")
        assert re.fullmatch(r"volley-config-[a-z0-9]{10}", config["metadata"]["name"])
        refs = {ref["configMapRef"]["name"] for _, c in containers(objects)
                for ref in c["envFrom"] if "configMapRef" in ref}
        assert refs == {config["metadata"]["name"]}, variant


# --- valid Kubernetes -----------------------------------------------------------------

def test_it_builds_only_objects_kubernetes_accepts(any_build):
    rejected = []
    for build, objects in any_build.items():
        for obj in objects:
            try:
                kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
            except kubernetes_validate.ValidationError as err:
                rejected.append(f"{build}: {obj['kind']} {obj['metadata']['name']}: "
                                f"{'.'.join(map(str, err.path))}: {err.message}")
    assert rejected == [], "\n".join(rejected)


def dangling_references(objects: list[dict]) -> list[str]:
    """Every name or selector an object uses that no shipped object answers to (the
    operator's Secret volley-secrets aside). Kubernetes takes these without complaint and
    fails later, at run time."""
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    templates = [t for o in objects if (t := pod_template(o))]
    return [problem for obj in objects
            for problem in _selector_problems(obj, templates) + _name_problems(obj, names)
            + _pod_problems(obj, names)]


def _selected(selector: dict, templates: list[dict]) -> list[dict]:
    return [t for t in templates if selector.items() <= t["metadata"]["labels"].items()]


def _selector_problems(obj: dict, templates: list[dict]) -> list[str]:
    kind, name, spec = obj["kind"], obj["metadata"]["name"], obj.get("spec", {})
    selector = {"Deployment": lambda: spec["selector"]["matchLabels"],
                "PodDisruptionBudget": lambda: spec["selector"]["matchLabels"],
                "NetworkPolicy": lambda: spec["podSelector"].get("matchLabels", {}),
                "Service": lambda: spec["selector"]}.get(kind, dict)()
    if not selector:  # not a selecting kind, or the namespace-wide default deny
        return []
    if "acme.cert-manager.io/http01-solver" in selector:  # cert-manager's pods, made while it issues
        return []
    selected = _selected(selector, templates)
    if not selected:
        return [f"{kind} {name}: selects no pod"]
    if kind != "Service":
        return []
    ports = {p.get("name") for t in selected for c in t["spec"]["containers"] for p in c.get("ports", [])}
    return [f"Service {name}: no pod port {p['targetPort']}" for p in spec["ports"] if p["targetPort"] not in ports]


def _name_problems(obj: dict, names: set[tuple[str, str]]) -> list[str]:
    kind, name, spec = obj["kind"], obj["metadata"]["name"], obj.get("spec", {})
    wanted = []
    if kind == "Ingress":
        wanted = [("Service", path["backend"]["service"]["name"])
                  for rule in spec["rules"] for path in rule["http"]["paths"]]
    elif kind == "HorizontalPodAutoscaler":
        wanted = [(spec["scaleTargetRef"]["kind"], spec["scaleTargetRef"]["name"])]
    elif kind == "RoleBinding":
        wanted = [("Role", obj["roleRef"]["name"])] + [("ServiceAccount", s["name"]) for s in obj["subjects"]]
    return [f"{kind} {name}: no {k} {n}" for k, n in wanted if (k, n) not in names]


def _pod_problems(obj: dict, names: set[tuple[str, str]]) -> list[str]:
    pod = pod_spec(obj)
    if pod is None:
        return []
    wanted = [("ServiceAccount", pod["serviceAccountName"])] if "serviceAccountName" in pod else []
    for container in pod["containers"]:
        wanted += [("ConfigMap", ref["configMapRef"]["name"]) if "configMapRef" in ref
                   else ("Secret", ref["secretRef"]["name"]) for ref in container.get("envFrom", [])]
        # The scaler sizes the Deployment this names (default volley-worker, whatever the release).
        wanted += [("Deployment", env["value"]) for env in container.get("env", [])
                   if env["name"] == "VOLLEY_SCALER_DEPLOYMENT"]
    return [f"{obj['metadata']['name']}: no {k} {n}" for k, n in wanted
            if (k, n) not in names and (k, n) != ("Secret", "volley-secrets")]


def test_it_points_every_reference_at_an_object_it_ships(any_build):
    for build, objects in any_build.items():
        assert dangling_references(objects) == [], build


def test_it_names_every_object_after_the_release():
    staging = render(release="staging")
    assert {o["metadata"]["name"] for o in staging if not o["metadata"]["name"].startswith("staging-volley-")} == set()
    assert dangling_references(staging) == []
    assert {o["metadata"]["labels"]["app.kubernetes.io/instance"] for o in staging} == {"staging"}


def test_it_keeps_the_kustomize_yaml_tidy():
    # With the repository's .yamllint (scripts/lint's); templates/ is Go templates, not YAML.
    linted = subprocess.run(
        [BIN / "yamllint", "--strict", "-c", ROOT / ".yamllint", K8S / "base", K8S / "overlays",
         CHART / "Chart.yaml", CHART / "values.yaml", CHART / "ci"],
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert linted.returncode == 0, linted.stdout + linted.stderr


# --- the workers --------------------------------------------------------------------

def test_it_gives_workers_a_grace_period_longer_than_the_longest_stage(every_build):
    for build, objects in every_build.items():
        worker = pod_spec(one(objects, "Deployment", "volley-worker"))
        assert worker["terminationGracePeriodSeconds"] > LONGEST_STAGE_SECONDS, build


def test_it_keeps_workers_on_the_processing_pool(charts, kustomized):
    for objects in (charts["base"], kustomized["overlays/do-production"]):
        worker = pod_spec(one(objects, "Deployment", "volley-worker"))
        assert worker["nodeSelector"] == {POOL_LABEL: "vproc"}
        assert worker["tolerations"] == [PROCESSING_TAINT]
        for name, spec in pods(objects):
            if name != "volley-worker":
                assert spec["nodeSelector"] == {POOL_LABEL: "front"}, name
                assert PROCESSING_TAINT not in spec.get("tolerations", []), name


def test_it_runs_one_worker_pod_per_node(every_build):
    for build, objects in every_build.items():
        worker = one(objects, "Deployment", "volley-worker")
        (term,) = pod_spec(worker)["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname", build
        assert term["labelSelector"]["matchLabels"] == worker["spec"]["selector"]["matchLabels"], build
        # A surge pod would have no node of its own to go to.
        assert worker["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0, build


def test_it_runs_one_container_per_stage_on_a_shared_work_volume(every_build):
    for build, objects in every_build.items():
        spec = pod_spec(one(objects, "Deployment", "volley-worker"))
        assert [c["name"] for c in spec["containers"]] == list(STAGES), build
        (work,) = [v for v in spec["volumes"] if v["name"] == "work"]
        assert "sizeLimit" in work["emptyDir"], build
        for stage, container in zip(STAGES, spec["containers"]):
            assert container["args"] == ["worker", stage], build
            assert {"name": "work", "mountPath": "/work"} in container["volumeMounts"], build
            env = {e["name"]: e for e in container["env"]}
            assert env["VOLLEY_WORK_DIR"]["value"] == "/work", build
            # The files live in the pod's emptyDir, so the pod is the node stages go back to.
            assert env["VOLLEY_NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}, build


def test_it_restarts_a_stage_worker_whose_loop_stopped_beating(every_build):
    for build, objects in every_build.items():
        spec = pod_spec(one(objects, "Deployment", "volley-worker"))
        beat_files = set()
        for container in spec["containers"]:
            assert container["livenessProbe"]["exec"]["command"] == ["volley", "health"], build
            probe = container["livenessProbe"]
            # RQ beats every 75 s at most; `volley health` allows 180 s: give it that and more.
            assert probe["periodSeconds"] * probe["failureThreshold"] >= 180, build
            beat_files.add({e["name"]: e.get("value") for e in container["env"]}["VOLLEY_HEALTH_FILE"])
        assert len(beat_files) == len(STAGES), build  # /tmp is shared: one file per container


def test_it_sizes_each_stage_container(charts):
    design = {  # (requests cpu, memory; limits cpu, memory) from the deployment design
        "vproc": ("1500m", "1Gi", "2", "2Gi"), "framer": ("100m", "256Mi", "1", "512Mi"),
        "clipper": ("1", "1Gi", "2", "2Gi"), "pusher": ("100m", "256Mi", "500m", "512Mi"),
    }
    spec = pod_spec(one(charts["overlays/do-production"], "Deployment", "volley-worker"))
    for container in spec["containers"]:
        r = container["resources"]
        sizes = (r["requests"]["cpu"], r["requests"]["memory"], r["limits"]["cpu"], r["limits"]["memory"])
        assert tuple(map(quantity, sizes)) == tuple(map(quantity, design[container["name"]]))


def test_it_sizes_every_container(every_build):
    for build, objects in every_build.items():
        for name, container in containers(objects):
            resources = container["resources"]
            for what in ("cpu", "memory"):
                requested, limit = resources["requests"][what], resources["limits"][what]
                assert quantity(requested) <= quantity(limit), f"{build} {name} {what}"


def test_it_starts_without_workers_until_the_scaler_asks(charts, kustomized):
    for objects in (charts["base"], kustomized["overlays/do-production"]):
        assert one(objects, "Deployment", "volley-worker")["spec"]["replicas"] == 0
    assert one(kustomized["overlays/local"], "Deployment", "volley-worker")["spec"]["replicas"] == 1


# --- reachability and privileges --------------------------------------------------------

def test_it_lets_only_the_front_be_reached_from_outside(every_build):
    for build, objects in every_build.items():
        policies = find(objects, "NetworkPolicy")
        deny = [p for p in policies if p["spec"]["podSelector"] == {}]
        assert [p["spec"] for p in deny] == [{"podSelector": {}, "policyTypes": ["Ingress"]}], build
        allowed = set()
        for policy in policies:
            labels = policy["spec"]["podSelector"].get("matchLabels", {})
            component = labels.get("app.kubernetes.io/component") or (
                "acme-solver" if labels.get("acme.cert-manager.io/http01-solver") == "true" else None)
            for rule in policy["spec"].get("ingress", []):
                # A rule without `from` or `ports` would let in every source or port.
                assert rule["from"] and rule["ports"], build
                for source in rule["from"]:
                    assert list(source) == ["namespaceSelector"], build
                    namespace = source["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    allowed |= {(namespace, component, port["port"]) for port in rule["ports"]}
        assert allowed == {("ingress-nginx", "web", 8000), ("monitoring", "scaler", 9100),
                           ("ingress-nginx", "acme-solver", 8089)}, build
        assert {s["spec"]["type"] for s in find(objects, "Service")} == {"ClusterIP"}, build
        (ingress,) = find(objects, "Ingress")
        backends = {p["backend"]["service"]["name"] for rule in ingress["spec"]["rules"]
                    for p in rule["http"]["paths"]}
        assert backends == {"volley-web"}, build


#: What each Kubernetes client call of the scaler needs: (API group, resource, verb).
SCALER_CALLS = {
    "read_namespaced_deployment": ("apps", "deployments", "get"),
    "patch_namespaced_deployment_scale": ("apps", "deployments/scale", "patch"),
    "list_namespaced_pod": ("", "pods", "list"),
    "patch_namespaced_pod": ("", "pods", "patch"),
}


def test_it_gives_the_scaler_only_the_permissions_it_uses(every_build):
    source = (ROOT / "scaler" / "kube.py").read_text()
    called = set(re.findall(r"\.(\w+_namespaced_\w+)\(", source))
    assert called == set(SCALER_CALLS)  # a new call needs its permission here and in the Role
    uses = {}
    for group, resource, verb in SCALER_CALLS.values():
        uses.setdefault((group, resource), set()).add(verb)
    for build, objects in every_build.items():
        assert not find(objects, "ClusterRole") and not find(objects, "ClusterRoleBinding"), build
        (role,) = find(objects, "Role")
        granted = {}
        for rule in role["rules"]:
            assert set(rule) <= {"apiGroups", "resources", "verbs", "resourceNames"}, build
            if rule["apiGroups"] == ["apps"]:  # the worker Deployment only
                assert rule["resourceNames"] == [one(objects, "Deployment", "volley-worker")["metadata"]["name"]], build
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    granted.setdefault((group, resource), set()).update(rule["verbs"])
        assert granted == uses, build
        (binding,) = find(objects, "RoleBinding")
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "volley-scaler"}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "volley-scaler", "namespace": NAMESPACE}]
        # The scaler is the one pod holding an API token.
        holders = [name for name, spec in pods(objects) if spec.get("automountServiceAccountToken", True)]
        assert holders == ["volley-scaler"], build
        assert pod_spec(one(objects, "Deployment", "volley-scaler"))["serviceAccountName"] == "volley-scaler"


def test_it_runs_every_container_as_non_root(every_build):
    for build, objects in every_build.items():
        for name, spec in pods(objects):
            context = spec["securityContext"]
            assert context["runAsNonRoot"] is True and context["runAsUser"] == 10001, f"{build} {name}"
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, f"{build} {name}"
            tmp = {v["name"]: v for v in spec["volumes"]}["tmp"]
            assert "emptyDir" in tmp, f"{build} {name}"
        for name, container in containers(objects):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, f"{build} {name}"
            assert context["readOnlyRootFilesystem"] is True, f"{build} {name}"
            assert context["capabilities"] == {"drop": ["ALL"]}, f"{build} {name}"
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], f"{build} {name}"


def test_it_keeps_service_links_out_of_the_settings(every_build):
    # Service volley-scaler would otherwise give every pod VOLLEY_SCALER_PORT=tcp://...
    for build, objects in every_build.items():
        for name, spec in pods(objects):
            assert spec["enableServiceLinks"] is False, f"{build} {name}"


# --- settings and secrets -------------------------------------------------------------

def test_it_takes_every_secret_from_the_secret_object(every_build):
    credentials_in_url = re.compile(r"://[^/@\s]+:[^/@\s]+@")
    for build, objects in every_build.items():
        for config in find(objects, "ConfigMap"):
            data = config["data"]
            assert SECRET_KEYS.isdisjoint(data), f"{build} {config['metadata']['name']}"
            assert not [v for v in data.values() if credentials_in_url.search(v)], build
        for name, container in containers(objects):
            refs = [ref for ref in container["envFrom"] if "secretRef" in ref]
            secret = "volley-migrate-secrets" if build == "helm secrets.create" and "migrate" in name \
                else "volley-secrets"
            assert refs == [{"secretRef": {"name": secret}}], f"{build} {name}"
            for env in container.get("env", []):
                if "secretKeyRef" in env.get("valueFrom", {}):
                    continue  # a reference, checked in the test below
                assert env["name"] not in SECRET_KEYS, f"{build} {name}"
                assert not re.search(r"SECRET|PASSWORD|TOKEN|KEY", env["name"]), f"{build} {name}"
        made = find(objects, "Secret")
        assert made == [] or build == "helm secrets.create", build


def test_it_gives_the_digitalocean_token_to_the_scaler_only(every_build):
    for build, objects in every_build.items():
        references = [(name, env) for name, container in containers(objects) for env in container.get("env", [])
                      if "secretKeyRef" in env.get("valueFrom", {})]
        assert references == [("volley-scaler/scaler", {"name": "VOLLEY_DO_TOKEN", "valueFrom": {"secretKeyRef": {
            "name": "volley-scaler-secrets", "key": "VOLLEY_DO_TOKEN", "optional": True}}})], build


def test_it_lets_the_probes_and_the_public_host_past_the_allowed_hosts(every_build):
    for build, objects in every_build.items():
        (config,) = [c for c in find(objects, "ConfigMap") if "migrate" not in c["metadata"]["name"]]
        allowed = config["data"]["VOLLEY_ALLOWED_HOSTS"].split(",")
        (web,) = pod_spec(one(objects, "Deployment", "volley-web"))["containers"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            headers = {h["name"]: h["value"] for h in web[probe]["httpGet"]["httpHeaders"]}
            assert headers["Host"] in allowed, f"{build} {probe}"
        (ingress,) = find(objects, "Ingress")
        host = ingress["spec"]["rules"][0]["host"]
        scheme = "https" if ingress["spec"].get("tls") else "http"
        assert host in allowed, build
        assert config["data"]["VOLLEY_BASE_URL"] == f"{scheme}://{host}", build
        assert config["data"]["VOLLEY_CSRF_TRUSTED_ORIGINS"] == f"{scheme}://{host}", build
        assert config["data"]["VOLLEY_SECURE_COOKIES"] == str(scheme == "https").lower(), build


# --- the front, the scaler, the jobs --------------------------------------------------

def test_it_checks_the_front_and_keeps_it_available(every_build):
    for build, objects in every_build.items():
        (web,) = pod_spec(one(objects, "Deployment", "volley-web"))["containers"]
        assert web["args"] == ["web"]
        assert web["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
        assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
        hpa = one(objects, "HorizontalPodAutoscaler", "volley-web")
        assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
        assert one(objects, "PodDisruptionBudget", "volley-web")["spec"]["minAvailable"] == 1
        assert one(objects, "PodDisruptionBudget", "volley-worker")["spec"]["maxUnavailable"] == 1
        # The HPA owns the count: a stated one would reset it on every release.
        assert "replicas" not in one(objects, "Deployment", "volley-web")["spec"], build


def test_it_runs_one_scaler_at_a_time(every_build):
    for build, objects in every_build.items():
        scaler = one(objects, "Deployment", "volley-scaler")
        assert scaler["spec"]["replicas"] == 1 and scaler["spec"]["strategy"] == {"type": "Recreate"}, build
        (container,) = pod_spec(scaler)["containers"]
        assert container["args"][0] == "scaler"
        assert container["ports"] == [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert {"name": "VOLLEY_SCALER_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}} in container["env"]


def test_it_lets_the_local_scaler_only_log(kustomized):
    (container,) = pod_spec(one(kustomized["overlays/local"], "Deployment", "volley-scaler"))["containers"]
    assert container["args"] == ["scaler", "--dry-run"]


def test_it_runs_migrations_before_the_new_pods(every_build):
    for build, objects in (item for item in every_build.items() if item[0].startswith("helm")):
        (job,) = find(objects, "Job")
        assert set(job["metadata"]["annotations"][HOOK].split(",")) == {"pre-install", "pre-upgrade"}, build
        # No other workload waits for a hook: they roll out after it.
        assert [o for o in hooks(objects) if pod_spec(o) is not None] == [job], build
        (container,) = pod_spec(job)["containers"]
        assert container["args"] == ["migrate"]
        # What the Job reads exists before it: a hook of lower weight, or the operator's Secret.
        weight = int(job["metadata"]["annotations"][HOOK_WEIGHT])
        for ref in container["envFrom"]:
            kind, source = ("ConfigMap", ref["configMapRef"]["name"]) if "configMapRef" in ref \
                else ("Secret", ref["secretRef"]["name"])
            made = find(objects, kind, source)
            if kind == "Secret" and not made:
                assert source == "volley-secrets", build  # the operator's, there before any release
                continue
            (made,) = made
            annotations = made["metadata"].get("annotations", {})
            assert set(annotations.get(HOOK, "").split(",")) == {"pre-install", "pre-upgrade"}, f"{build} {source}"
            assert int(annotations[HOOK_WEIGHT]) < weight, f"{build} {source}"


def test_it_runs_migrations_as_a_plain_job_with_kustomize(kustomized):
    for variant, objects in kustomized.items():
        (job,) = find(objects, "Job")
        assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "migrate"
        assert pod_spec(job)["restartPolicy"] == "Never"
        assert hooks(objects) == [], variant
        # `kubectl apply -l 'app.kubernetes.io/component in (config,migrate)'` picks both.
        (config,) = find(objects, "ConfigMap")
        assert config["metadata"]["labels"]["app.kubernetes.io/component"] == "config"


def test_it_reconciles_every_five_minutes_one_run_at_a_time(every_build):
    for build, objects in every_build.items():
        cron = one(objects, "CronJob", "volley-reconcile")
        assert cron["spec"]["schedule"] == "*/5 * * * *", build
        assert cron["spec"]["concurrencyPolicy"] == "Forbid", build
        (container,) = pod_spec(cron)["containers"]
        assert container["args"] == ["reconcile"]
        # A stuck run ends before the next slot.
        assert cron["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] < 300


def test_it_serves_production_over_tls_and_local_over_plain_http(kustomized):
    production = one(kustomized["overlays/do-production"], "Ingress", "volley-web")
    assert production["spec"]["ingressClassName"] == "nginx"
    assert production["spec"]["tls"] == [{"hosts": ["volley.example.com"], "secretName": "volley-web-tls"}]
    assert "cert-manager.io/cluster-issuer" in production["metadata"]["annotations"]
    local = one(kustomized["overlays/local"], "Ingress", "volley-web")
    assert "tls" not in local["spec"]
    assert local["spec"]["rules"][0]["host"] == "volley.localtest.me"
    for _, spec in pods(kustomized["overlays/local"]):
        assert "nodeSelector" not in spec and "tolerations" not in spec
    for _, spec in pods(kustomized["overlays/do-production"]):
        assert spec["imagePullSecrets"] == [{"name": "registry-volley"}]
