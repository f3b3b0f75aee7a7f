"""Kueue (sigs.k8s.io/kueue's controller manager) as a host process against a test control plane,
and the queues and suspended Jobs of the controller benchmark's Kueue peer.

The binary is built from the module pinned in `tools/kueue/go.mod` (`tools/build.sh kueue`); its CRDs
are read from the same module version in the Go module cache (`config/components/crd/bases`).
Differences from a normal install (the release manifests or the Helm chart), all because it runs as a
host process here:
- no admission webhooks are registered (no MutatingWebhookConfiguration or
  ValidatingWebhookConfiguration) and the CRDs are the bases, without their conversion-webhook patches:
  every object is written in the storage version (v1beta2) and every Job is created already suspended
  and labelled with its LocalQueue, which is what Kueue's Job defaulting webhook would have done;
- internal certificate management is off: the manager's webhook server gets a self-signed serving
  certificate in a temporary directory, and its metrics server one at the fixed path Kueue v0.17 reads
  it from (`/etc/kueue/metrics/certs`), inside a private mount namespace (an overlay over /etc: the
  host's /etc is not written; needs root);
- the visibility API server (feature gate `VisibilityOnDemand`) is off: it is an aggregated API
  server, which would need an APIService and a Service;
- leader election is off (one replica), only the `batch/job` integration is enabled, and the log
  level is info (the manifests pass `--zap-log-level=2`): the benchmark runs review-operator at
  WARNING too.
Everything else (client rate limits, controller concurrency) is the shipped
`config/components/manager/controller_manager_config.yaml`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.harness.controlplane import REPO_ROOT, ComponentError, ControlPlane, binary, free_port
from tests.harness.hostproc import HostProcess
from tests.harness.testca import server_cert

TOOL_DIR = REPO_ROOT / "tools" / "kueue"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
API = "kueue.x-k8s.io/v1beta2"
SYSTEM_NAMESPACE = "kueue-system"
METRICS_CERT_DIR = "/etc/kueue/metrics/certs"  # fixed in cmd/kueue/main.go when internal certs are off


def pinned_version() -> str:
    """The Kueue version tools/kueue/go.mod pins (the binary and the CRDs)."""
    go_mod = TOOL_DIR / "go.mod"
    match = re.search(r"^\s*sigs\.k8s\.io/kueue (v\S+)", go_mod.read_text(), re.MULTILINE)
    if match is None:
        raise ComponentError(f"no sigs.k8s.io/kueue requirement in {go_mod}")
    return match.group(1)


def module_dir() -> Path:
    """The pinned Kueue module's source in the Go module cache (downloaded if it is not there)."""
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    out = subprocess.run(
        ["go", "mod", "download", "-json", "sigs.k8s.io/kueue"],
        cwd=TOOL_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    return Path(json.loads(out)["Dir"])


def install_crds(plane: ControlPlane) -> None:
    """Kueue's CRDs (the module's bases, server-side: the Workload CRD is too large for the
    last-applied annotation), and the manager's namespace."""
    bases = module_dir() / "config" / "components" / "crd" / "bases"
    plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(bases))
    names = [yaml.safe_load(p.read_text())["metadata"]["name"] for p in sorted(bases.glob("*.yaml"))]
    plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{n}" for n in names))
    if plane.kubectl("get", "namespace", SYSTEM_NAMESPACE, check=False).returncode != 0:
        plane.kubectl("create", "namespace", SYSTEM_NAMESPACE)


def manager_config(
    shipped: dict[str, Any], webhook_port: int, cert_dir: str, metrics_port: int, health_port: int
) -> dict[str, Any]:
    """The shipped controller-manager configuration with what a host process needs changed (see the
    module's docstring): loopback ports, no leader election, self-provided certificates, the Job
    integration only, no visibility server."""
    return {
        **shipped,
        "namespace": SYSTEM_NAMESPACE,
        "health": {"healthProbeBindAddress": f"127.0.0.1:{health_port}"},
        "metrics": {"bindAddress": f"127.0.0.1:{metrics_port}"},
        "webhook": {"port": webhook_port, "host": "127.0.0.1", "certDir": cert_dir},
        "leaderElection": {"leaderElect": False},
        "internalCertManagement": {"enable": False},
        "integrations": {"frameworks": ["batch/job"]},
        "featureGates": {**shipped.get("featureGates", {}), "VisibilityOnDemand": False},
    }


def queues(
    name: str, namespace: str, pods: int, requests: dict[str, str], flavor: str = "bench-default"
) -> list[dict[str, Any]]:
    """A ResourceFlavor, a ClusterQueue whose only binding quota is `pods` pods (Kueue counts pods
    as a resource when the ClusterQueue covers `pods`), and a LocalQueue in `namespace` feeding it.
    Every other resource the pods request must be covered too (else their Workloads are
    inadmissible): each gets far more quota than `pods` such pods need."""
    plenty = {"cpu": "100k", "memory": "100Pi", "ephemeral-storage": "100Pi"}
    resources = [{"name": "pods", "nominalQuota": pods}]
    resources += [{"name": r, "nominalQuota": plenty.get(r, "1M")} for r in sorted(requests)]
    return [
        {"apiVersion": API, "kind": "ResourceFlavor", "metadata": {"name": flavor}},
        {
            "apiVersion": API,
            "kind": "ClusterQueue",
            "metadata": {"name": name},
            "spec": {
                "namespaceSelector": {},
                "queueingStrategy": "BestEffortFIFO",
                "resourceGroups": [
                    {
                        "coveredResources": [r["name"] for r in resources],
                        "flavors": [{"name": flavor, "resources": resources}],
                    }
                ],
            },
        },
        {
            "apiVersion": API,
            "kind": "LocalQueue",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterQueue": name},
        },
    ]


