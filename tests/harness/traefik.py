"""Traefik, a real ingress controller, in front of the chart's webhook on the real node.

Traefik runs as a host process (built from Go modules by `make tools`), listens with TLS on the
bridge address and watches the control plane with its Kubernetes Ingress provider, as a
ServiceAccount bound to the ClusterRole Traefik documents for that provider. It routes to the
webhook pods' addresses from the chart's Service's EndpointSlices. Its static configuration:

- nothing leaves the machine (no version check, no anonymous usage report);
- forwarded headers are trusted from no one, so a client's `X-Forwarded-For` is replaced with the
  address Traefik saw;
- a `buffering` middleware from a file provider (`webhook-body-limit@file`), which an Ingress
  annotation attaches, refuses bodies over the webhook's own limit at the edge (Traefik has no
  body limit of its own).
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.harness.controlplane import ControlPlane, binary, free_port, stop_groups
from tests.harness.hostnet import HOST_IP

INGRESS_CLASS = "traefik"
CONTROLLER = "traefik.io/ingress-controller"
BODY_LIMIT_MIDDLEWARE = "webhook-body-limit@file"
MIDDLEWARES_ANNOTATION = "traefik.ingress.kubernetes.io/router.middlewares"
# The Ingress's `tls` section only gives Traefik certificates; without this (or TLS on the entry
# point) its router serves plain HTTP only, and HTTPS requests get 404.
TLS_ANNOTATION = "traefik.ingress.kubernetes.io/router.tls"
_ACCOUNT = "reviewop-traefik"
_READ = ["get", "list", "watch"]
_NETWORKING = ["extensions", "networking.k8s.io"]
_RULES = [  # Traefik's RBAC for its Kubernetes Ingress provider
    {"apiGroups": [""], "resources": ["services", "secrets", "nodes"], "verbs": _READ},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": _READ},
    {"apiGroups": _NETWORKING, "resources": ["ingresses", "ingressclasses"], "verbs": _READ},
    {"apiGroups": _NETWORKING, "resources": ["ingresses/status"], "verbs": ["update"]},
]


def rbac(namespace: str) -> list[dict[str, Any]]:
    """The IngressClass, ServiceAccount and cluster-wide read access Traefik's provider needs."""
    meta = {"name": _ACCOUNT}
    rbac_v1 = "rbac.authorization.k8s.io/v1"
    role_ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": _ACCOUNT}
    subject = {"kind": "ServiceAccount", "name": _ACCOUNT, "namespace": namespace}
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": INGRESS_CLASS},
            "spec": {"controller": CONTROLLER},
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {**meta, "namespace": namespace}},
        {"apiVersion": rbac_v1, "kind": "ClusterRole", "metadata": meta, "rules": _RULES},
        {"apiVersion": rbac_v1, "kind": "ClusterRoleBinding", "metadata": meta, "roleRef": role_ref,
         "subjects": [subject]},
    ]  # fmt: skip


def static_config(
    plane: ControlPlane, namespace: str, token: str, address: str, workdir: Path
) -> dict[str, Any]:
    return {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "log": {"level": os.environ.get("REVIEWOP_TRAEFIK_LOG_LEVEL", "INFO")},  # DEBUG: every decision
        "accessLog": {
            "filePath": str(workdir / "access.log"),
            "format": "json",
            "fields": {"headers": {"names": {"X-Github-Delivery": "keep"}}},  # to find a request's entry
        },
        # No forwardedHeaders.trustedIPs: X-Forwarded-* from any client are replaced.
        "entryPoints": {"websecure": {"address": address}},
        "providers": {
            "kubernetesIngress": {
                "endpoint": plane.server,
                "token": token,
                "certAuthFilePath": str(plane.workdir / "certs" / "apiserver.crt"),
                "namespaces": [namespace],
            },
            "file": {"filename": str(workdir / "dynamic.yaml"), "watch": False},
        },
    }


def dynamic_config(body_limit: int) -> dict[str, Any]:
    name = BODY_LIMIT_MIDDLEWARE.removesuffix("@file")
    return {"http": {"middlewares": {name: {"buffering": {"maxRequestBodyBytes": body_limit}}}}}


@dataclass
class Traefik:
    plane: ControlPlane
    namespace: str  # the only namespace whose Ingresses it serves
    workdir: Path
    body_limit: int
    host: str = HOST_IP  # where it listens
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None
    token: str = field(default="", repr=False)  # its ServiceAccount token: must not be logged

    @property
    def log_path(self) -> Path:
        return self.workdir / "traefik.log"

    @property
    def access_log(self) -> Path:
        return self.workdir / "access.log"

    def start(self) -> None:
        self.plane.apply(rbac(self.namespace))
        token = self.plane.kubectl(
            "create", "token", _ACCOUNT, "-n", self.namespace, "--duration=2h"
        ).stdout.strip()
        self.token = token
        config = self.workdir / "traefik.yaml"
        config.touch(mode=0o600)
        config.write_text(
            yaml.safe_dump(
                static_config(self.plane, self.namespace, token, f"{self.host}:{self.port}", self.workdir)
            )
        )
        (self.workdir / "dynamic.yaml").write_text(yaml.safe_dump(dynamic_config(self.body_limit)))
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                [binary("traefik"), f"--configFile={config}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        time.sleep(0.2)
        if self.popen.poll() is not None:
            raise RuntimeError(f"traefik exited at once ({self.popen.returncode}):\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.popen is not None:
            stop_groups([self.popen], grace=10)
            self.popen = None
        for manifest in reversed(rbac(self.namespace)):
            meta = manifest["metadata"]
            args = ["delete", manifest["kind"], meta["name"], "--ignore-not-found", "--wait=false"]
            self.plane.kubectl(
                *args, *(["-n", meta["namespace"]] if "namespace" in meta else []), check=False
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
