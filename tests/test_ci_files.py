"""The image and CI/CD files, checked offline: the Dockerfile (hadolint, and what the
image must be: non-root, a health check, `volley` as the entry point), the GitHub
workflows (actionlint, GitHub's own schema, yamllint), the Jenkinsfile (its stages, in
order, and balanced brackets: no offline validator of declarative pipelines exists),
and .dockerignore. Both CI systems must run the README's test command.

The linters are the test environment's own, beside sys.executable (scripts/lint runs
the same ones).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scaler import defaults as scaler_defaults

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DOCKERFILE = ROOT / "docker" / "Dockerfile"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
JENKINSFILE = ROOT / "Jenkinsfile"
TEST_COMMAND = "scripts/test"


def run_tool(*command: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in command], cwd=ROOT, capture_output=True, text=True, timeout=120)


def workflow(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def steps_run(document: dict) -> list[str]:
    """Every `run:` script of every job of a workflow."""
    return [step["run"] for job in document["jobs"].values() for step in job.get("steps", []) if "run" in step]


# --- the Dockerfile -------------------------------------------------------------------

def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined,
    comments and parser directives left out."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = [[]]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), " ".join(arguments.split())))
    return stages[1:]


def test_the_dockerfile_is_hadolint_clean():
    linted = run_tool(BIN / "hadolint", DOCKERFILE)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_image_runs_as_non_root_and_has_a_healthcheck():
    builder, runtime = dockerfile_stages()
    final = dict(runtime)
    # Numeric: Kubernetes can only verify runAsNonRoot for a numeric user.
    assert final["USER"] == "10001:10001"
    assert json.loads(final["HEALTHCHECK"].split(" CMD ", 1)[1]) == ["volley", "health"]
    assert json.loads(final["ENTRYPOINT"]) == ["volley"]
    assert json.loads(final["CMD"]) == ["web"]
    assert final["EXPOSE"] == "8000"
    assert "VOLLEY_WORK_DIR=/work" in final["ENV"]
    assert [args for op, args in runtime if op == "COPY"] == ["--from=builder /opt/venv /opt/venv"]
    assert any("apt-get install -y --no-install-recommends ffmpeg" in args for op, args in runtime if op == "RUN")


def test_the_image_holds_the_package_without_the_test_extras():
    builder, _ = dockerfile_stages()
    installs = [args for op, args in builder if op == "RUN" and "pip install" in args]
    assert installs and all(args.endswith(" .") and "--no-cache-dir" in args for args in installs)
    assert all("[test]" not in args for args in installs)


def test_both_stages_start_from_the_same_pinned_python():
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert base and base.group(1) == "python:3.11-slim-bookworm"
    assert [args.split()[0] for stage in dockerfile_stages() for op, args in stage if op == "FROM"] == [
        "${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]


# --- .dockerignore ---------------------------------------------------------------------

def dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders
    decides; `!` re-includes; `**` is any number of folders."""
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = _glob_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


def _glob_regex(pattern: str) -> re.Pattern:
    out = ""
    for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
        out += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
    return re.compile(out)


@pytest.mark.parametrize("path", [
    ".git/config", ".venv/bin/python", ".cache/x", ".pytest_cache/v/cache", "volley.egg-info/PKG-INFO",
    "front/__pycache__/views.cpython-311.pyc", "sample/out/rallies.json", "out/digest.mp4",
    "volley-data/volley.sqlite3", "reports/junit.xml", "build/lib/volley/cli.py", ".env",
])
def test_the_dockerignore_keeps_local_state_out(path):
    assert dockerignore_excludes(path)


@pytest.mark.parametrize("path", [
    "pyproject.toml", "README.md", "volley/cli.py", "front/static/front/volley.css",
    "front/templates/front/base.html", "front/migrations/0001_initial.py", "vproc/rally_model.json",
    "scaler/service.py",
])
def test_the_dockerignore_lets_the_package_in(path):
    assert not dockerignore_excludes(path)


# --- GitHub workflows --------------------------------------------------------------------

