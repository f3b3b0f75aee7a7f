"""The Helm chart against the real control plane: lint, render, schema, install, PodSecurity, RBAC.

One release is installed (module scope) into a namespace that enforces PodSecurity `restricted`;
the RBAC checks then ask the API server, as the chart's ServiceAccounts, what they may do.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from review_operator.api.models import ReviewJob
from review_operator.builders.pod import build_checkout_secret, build_review_pod
from review_operator.config import ControllerSettings, GitHubSettings, WebhookSettings
from review_operator.metrics import ControllerMetrics, WebhookMetrics
from tests.harness.controlplane import REPO_ROOT, ControlPlane, binary, free_port
from tests.harness.stack import ControllerProcess
from tests.integration.webhook_helpers import example, running_webhook

CHART = REPO_ROOT / "charts" / "review-operator"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
MANIFESTS = REPO_ROOT / "deploy" / "review-operator.yaml"
SAMPLE = REPO_ROOT / "config" / "samples" / "reviewjob.yaml"
RELEASE = "ro"
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
# Settings the chart deliberately does not set from a plain value: secrets come from mounted files or
# secretKeyRef, the App id is unset by default, the listen address keeps its default.
NOT_FROM_VALUES = {
    "REVIEWOP_GITHUB_APP_ID",
    "REVIEWOP_GITHUB_TOKEN",
    "REVIEWOP_WEBHOOK_SECRET",
    "REVIEWOP_WEBHOOK_HOST",
}


def helm(*args: str, kubeconfig: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [binary("helm"), *args]
    if kubeconfig is not None:
        cmd.append(f"--kubeconfig={kubeconfig}")
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=180)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def render(*args: str, namespace: str = "review-operator") -> list[dict[str, Any]]:
    out = helm("template", RELEASE, str(CHART), "--namespace", namespace, *args).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def find(docs: list[dict[str, Any]], kind: str, suffix: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix)]
    assert len(matches) == 1, f"{kind} *{suffix}: {len(matches)} found"
    return matches[0]


def container_env(deployment: dict[str, Any]) -> dict[str, str | None]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_helm_lint_with_every_ci_values_file() -> None:
    for values in CI_VALUES:
        helm("lint", "--strict", str(CHART), "-f", str(values))


@pytest.mark.parametrize("values", CI_VALUES, ids=[v.name for v in CI_VALUES])
def test_helm_template_renders_every_ci_values_file_with_restricted_pods(values: Path) -> None:
    docs = render("-f", str(values))
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"} <= kinds
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
    # Secrets are referenced, never rendered.
    assert "Secret" not in kinds


def test_controller_has_a_standby_replica_and_webhook_has_pdb() -> None:
    docs = render()
    controller = find(docs, "Deployment", "-controller")
    # Two replicas: the Lease elects the one that acts (tests/e2e: one leads, the other takes over).
    assert controller["spec"]["replicas"] == 2
    assert controller["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    probes = controller["spec"]["template"]["spec"]["containers"][0]
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert find(docs, "Deployment", "-webhook")["spec"]["replicas"] == 2
    assert find(docs, "PodDisruptionBudget", "-webhook")["spec"]["minAvailable"] == 1

    # Nothing cluster-wide by default (kopf's scanning is off); the opt-in adds read-only scans only.
    def cluster_scoped(docs: list[dict[str, Any]]) -> list[str]:
        return [d["metadata"]["name"] for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]

    assert cluster_scoped(docs) == []
    opted_in = render("--set", "controller.rbac.kopfClusterReads=true")
    assert cluster_scoped(opted_in) == [f"{RELEASE}-review-operator-review-operator-controller-kopf"] * 2
    rules = find(opted_in, "ClusterRole", "-controller-kopf")["rules"]
    assert {verb for rule in rules for verb in rule["verbs"]} <= {"get", "list", "watch"}


def test_optional_features_render_their_objects() -> None:
    by_file = {v.name: {d["kind"] for d in render("-f", str(v))} for v in CI_VALUES}
    assert "HorizontalPodAutoscaler" in by_file["hpa-values.yaml"]
    assert "Ingress" in by_file["ingress-tls-values.yaml"]
    assert {"ServiceMonitor", "PrometheusRule", "ConfigMap"} <= by_file["monitoring-values.yaml"]
    assert "Namespace" in by_file["review-pool-values.yaml"]
    assert (
        not {"HorizontalPodAutoscaler", "Ingress", "ServiceMonitor", "PrometheusRule", "Namespace"}
        & (by_file["default-values.yaml"])
    )
    ingress = find(render("-f", str(CHART / "ci" / "ingress-tls-values.yaml")), "Ingress", "-webhook")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["review.example.com"], "secretName": "review-example-com-tls"}
    ]
    rules = find(render("-f", str(CHART / "ci" / "monitoring-values.yaml")), "PrometheusRule", "")
    alerts = {r["alert"] for r in rules["spec"]["groups"][0]["rules"]}
    assert len(alerts) == 8


def test_the_model_key_reaches_the_controller_only_while_the_probe_is_on() -> None:
    # Issue 19: the probe needs the review key; the controller gets it as a read-only file (never a
    # Secret read through the API), and only when the probe is on.
    on = find(render(), "Deployment", "-controller")
    env = container_env(on)
    assert env["REVIEWOP_MODEL_KEY_FILE"] == "/etc/review-operator/model/ANTHROPIC_API_KEY"
    assert env["REVIEWOP_MODEL_PROBE_INTERVAL_SECONDS"] == "300"
    pod = on["spec"]["template"]["spec"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "model-key")
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == "model-key")["secret"]
    assert volume["secretName"] == "review-operator-model" and volume["optional"] is True
    assert volume["items"] == [{"key": "ANTHROPIC_API_KEY", "path": "ANTHROPIC_API_KEY"}]
    off = find(render("--set", "controller.config.modelProbeIntervalSeconds=0"), "Deployment", "-controller")
    assert "REVIEWOP_MODEL_KEY_FILE" not in container_env(off)
    assert "model-key" not in json.dumps(off)


@pytest.mark.parametrize(
    ("flag", "key"),
    [
        ("bogus=1", "bogus"),
        ("webhook.config.nope=1", "nope"),
        ("controller.config.maxConcurrent=0", "minimum"),
        ("controller.config.maxThinkingTokens=500", "maxThinkingTokens"),  # the API's minimum is 1024
        ("github.config.reviewEvent=APPROVE", "reviewEvent"),  # the bot never approves
        ("github.config.requestChangesSeverity=blocker", "requestChangesSeverity"),
    ],
)
def test_schema_rejects_unknown_keys_and_bad_values_naming_them(flag: str, key: str) -> None:
    result = helm("template", RELEASE, str(CHART), "--set", flag, check=False)
    assert result.returncode != 0
    assert key in result.stderr


def test_values_map_one_to_one_to_the_settings_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = render("-f", str(CHART / "ci" / "review-pool-values.yaml"))
    controller_env = container_env(find(docs, "Deployment", "-controller"))
    webhook_env = container_env(find(docs, "Deployment", "-webhook"))
    controller_fields = {f"REVIEWOP_{k.upper()}" for k in ControllerSettings.model_fields} | {
        f"REVIEWOP_GITHUB_{k.upper()}" for k in GitHubSettings.model_fields
    }
    webhook_fields = {f"REVIEWOP_{k.upper()}" for k in WebhookSettings.model_fields}
    assert set(controller_env) - controller_fields == set(), "the chart sets a variable nobody reads"
    assert set(webhook_env) - webhook_fields == set(), "the chart sets a variable nobody reads"
    assert controller_fields - set(controller_env) - NOT_FROM_VALUES == set(), "a setting has no chart value"
    assert webhook_fields - set(webhook_env) - NOT_FROM_VALUES == set(), "a setting has no chart value"

    # The rendered strings parse into the intended settings (JSON maps, numbers, booleans).
    for name, value in controller_env.items():
        if value is not None:
            monkeypatch.setenv(name, value)
    settings = ControllerSettings()
    assert settings.timeout_chain_errors() == []
    assert settings.node_selector == {"review-operator.dev/pool": "review"}
    assert settings.tolerations[0]["effect"] == "NoSchedule"
    assert settings.namespace == "review-operator-reviews"
    assert GitHubSettings().app_id == 123456
    assert GitHubSettings().check_details_url == "https://reviews.example.com/{namespace}/{name}"
    for name, value in webhook_env.items():
        if value is not None and name != "REVIEWOP_WEBHOOK_SECRET_FILE":
            monkeypatch.setenv(name, value)
    assert WebhookSettings().webhook_trusted_associations == ["OWNER", "MEMBER", "COLLABORATOR"]
    assert WebhookSettings().webhook_github_app_id == 123456  # Re-run counts only for our App's runs


def test_rendered_manifests_are_current() -> None:
    header, _, body = MANIFESTS.read_text().partition("---\n")
    fresh = helm(
        "template", "review-operator", str(CHART), "--namespace", "review-operator", "--include-crds"
    ).stdout
    assert header.startswith("# GENERATED by `make manifests`")
    assert "---\n" + body == fresh, f"{MANIFESTS.relative_to(REPO_ROOT)} is stale: run `make manifests`"


SELF_REVIEWS = {
    "selfsubjectreviews.authentication.k8s.io",
    "selfsubjectaccessreviews.authorization.k8s.io",
    "selfsubjectrulesreviews.authorization.k8s.io",
}


def test_alerts_and_dashboard_use_only_exposed_series() -> None:
    registry = CollectorRegistry()
    ControllerMetrics(registry)
    WebhookMetrics(registry)
    exposition = generate_latest(registry).decode()
    series = {
        line.split("{")[0].split(" ")[0] for line in exposition.splitlines() if not line.startswith("#")
    }
    docs = render("-f", str(CHART / "ci" / "monitoring-values.yaml"))
    text = json.dumps([d for d in docs if d["kind"] in ("PrometheusRule", "ConfigMap")])
    used = set(re.findall(r"reviewop_[a-z_]+", text))
    assert used and used <= series, f"unknown series: {used - series}"
    bounds = re.findall(r'reviewop_review_cost_usd_bucket\{le=\\"([^\\"]+)', text)
    assert bounds, "the expensive-review alert should compare against a bucket bound"
    for bound in bounds:
        assert f'reviewop_review_cost_usd_bucket{{le="{bound}"}}' in exposition


def _alert_case(rule: dict[str, Any], series: dict[str, str], at: str, fires: bool) -> dict[str, Any]:
    """One `promtool test rules` case: the input series (1 min apart) and whether `rule` is firing
    at `at`, with its own labels and annotations."""
    expected = [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}] if fires else []
    return {
        "interval": "1m",
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "alert_rule_test": [{"eval_time": at, "alertname": rule["alert"], "exp_alerts": expected}],
    }


def test_alerts_fire_when_they_should_and_only_then(tmp_path: Path) -> None:
    """promtool (built from the Prometheus module) checks the rendered rules and evaluates each alert
    on series shaped like the ones the controller and the webhook expose: firing, and not firing."""
    rule_doc = find(render("-f", str(CHART / "ci" / "monitoring-values.yaml")), "PrometheusRule", "")
    rules = {r["alert"]: r for r in rule_doc["spec"]["groups"][0]["rules"]}
    job = f"{rule_doc['metadata']['name']}-controller-metrics"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_doc["spec"]["groups"]}))
    checked = subprocess.run(
        [binary("promtool"), "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    cost_count, cost_le5 = "reviewop_review_cost_usd_count", 'reviewop_review_cost_usd_bucket{le="5.0"}'
    completed = "reviewop_reviews_completed_total"
    unauthorized = 'reviewop_webhook_deliveries_total{outcome="unauthorized"}'

    def both(name: str, firing: dict[str, str], quiet: dict[str, str], at: str) -> list[dict[str, Any]]:
        return [_alert_case(rules[name], firing, at, True), _alert_case(rules[name], quiet, at, False)]

    cases = [
        # A $7 review lands in no bucket up to 5.0; a $2 one does.
        *both(
            "ReviewOperatorExpensiveReview",
            {cost_count: "0x5 1x10", cost_le5: "0x15"},
            {cost_count: "0x5 1x10", cost_le5: "0x5 1x10"},
            "10m",
        ),
        *both(
            "ReviewOperatorDailySpendHigh",
            {"reviewop_cost_usd_total": "0+1x180"},  # $1 a minute for 3 h
            {"reviewop_cost_usd_total": "0+0.25x180"},
            "180m",
        ),
        *both(
            "ReviewOperatorQueueBacklog",
            {"reviewop_queue_depth": "80x20"},
            {"reviewop_queue_depth": "40x20"},
            "15m",
        ),
        *both(
            "ReviewOperatorFailureRatioHigh",
            {f'{completed}{{outcome="Failed"}}': "0+1x30", f'{completed}{{outcome="Succeeded"}}': "0+1x30"},
            {f'{completed}{{outcome="Failed"}}': "0+1x30", f'{completed}{{outcome="Succeeded"}}': "0+9x30"},
            "25m",
        ),
        *both(
            "ReviewOperatorCliMissing",
            {f'{completed}{{outcome="Failed",reason="CliMissing"}}': "0x5 1x10"},
            {f'{completed}{{outcome="Failed",reason="AgentError"}}': "0x5 1x10"},
            "10m",
        ),
        *both(
            "ReviewOperatorModelKeyRejected",
            {'reviewop_admission_paused{cause="model_key"}': "0x2 1x10"},
            {
                'reviewop_admission_paused{cause="model_key"}': "0x10",
                'reviewop_admission_paused{cause="daily_budget"}': "1x10",
            },
            "8m",
        ),
        *both("ReviewOperatorSignatureFailures", {unauthorized: "0+60x20"}, {unauthorized: "0+1x20"}, "15m"),
        *both(
            "ReviewOperatorControllerAbsent",
            {f'up{{job="{job}"}}': "1x5 0x15"},
            {f'up{{job="{job}"}}': "1x20"},
            "15m",
        ),
    ]
    assert {c["alert_rule_test"][0]["alertname"] for c in cases} == set(rules), "every alert has a case"
    (tmp_path / "tests.yaml").write_text(
        yaml.safe_dump({"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": cases})
    )
    tested = subprocess.run(
        [binary("promtool"), "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_value_is_documented_in_the_chart_readme() -> None:
    readme = (CHART / "README.md").read_text()
    check = [sys.executable, str(REPO_ROOT / "tools" / "chart_readme.py"), "--check"]
    stale = subprocess.run(check, capture_output=True, text=True, check=False)
    assert stale.returncode == 0, stale.stdout + stale.stderr
    documented = set(re.findall(r"^\| `([A-Za-z0-9.]+)` \|", readme, flags=re.MULTILINE))
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing: list[str] = []

    def walk(node: Any, path: str) -> None:
        if path in documented:
            return
        if isinstance(node, dict) and node:
            for key, child in node.items():
                walk(child, f"{path}.{key}" if path else key)
        else:
            missing.append(path)

    walk(values, "")
    assert missing == [], "values missing from charts/review-operator/README.md"


# -- against the control plane ----------------------------------------------------------------


def wait_for(check: Any, timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def install(control_plane: ControlPlane, ns: str, model_secret: str, *values: str) -> None:
    """A fresh PodSecurity-restricted namespace with the Secrets the chart names, and the chart in it
    (the model Secret under `model_secret`, `values` as extra helm flags)."""
    control_plane.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": RESTRICTED}}
    )
    for name, key in (
        ("review-operator-webhook", "secret"),
        ("review-operator-github-app", "private-key.pem"),
        (model_secret, "ANTHROPIC_API_KEY"),
    ):
        control_plane.kubectl("create", "secret", "generic", name, "-n", ns, f"--from-literal={key}=x")
    model = ["--set", f"secrets.model.existingSecret={model_secret}"]
    helm(
        "install", RELEASE, str(CHART), "--namespace", ns, "--wait", "--timeout", "120s", *model, *values,
        kubeconfig=control_plane.kubeconfig,
    )  # fmt: skip


@pytest.fixture(scope="module")
def release(control_plane: ControlPlane) -> Iterator[str]:
    """The chart installed with default values into a fresh PodSecurity-restricted namespace."""
    ns = f"chart-{uuid.uuid4().hex[:8]}"
    install(control_plane, ns, "review-operator-model")
    yield ns
    helm("uninstall", RELEASE, "--namespace", ns, "--wait", kubeconfig=control_plane.kubeconfig, check=False)
    control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_install_admits_every_pod_under_restricted_and_they_run(
    control_plane: ControlPlane, release: str
) -> None:
    def running() -> list[str] | None:
        pods = json.loads(
            control_plane.kubectl(
                "get",
                "pods",
                "-n",
                release,
                "-l",
                "app.kubernetes.io/component in (webhook,controller)",
                "-o",
                "json",
            ).stdout
        )["items"]
        phases = [p["status"].get("phase") for p in pods]
        return phases if len(phases) == 4 and set(phases) == {"Running"} else None

    wait_for(running, what="2 webhook pods and 2 controller pods Running")
    events = control_plane.kubectl("get", "events", "-n", release, "-o", "json").stdout
    assert "violates PodSecurity" not in events
    listed = json.loads(
        control_plane.kubectl("get", "all,sa,role,rolebinding,netpol,pdb", "-n", release, "-o", "json").stdout
    )
    names = {f"{i['kind']}/{i['metadata']['name']}" for i in listed["items"]}
    assert {
        f"ServiceAccount/{RELEASE}-review-operator-{c}" for c in ("webhook", "controller", "review")
    } <= names


def can_i(control_plane: ControlPlane, sa: str, namespace: str, *args: str) -> bool:
    who = f"--as=system:serviceaccount:{namespace}:{RELEASE}-review-operator-{sa}"
    result = control_plane.kubectl("auth", "can-i", who, *args, check=False)
    return result.stdout.strip() == "yes"


@pytest.mark.parametrize(
    ("sa", "verb", "resource", "elsewhere", "allowed"),
    [
        ("webhook", "create", "reviewjobs.review-operator.dev", False, True),
        ("webhook", "patch", "reviewjobs.review-operator.dev", False, True),
        # RBAC allows patch and delete; the admission policy narrows them to setting spec.cancel and
        # deleting a Cancelled ReviewJob (test_webhook_identity_deletes_only_a_cancelled_reviewjob).
        ("webhook", "delete", "reviewjobs.review-operator.dev", False, True),
        ("webhook", "patch", "reviewjobs.review-operator.dev/status", False, False),
        ("webhook", "get", "secrets", False, False),
        ("webhook", "get", "pods", False, False),
        ("webhook", "create", "reviewjobs.review-operator.dev", True, False),
        ("controller", "create", "pods", False, True),
        ("controller", "create", "secrets", False, True),
        ("controller", "watch", "reviewjobs.review-operator.dev", False, True),
        ("controller", "patch", "reviewjobs.review-operator.dev/status", False, True),
        ("controller", "update", "leases.coordination.k8s.io", False, True),
        ("controller", "create", "events", False, True),
        ("controller", "get", "secrets", False, False),
        ("controller", "list", "secrets", False, False),
        ("controller", "get", "secrets", True, False),
        ("controller", "create", "pods", True, False),
        ("controller", "create", "reviewjobs.review-operator.dev", False, False),
        ("controller", "get", "namespaces", False, False),
        ("controller", "list", "namespaces", False, False),
        ("controller", "list", "customresourcedefinitions", False, False),
        ("controller", "delete", "customresourcedefinitions", False, False),
        ("controller", "create", "pods/exec", False, False),
        ("review", "get", "pods", False, False),
        ("review", "get", "secrets", False, False),
        ("review", "get", "reviewjobs.review-operator.dev", False, False),
    ],
)
def test_rbac_is_minimal(
    control_plane: ControlPlane,
    release: str,
    sa: str,
    verb: str,
    resource: str,
    elsewhere: bool,
    allowed: bool,
) -> None:
    where = "kube-system" if elsewhere else release
    resource, _, subresource = resource.partition("/")
    extra = [f"--subresource={subresource}"] if subresource else []
    assert can_i(control_plane, sa, release, verb, resource, *extra, "-n", where) is allowed


def test_review_sa_can_do_nothing_at_all(control_plane: ControlPlane, release: str) -> None:
    who = f"--as=system:serviceaccount:{release}:{RELEASE}-review-operator-review"
    rules = control_plane.kubectl("auth", "can-i", who, "--list", "-n", release).stdout
    # Only what every authenticated identity gets (self reviews; discovery URLs), never a resource.
    resources = {
        line.split()[0] for line in rules.splitlines()[1:] if line.strip() and not line.startswith(" ")
    }
    assert resources <= SELF_REVIEWS, rules


def test_controller_token_creates_an_admitted_review_pod_and_secret(
    control_plane: ControlPlane, release: str
) -> None:
    """What the controller creates, created with the controller's own token, passes RBAC and PodSecurity."""
    body = yaml.safe_load(SAMPLE.read_text())
    control_plane.kubectl("create", "-n", release, "-f", "-", input_text=yaml.safe_dump(body))
    stored = json.loads(
        control_plane.kubectl("get", "rj", body["metadata"]["name"], "-n", release, "-o", "json").stdout
    )
    job = ReviewJob.model_validate(stored)
    settings = ControllerSettings(namespace=release, image="review-operator:test")
    token = control_plane.kubectl(
        "create", "token", f"{RELEASE}-review-operator-controller", "-n", release, "--duration=10m"
    ).stdout.strip()
    secret = build_checkout_secret(job, "ghs_test")
    head_sha = job.spec.pull_request.head_sha
    assert head_sha is not None
    pod = build_review_pod(job, 1, head_sha, settings, "https://api.github.com", True)
    for manifest in (secret, pod):
        created = control_plane.kubectl(
            "create", "-n", release, "-f", "-", input_text=yaml.safe_dump(manifest), token=token, check=False
        )
        assert created.returncode == 0, created.stderr
    # ... and that token still cannot read the Secret it wrote.
    read = control_plane.kubectl(
        "get", "secret", secret["metadata"]["name"], "-n", release, token=token, check=False
    )
    assert "forbidden" in read.stderr.lower()


