"""NetworkPolicy probes on the real node: listener pods, a CoreDNS pod, and probes run inside pods.

Every pod runs the review image as uid 65532 in a `restricted` namespace (the CoreDNS pod runs in
kube-system) and listens on a few TCP ports with a small Python acceptor; `probe()` runs a Python
script inside one of them (`kubectl exec`) that tries every target at once with short timeouts and
reports, per target, what it got: `open`, `http <status>`, `answer <addresses>` (a DNS A lookup),
or `refused` / `timeout` / `error <errno>`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.harness.controlplane import ControlPlane, binary
from tests.harness.realnode import NODE_SELECTOR, TOLERATION
from tests.realnode.pods import get_pod, restricted_pod

TIMEOUT = 2.0  # seconds per connection attempt: the policy REJECTs, so a denial is quick
REACHED = ("open", "http ", "answer ")

# Accepts and closes connections on every port given; runs until the pod is deleted.
LISTEN = """
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64)
    while True:
        c, _ = s.accept(); c.close()
for p in sys.argv[1:]:
    threading.Thread(target=serve, args=(int(p),), daemon=True).start()
threading.Event().wait()
"""

# argv[1]: {"name": ["tcp", host, port] | ["http", host, port, path] | ["dns", host, port, qname]}
PROBE = """
import json, socket, struct, sys, concurrent.futures as cf
T = float(sys.argv[2])
def tcp(host, port):
    socket.create_connection((host, port), timeout=T).close(); return "open"
def http(host, port, path):
    with socket.create_connection((host, port), timeout=T) as s:
        s.settimeout(T)
        s.sendall(f"GET {path} HTTP/1.0\\r\\nHost: {host}\\r\\n\\r\\n".encode())
        return "http " + s.recv(64).split(b" ")[1].decode()
def skip(msg, i):
    while msg[i]:
        if msg[i] >= 192: return i + 2
        i += msg[i] + 1
    return i + 1