def test_the_workflows_are_actionlint_clean():
    linted = run_tool(BIN / "actionlint", *WORKFLOWS)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_workflows_match_githubs_schema():
    checked = run_tool(BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_workflows_are_yamllint_clean():
    linted = run_tool(BIN / "yamllint", "--strict", "-c", ROOT / ".yamllint", ROOT / ".github" / "workflows")
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_every_workflow_limits_its_token_and_every_job_its_time():
    for path in WORKFLOWS:
        document = yaml.safe_load(path.read_text())
        assert "permissions" in document, path.name
        for name, job in document["jobs"].items():
            # Jobs that call a reusable workflow take the called workflow's limits.
            assert "uses" in job or "timeout-minutes" in job, f"{path.name}: {name}"


def test_ci_runs_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    assert re.search(rf"^\s+{TEST_COMMAND}$", readme, re.MULTILINE), "the README's test command moved"
    assert any(script.startswith(TEST_COMMAND) for script in steps_run(workflow("ci.yml")))
    assert re.search(rf"sh '{TEST_COMMAND}( [^']*)?'", JENKINSFILE.read_text())


def test_ci_runs_the_linters_too():
    assert "scripts/lint" in steps_run(workflow("ci.yml"))
    assert "sh 'scripts/lint'" in JENKINSFILE.read_text()


def test_deploys_are_tested_first_and_production_waits_for_staging():
    jobs = workflow("deploy.yml")["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/ci.yml"
    assert jobs["image"]["needs"] == "test"
    assert jobs["staging"]["with"]["namespace"] == "volley-staging"
    assert set(jobs["production"]["needs"]) == {"image", "staging"}
    assert jobs["production"]["with"] == {"environment": "production", "namespace": "volley",
                                          "tag": "${{ needs.image.outputs.tag }}"}


def test_every_deploy_goes_through_scripts_deploy_with_a_tag_the_chart_has():
    chart_values = yaml.safe_load((ROOT / "deploy" / "k8s" / "chart" / "volley" / "values.yaml").read_text())
    deploy = (ROOT / "scripts" / "deploy").read_text()
    assert "helm upgrade --install \"$release\" deploy/k8s/chart/volley" in deploy
    assert "--set-string image.tag=" in deploy  # a tag of digits only must stay a string
    assert "tag" in chart_values["image"]
    assert chart_values["image"]["repository"] == "registry.digitalocean.com/volley/volley"
    assert "scripts/deploy " in " ".join(steps_run(workflow("helm-deploy.yml")))
    jenkins = (ROOT / "Jenkinsfile").read_text()
    assert 'sh "scripts/deploy ${namespace} ' in jenkins and "helm upgrade" not in jenkins
    assert "deployTo('staging', 'volley-staging')" in jenkins and "deployTo('production', 'volley')" in jenkins


def test_a_deploy_waits_for_the_front_and_the_scaler_not_for_draining_workers():
    deploy = (ROOT / "scripts" / "deploy").read_text()
    assert "--wait=hookOnly" in deploy and "--rollback-on-failure" not in deploy
    assert '"deployment/$release-web" "deployment/$release-scaler"' in deploy
    assert "helm rollback" in deploy


def test_hand_scaling_uses_the_scalers_own_pause_annotation():
    scripts = "\n".join(steps_run(workflow("scale-processing.yml")))
    assert f"{scaler_defaults.PAUSE_ANNOTATION}=true --overwrite" in scripts
    assert f"{scaler_defaults.PAUSE_ANNOTATION}-" in scripts  # resume removes it
    assert f"deployment/{scaler_defaults.DEPLOYMENT}" in scripts


# --- Jenkinsfile --------------------------------------------------------------------------

def groovy_code_only(text: str) -> str:
    """The Jenkinsfile without its comments and string literals, whose brackets do not count."""
    pattern = r"//[^\n]*|/\*.*?\*/|'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\""
    return re.sub(pattern, "", text, flags=re.DOTALL)


def test_the_jenkinsfile_has_the_pipeline_stages_in_order():
    stages = re.findall(r"stage\('([^']+)'\)", JENKINSFILE.read_text())
    assert stages == ["Checkout", "Lint", "Test", "Build and push image", "Deploy staging", "Approve",
                      "Deploy production"]


def test_the_jenkinsfile_brackets_balance():
    code = groovy_code_only(JENKINSFILE.read_text())
    depth = []
    for char in code:
        if char in "{([":
            depth.append(char)
        elif char in "})]":
            assert depth and "{([".index(depth.pop()) == "})]".index(char), "a bracket closes the wrong one"
    assert depth == []


def test_the_jenkinsfile_deploys_only_main_and_asks_before_production():
    text = JENKINSFILE.read_text()
    for stage in ("Deploy staging", "Approve", "Deploy production"):
        body = text.split(f"stage('{stage}')", 1)[1]
        assert body.lstrip().startswith("{\n") and "when { branch 'main' }" in body.split("stage(", 1)[0], stage
    approve = text.split("stage('Approve')", 1)[1].split("stage(", 1)[0]
    assert "timeout(" in approve and "input message:" in approve
    post = text.rsplit("post {", 1)[1]
    assert "junit" in post and "cleanWs()" in post