def test_rendered_manifests_apply_cleanly_server_side(control_plane: ControlPlane) -> None:
    control_plane.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "review-operator"}})
    result = control_plane.kubectl("apply", "--dry-run=server", "-f", str(MANIFESTS), check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("values", ["ingress-tls-values.yaml", "hpa-values.yaml"])
def test_optional_objects_pass_server_side_validation(control_plane: ControlPlane, values: str) -> None:
    control_plane.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "review-operator"}})
    rendered = helm(
        "template", RELEASE, str(CHART), "--namespace", "review-operator", "-f", str(CHART / "ci" / values)
    ).stdout
    result = control_plane.kubectl("apply", "--dry-run=server", "-f", "-", input_text=rendered, check=False)
    assert result.returncode == 0, result.stderr


def sa_kubeconfig(control_plane: ControlPlane, namespace: str, sa: str, directory: Path) -> Path:
    """A kubeconfig that authenticates as one of the chart's ServiceAccounts (a TokenRequest token)."""
    token = control_plane.kubectl(
        "create", "token", f"{RELEASE}-review-operator-{sa}", "-n", namespace, "--duration=10m"
    ).stdout.strip()
    config = yaml.safe_load(control_plane.kubeconfig.read_text())
    config["users"][0]["user"] = {"token": token}
    path = directory / f"{sa}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def phase_of(control_plane: ControlPlane, namespace: str, name: str) -> str:
    out = control_plane.kubectl(
        "get", "rj", name, "-n", namespace, "-o", "jsonpath={.status.phase}", check=False
    )
    return out.stdout.strip()