def dns(host, port, name):
    q = struct.pack(">6H", 0x5a5a, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\0" + struct.pack(">2H", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(T); s.connect((host, port))
    s.send(q); r = s.recv(4096); s.close()
    count = struct.unpack(">H", r[6:8])[0]; i = skip(r, 12) + 4; found = []
    for _ in range(count):
        i = skip(r, i); kind, _, _, size = struct.unpack(">2HIH", r[i:i + 10]); i += 10
        if kind == 1: found.append(socket.inet_ntoa(r[i:i + size]))
        i += size
    return "answer " + ",".join(found)
def run(target):
    try: return {"tcp": tcp, "http": http, "dns": dns}[target[0]](*target[1:])
    except socket.timeout: return "timeout"
    except ConnectionRefusedError: return "refused"
    except OSError as e: return f"error {e.errno}"
targets = json.loads(sys.argv[1])
with cf.ThreadPoolExecutor(len(targets)) as pool:
    print(json.dumps(dict(zip(targets, pool.map(run, targets.values())))))
"""


def reached(result: str) -> bool:
    return result.startswith(REACHED)


def listener_pod(
    name: str, image: str, labels: dict[str, str], ports: list[dict[str, Any]]
) -> dict[str, Any]:
    """A pod with `labels` accepting TCP connections on the container `ports` (named as given)."""
    pod = restricted_pod(name, image, [], memory="128Mi")
    pod["metadata"]["labels"] = labels
    main = pod["spec"]["containers"][0]
    main.pop("args")
    main["command"] = ["python3", "-c", LISTEN, *(str(p["containerPort"]) for p in ports)]
    main["ports"] = ports
    pod["spec"]["terminationGracePeriodSeconds"] = 1
    return pod


def service(name: str, namespace: str, selector: dict[str, str], port: int, target: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": selector, "ports": [{"port": port, "targetPort": target, "protocol": "TCP"}]},
    }


def probe(plane: ControlPlane, namespace: str, pod: str, targets: dict[str, list[Any]]) -> dict[str, str]:
    """Runs the probe script inside `pod` against every target; returns what each one got."""
    out = plane.kubectl(
        "exec", "-n", namespace, pod, "-c", "main", "--",
        "python3", "-c", PROBE, json.dumps(targets), str(TIMEOUT),
    ).stdout  # fmt: skip
    results: dict[str, str] = json.loads(out)
    return results


def wait_running(plane: ControlPlane, pods: list[tuple[str, str]], timeout: float = 120) -> dict[str, str]:
    """Waits for every (namespace, name) pod to be Running and Ready; returns their IPs by name."""
    deadline = time.monotonic() + timeout
    ips: dict[str, str] = {}
    for namespace, name in pods:
        while True:
            got = get_pod(plane, namespace, name)
            ready = any(
                c["type"] == "Ready" and c["status"] == "True" for c in got["status"].get("conditions", [])
            )
            if got["status"].get("phase") == "Running" and ready and got["status"].get("podIP"):
                ips[name] = got["status"]["podIP"]
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"pod {namespace}/{name} not ready: {json.dumps(got['status'])[:2000]}")
            time.sleep(0.5)
    return ips


# -- cluster DNS as pods ------------------------------------------------------------------------
DNS_LABELS = {"k8s-app": "kube-dns"}  # what the chart's reviewPods.networkPolicy.dns defaults select
DNS_NAME = "reviewop-coredns"


def coredns_manifests(image: str) -> list[dict[str, Any]]:
    """CoreDNS as a pod in kube-system with the labels cluster DNS pods carry, running the CoreDNS
    binary `make tools` built (mounted from the host: no registry here for CoreDNS's own image) with
    in-cluster credentials that may read what its kubernetes plugin watches."""
    corefile = """.:53 {
    errors
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 10
}
"""
    binary_dir = str(Path(binary("coredns")).resolve().parent)
    meta = {"name": DNS_NAME, "namespace": "kube-system"}
    rules = [
        {"apiGroups": [""], "resources": ["services", "pods", "namespaces"], "verbs": ["list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
    ]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**meta, "labels": DNS_LABELS},
        "spec": {
            "serviceAccountName": DNS_NAME,
            "nodeSelector": NODE_SELECTOR,
            "tolerations": [TOLERATION],
            "terminationGracePeriodSeconds": 1,
            "securityContext": {
                # uid 0 (with every capability dropped) only to read the binary below /root's cache,
                # which is not searchable by others.
                "runAsUser": 0,
                "seccompProfile": {"type": "RuntimeDefault"},
                # Port 53 without a capability (a namespaced, "safe" sysctl).
                "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "53"}],
            },
            "containers": [
                {
                    "name": "coredns",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["/coredns/coredns", "-conf", "/etc/coredns/Corefile"],
                    "ports": [
                        {"containerPort": 53, "protocol": "UDP"},
                        {"containerPort": 53, "protocol": "TCP"},
                    ],
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 1},
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "32Mi"},
                        "limits": {"memory": "128Mi"},
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [
                        {"name": "binary", "mountPath": "/coredns", "readOnly": True},
                        {"name": "config", "mountPath": "/etc/coredns", "readOnly": True},
                    ],
                }
            ],
            "volumes": [
                {"name": "binary", "hostPath": {"path": binary_dir, "type": "Directory"}},
                {"name": "config", "configMap": {"name": DNS_NAME}},
            ],
        },
    }
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": DNS_NAME},
         "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": DNS_NAME},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": DNS_NAME},
         "subjects": [{"kind": "ServiceAccount", "name": DNS_NAME, "namespace": "kube-system"}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"Corefile": corefile}},
        pod,
    ]  # fmt: skip


def dns_endpoints(address: str) -> dict[str, Any]:
    """The `kube-dns` Service's endpoints at `address` (the harness's Service has no selector)."""
    ports = [
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
    ]
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{DNS_NAME}-pod",
            "namespace": "kube-system",
            "labels": {"kubernetes.io/service-name": "kube-dns", **DNS_LABELS},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": ports,
    }