def pod_requests(pod: dict[str, Any]) -> dict[str, str]:
    """The resource names a pod requests, each with one of its containers' values (init
    containers included): which resources a ClusterQueue must cover."""
    found: dict[str, str] = {}
    for container in [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]:
        found |= (container.get("resources") or {}).get("requests") or {}
    return found


def suspended_job(name: str, pod: dict[str, Any], queue: str) -> dict[str, Any]:
    """A single-pod Job running `pod`'s spec, created suspended in `queue` (Kueue unsuspends it
    when it admits its Workload)."""
    meta = {k: v for k, v in pod["metadata"].items() if k in ("labels", "annotations")}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {QUEUE_LABEL: queue}},
        "spec": {
            "suspend": True,
            "completions": 1,
            "parallelism": 1,
            "backoffLimit": 0,
            "template": {"metadata": meta, "spec": {**pod["spec"], "restartPolicy": "Never"}},
        },
    }


class Kueue(HostProcess):
    """`kueue` (the controller manager) against one control plane, ready when its /readyz is."""

    def __init__(self, plane: ControlPlane, workdir: Path) -> None:
        super().__init__("kueue", workdir / "kueue.log")
        self.plane = plane
        self.workdir = workdir

    def start(self, timeout: float = 120) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        certs = self.workdir / "certs"
        certs.mkdir(exist_ok=True)
        cert = server_cert("localhost", "kueue bench CA")
        (certs / "tls.crt").write_bytes(cert.cert_pem + cert.ca_pem)
        (certs / "tls.key").write_bytes(cert.key_pem)
        health = free_port()
        manager_dir = module_dir() / "config" / "components" / "manager"
        shipped = yaml.safe_load((manager_dir / "controller_manager_config.yaml").read_text())
        config = manager_config(shipped, free_port(), str(certs), free_port(), health)
        (self.workdir / "config.yaml").write_text(yaml.safe_dump(config))
        overlay = self.workdir / "etc-overlay"
        for sub in ("upper", "work"):
            (overlay / sub).mkdir(parents=True, exist_ok=True)
        # A private mount namespace whose /etc is an overlay (the host's /etc is not written), so the
        # metrics certificate can be where Kueue reads it; then exec: the pid is Kueue's.
        script = (
            'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc'
            f' && mkdir -p {METRICS_CERT_DIR} && cp "$2/tls.crt" "$2/tls.key" {METRICS_CERT_DIR}/'
            ' && exec "$3" "--config=$4" --zap-log-level=info'
        )
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "kueue-start"]
        argv += [str(overlay), str(certs), binary("kueue"), str(self.workdir / "config.yaml")]
        self.spawn(argv, self.plane.env(), cwd=self.workdir)
        self.wait_ready(f"http://127.0.0.1:{health}/readyz", timeout, poll=0.1)


def repository_queues(
    cohort: str, namespace: str, repos: list[str], total: int, per_repo: int, requests: dict[str, str]
) -> list[dict[str, Any]]:
    """The closest Kueue comes to review-operator's two limits: a Cohort holding the global quota
    (`total` pods), and per repository a ClusterQueue with no quota of its own that may borrow at most
    `per_repo` pods from it, fed by a LocalQueue of the same name. Every other resource the pods
    request is borrowed from the Cohort's plenty without a limit."""
    plenty = {"cpu": "100k", "memory": "100Pi", "ephemeral-storage": "100Pi"}
    flavor = "bench-default"
    names = ["pods", *sorted(requests)]
    cohort_resources = [{"name": "pods", "nominalQuota": total}]
    cohort_resources += [{"name": r, "nominalQuota": plenty.get(r, "1M")} for r in sorted(requests)]
    queue_resources: list[dict[str, Any]] = [{"name": "pods", "nominalQuota": 0, "borrowingLimit": per_repo}]
    queue_resources += [{"name": r, "nominalQuota": 0} for r in sorted(requests)]
    objects: list[dict[str, Any]] = [
        {"apiVersion": API, "kind": "ResourceFlavor", "metadata": {"name": flavor}},
        {
            "apiVersion": API,
            "kind": "Cohort",
            "metadata": {"name": cohort},
            "spec": {
                "resourceGroups": [
                    {"coveredResources": names, "flavors": [{"name": flavor, "resources": cohort_resources}]}
                ]
            },
        },
    ]
    for repo in repos:
        objects += [
            {
                "apiVersion": API,
                "kind": "ClusterQueue",
                "metadata": {"name": repo},
                "spec": {
                    "cohortName": cohort,
                    "namespaceSelector": {},
                    "queueingStrategy": "BestEffortFIFO",
                    "resourceGroups": [
                        {
                            "coveredResources": names,
                            "flavors": [{"name": flavor, "resources": queue_resources}],
                        }
                    ],
                },
            },
            {
                "apiVersion": API,
                "kind": "LocalQueue",
                "metadata": {"name": repo, "namespace": namespace},
                "spec": {"clusterQueue": repo},
            },
        ]
    return objects