async def test_webhook_and_controller_as_the_charts_service_accounts_complete_a_review(
    control_plane: ControlPlane, release: str, tmp_path: Path
) -> None:
    """The chart's RBAC is sufficient: a signed delivery becomes a ReviewJob, a review pod, a result."""
    env = {
        "KUBECONFIG": str(sa_kubeconfig(control_plane, release, "controller", tmp_path)),
        "REVIEWOP_POST_REVIEWS": "false",
        "REVIEWOP_HEALTH_PORT": str(free_port()),
        "REVIEWOP_METRICS_PORT": str(free_port()),
        "REVIEWOP_LEASE_DURATION_SECONDS": "3",
        "REVIEWOP_IMAGE": "review-operator:test",
        "REVIEWOP_LOG_FORMAT": "text",
    }
    controller = ControllerProcess(control_plane, release, tmp_path / "controller.log", env)
    controller.start()
    try:
        hook_config = sa_kubeconfig(control_plane, release, "webhook", tmp_path)
        async with running_webhook(release, hook_config) as (hook, _):
            response = await hook.deliver("pull_request", example("pull_request", "opened"))
            assert response.status == 201, await response.text()
            name = (await response.json())["reviewjob"]
        wait_for(lambda: phase_of(control_plane, release, name) == "Succeeded", 60, f"{name} Succeeded")
    finally:
        controller.stop()
    log = controller.log_text()
    assert "forbidden" not in log.lower() and "permissions" not in log.lower(), log[-3000:]


def test_separate_review_namespace_is_created_restricted_with_the_rbac(control_plane: ControlPlane) -> None:
    """`namespace.create`: the chart creates and labels the review namespace; the Roles live there."""
    suffix = uuid.uuid4().hex[:8]
    ns, reviews = f"chart-{suffix}", f"reviews-{suffix}"
    control_plane.kubectl("create", "namespace", ns)
    try:
        helm(
            "install", RELEASE, str(CHART), "--namespace", ns, "--wait", "--timeout", "120s",
            "-f", str(CHART / "ci" / "review-pool-values.yaml"), "--set", f"namespace.name={reviews}",
            kubeconfig=control_plane.kubeconfig,
        )  # fmt: skip
        created = json.loads(control_plane.kubectl("get", "namespace", reviews, "-o", "json").stdout)
        labels = created["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert can_i(control_plane, "controller", ns, "create", "pods", "-n", reviews)
        assert not can_i(control_plane, "controller", ns, "create", "pods", "-n", ns)
        assert can_i(control_plane, "webhook", ns, "create", "reviewjobs.review-operator.dev", "-n", reviews)
        assert can_i(control_plane, "controller", ns, "update", "leases.coordination.k8s.io", "-n", reviews)
        policies = control_plane.kubectl("get", "networkpolicy", "-n", reviews, "-o", "name").stdout
        assert f"{RELEASE}-review-operator-review-pods" in policies
    finally:
        kubeconfig = control_plane.kubeconfig
        helm("uninstall", RELEASE, "--namespace", ns, "--wait", kubeconfig=kubeconfig, check=False)
        control_plane.kubectl("delete", "namespace", ns, reviews, "--wait=false", check=False)


# -- trust boundaries: admission policies, Secrets, review-pod egress ---------------------------


def _as(release: str, sa: str) -> str:
    return f"--as=system:serviceaccount:{release}:{RELEASE}-review-operator-{sa}"


def _sample(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    body["metadata"]["name"] = name
    body["spec"].update(spec)
    return body


def _refused(result: subprocess.CompletedProcess[str]) -> bool:
    text = result.stderr.lower()
    return result.returncode != 0 and ("denied" in text or "invalid" in text or "forbidden" in text)


def test_webhook_identity_can_only_create_reviewjobs_and_set_cancel(
    control_plane: ControlPlane, release: str
) -> None:
    """The internet-facing webhook's ServiceAccount: every tampering attempt is refused by the API server."""
    webhook = _as(release, "webhook")
    name = f"pr-1296269-1-{uuid.uuid4().hex[:12]}"

    def kubectl(*args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        return control_plane.kubectl(*args, "-n", release, webhook, input_text=input_text, check=False)

    def patch(body: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return kubectl("patch", "rj", name, "--type=merge", "-p", json.dumps(body))

    # Creating with overrides (a bigger budget, another model) is refused; without, it is allowed.
    costly = _sample(name, overrides={"maxBudgetUsd": 100, "maxTurns": 200})
    assert _refused(kubectl("create", "-f", "-", input_text=yaml.safe_dump(costly)))
    created = kubectl("create", "-f", "-", input_text=yaml.safe_dump(_sample(name)))
    assert created.returncode == 0, created.stderr
    before = json.loads(control_plane.kubectl("get", "rj", name, "-n", release, "-o", "json").stdout)

    attempts = {
        "repository": {"spec": {"repository": {"owner": "victim", "name": "private", "id": 4242}}},
        "installation": {"spec": {"installationId": 1}},
        "overrides": {"spec": {"overrides": {"maxBudgetUsd": 100}}},
        "head": {"spec": {"pullRequest": {"headSha": "f" * 40}}},
        "labels": {"metadata": {"labels": {"review-operator.dev/repository-id": "4242"}}},
        "annotations": {"metadata": {"annotations": {"review-operator.dev/anything": "x"}}},
        "finalizers": {"metadata": {"finalizers": ["example.com/hold"]}},
    }
    for what, body in attempts.items():
        assert _refused(patch(body)), f"the webhook could change {what}"
    after = json.loads(control_plane.kubectl("get", "rj", name, "-n", release, "-o", "json").stdout)
    assert after["spec"] == before["spec"] and after["metadata"].get("labels") == before["metadata"]["labels"]

    cancel = {"reason": "PullRequestClosed", "requestedAt": "2026-11-22T00:00:00Z"}
    done = patch({"spec": {"cancel": cancel}})
    assert done.returncode == 0, done.stderr
    assert _refused(patch({"spec": {"cancel": None}})), "the webhook could withdraw a cancellation"
    assert _refused(patch({"spec": {"cancel": {**cancel, "reason": "Manual"}}}))
    # Status stays the controller's (RBAC), and so does deleting.
    assert _refused(
        kubectl("patch", "rj", name, "--subresource=status", "--type=merge", "-p", '{"status":{}}')
    )
    assert _refused(kubectl("delete", "rj", name))


def test_webhook_identity_deletes_only_a_cancelled_reviewjob(
    control_plane: ControlPlane, release: str
) -> None:
    """So that a reopened pull request is reviewed again at the same head (issue 19, item 2), the
    webhook may delete a ReviewJob that ended Cancelled, and no other."""
    webhook = _as(release, "webhook")
    for phase, allowed in (("Cancelled", True), ("Running", False), ("Succeeded", False), (None, False)):
        name = f"pr-1296269-2-{uuid.uuid4().hex[:12]}"
        control_plane.kubectl("create", "-n", release, "-f", "-", input_text=yaml.safe_dump(_sample(name)))
        if phase is not None:
            status = json.dumps({"status": {"phase": phase}})
            control_plane.kubectl(
                "patch", "rj", name, "-n", release, "--subresource=status", "--type=merge", "-p", status
            )
        deleted = control_plane.kubectl("delete", "rj", name, "-n", release, webhook, check=False)
        assert (deleted.returncode == 0) is allowed, (phase, deleted.stderr)
        if not allowed:
            assert _refused(deleted), deleted.stderr
            control_plane.kubectl("delete", "rj", name, "-n", release)


def test_controller_identity_cannot_read_rewrite_or_delete_the_app_key_or_other_secrets(
    control_plane: ControlPlane, release: str
) -> None:
    controller = _as(release, "controller")
    app_key = "review-operator-github-app"

    def kubectl(*args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        return control_plane.kubectl(*args, "-n", release, controller, input_text=input_text, check=False)

    assert _refused(kubectl("get", "secret", app_key))
    assert _refused(kubectl("get", "secrets"))
    stored = json.loads(control_plane.kubectl("get", "secret", app_key, "-n", release, "-o", "json").stdout)
    rewritten = {**stored, "data": {"private-key.pem": "bWFsbG9yeQ=="}}
    assert _refused(kubectl("replace", "-f", "-", input_text=json.dumps(rewritten)))
    assert _refused(kubectl("delete", "secret", app_key))
    still = json.loads(control_plane.kubectl("get", "secret", app_key, "-n", release, "-o", "json").stdout)
    assert still["data"] == stored["data"]

    # What it may write: its own checkout Secrets, labelled and owned by a ReviewJob; nothing else.
    job_name = f"pr-1296269-1-{uuid.uuid4().hex[:12]}"
    control_plane.kubectl("create", "-n", release, "-f", "-", input_text=yaml.safe_dump(_sample(job_name)))
    job = ReviewJob.model_validate(
        json.loads(control_plane.kubectl("get", "rj", job_name, "-n", release, "-o", "json").stdout)
    )
    own = build_checkout_secret(job, "ghs_test")
    unlabelled = {**own, "metadata": {**own["metadata"], "name": f"{job_name}-plain", "labels": {}}}
    sa_token = {
        **own,
        "type": "kubernetes.io/service-account-token",
        "metadata": {
            **own["metadata"],
            "name": f"{job_name}-satoken",
            "annotations": {"kubernetes.io/service-account.name": f"{RELEASE}-review-operator-webhook"},
        },
    }
    assert _refused(kubectl("create", "-f", "-", input_text=json.dumps(unlabelled)))
    assert _refused(kubectl("create", "-f", "-", input_text=json.dumps(sa_token)))
    created = kubectl("create", "-f", "-", input_text=json.dumps(own))
    assert created.returncode == 0, created.stderr
    replaced = kubectl("replace", "-f", "-", input_text=json.dumps(own))
    assert replaced.returncode == 0, replaced.stderr
    deleted = kubectl("delete", "secret", own["metadata"]["name"])
    assert deleted.returncode == 0, deleted.stderr


def test_controller_role_reads_no_secret_and_writes_only_through_the_policy() -> None:
    docs = render()
    rules = find(docs, "Role", "-controller")["rules"]
    for rule in (r for r in rules if "secrets" in r["resources"]):
        assert not {"get", "list", "watch", "patch"} & set(rule["verbs"]) or rule.get("resourceNames"), rule
    policy = find(docs, "ValidatingAdmissionPolicy", "-controller-secrets")
    assert policy["spec"]["matchConstraints"]["resourceRules"][0]["operations"] == [
        "CREATE",
        "UPDATE",
        "DELETE",
    ]
    binding = find(docs, "ValidatingAdmissionPolicyBinding", "-controller-secrets")
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert not {d["kind"] for d in render("--set", "admissionPolicies.enabled=false")} & {
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }


def _egress_allows(policy: dict[str, Any], address: str, port: int) -> bool:
    ip = ipaddress.ip_address(address)
    for rule in policy["spec"]["egress"]:
        if port not in {p["port"] for p in rule.get("ports", [])}:
            continue
        for peer in rule["to"]:
            block = peer.get("ipBlock")
            if block is None:
                continue
            net = ipaddress.ip_network(block["cidr"])
            carved = any(ip in ipaddress.ip_network(e) for e in block.get("except", []))
            if ip.version == net.version and ip in net and not carved:
                return True
    return False


def test_review_pods_reach_neither_the_api_server_nor_cluster_ranges(control_plane: ControlPlane) -> None:
    policy = find(render(), "NetworkPolicy", "-review-pods")
    egress = policy["spec"]["egress"]
    assert all(rule.get("to") for rule in egress), "an egress rule without `to` allows every destination"
    dns = next(rule for rule in egress if {p["port"] for p in rule["ports"]} == {53})
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    # The real API server's addresses and its Service, the service network, pods, cloud metadata.
    slices = json.loads(
        control_plane.kubectl(
            "get",
            "endpointslices",
            "-n",
            "default",
            "-l",
            "kubernetes.io/service-name=kubernetes",
            "-o",
            "json",
        ).stdout
    )["items"]
    published = [a for s in slices for e in s.get("endpoints") or [] for a in e["addresses"]]
    # This control plane listens on loopback, which the API server does not publish: take the kubeconfig's.
    server = yaml.safe_load(control_plane.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    api_addresses = [*published, str(urlsplit(server).hostname)]
    service_ip = control_plane.kubectl(
        "get", "service", "kubernetes", "-n", "default", "-o", "jsonpath={.spec.clusterIP}"
    ).stdout.strip()
    assert api_addresses and service_ip
    for address in [*api_addresses, service_ip, "10.96.0.10", "10.244.1.7", "169.254.169.254", "192.168.1.1"]:
        for port in (443, 53):
            assert not _egress_allows(policy, address, port), f"review pods may reach {address}:{port}"
    assert _egress_allows(policy, "140.82.112.3", 443), "GitHub must stay reachable"
    assert not _egress_allows(policy, "140.82.112.3", 80)


def test_narrowed_https_cidrs_keep_only_the_carve_outs_inside_them(control_plane: ControlPlane) -> None:
    https = "reviewPods.networkPolicy.httpsCIDRs={140.82.112.0/20,10.0.0.0/8}"
    narrowed = render("--set", https, "--set", "reviewPods.networkPolicy.deniedCIDRs={10.96.0.0/12}")
    policy = find(narrowed, "NetworkPolicy", "-review-pods")
    blocks = [p["ipBlock"] for rule in policy["spec"]["egress"] for p in rule["to"] if "ipBlock" in p]
    assert blocks == [{"cidr": "140.82.112.0/20"}, {"cidr": "10.0.0.0/8", "except": ["10.96.0.0/12"]}]
    control_plane.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "review-operator"}})
    applied = control_plane.kubectl(
        "apply", "--dry-run=server", "-f", "-", input_text=yaml.safe_dump(policy), check=False
    )
    assert applied.returncode == 0, applied.stderr
    # An allowed range inside a denied one is a contradiction the install refuses, naming the values.
    inside = "reviewPods.networkPolicy.httpsCIDRs={10.1.2.3/32}"
    refused = helm("template", RELEASE, str(CHART), "--set", inside, check=False)
    assert refused.returncode != 0 and "deniedCIDRs" in refused.stderr


def test_a_staging_and_a_production_release_live_side_by_side(
    control_plane: ControlPlane, release: str
) -> None:
    """Per-environment keys (issue 19): a second release in its own namespace, with its own model
    Secret and limits, next to the module's release. Each keeps its own Secrets, RBAC, Lease and
    cluster-scoped admission policies; removing one leaves the other whole."""
    prod = f"prod-{uuid.uuid4().hex[:8]}"
    install(control_plane, prod, "prod-model-key", "--set", "controller.config.maxConcurrent=1")
    try:

        def env(ns: str) -> dict[str, str]:
            deployment = json.loads(
                control_plane.kubectl(
                    "get", "deployment", f"{RELEASE}-review-operator-controller", "-n", ns, "-o", "json"
                ).stdout
            )
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            return {e["name"]: e.get("value", "") for e in container["env"]}

        staging_env, prod_env = env(release), env(prod)
        assert (staging_env["REVIEWOP_MODEL_SECRET_NAME"], prod_env["REVIEWOP_MODEL_SECRET_NAME"]) == (
            "review-operator-model",
            "prod-model-key",
        )
        assert (staging_env["REVIEWOP_MAX_CONCURRENT"], prod_env["REVIEWOP_MAX_CONCURRENT"]) == ("5", "1")
        assert (staging_env["REVIEWOP_NAMESPACE"], prod_env["REVIEWOP_NAMESPACE"]) == (release, prod)
        # Neither controller nor webhook can act in the other's namespace, nor read its Secrets.
        for ns, other in ((release, prod), (prod, release)):
            for sa, verb, resource in (
                ("controller", "create", "pods"),
                ("controller", "patch", "reviewjobs.review-operator.dev"),
                ("webhook", "create", "reviewjobs.review-operator.dev"),
                ("controller", "get", "secrets"),
            ):
                assert not can_i(control_plane, sa, ns, verb, resource, "-n", other), (sa, ns, other, verb)
        # Cluster-scoped objects are named per release and namespace: both sets exist.
        policies = control_plane.kubectl("get", "validatingadmissionpolicies", "-o", "name").stdout
        assert release in policies and prod in policies
    finally:
        helm(
            "uninstall",
            RELEASE,
            "--namespace",
            prod,
            "--wait",
            kubeconfig=control_plane.kubeconfig,
            check=False,
        )
        control_plane.kubectl("delete", "namespace", prod, "--wait=false", check=False)
    policies = control_plane.kubectl("get", "validatingadmissionpolicies", "-o", "name").stdout
    assert release in policies and prod not in policies  # staging's are untouched
