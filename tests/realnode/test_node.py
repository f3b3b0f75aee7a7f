"""The real node itself: the project's image runs under the restricted profile, kubectl logs reach
the kubelet, pods resolve Service names through cluster DNS and reach the API server by its Service."""

from __future__ import annotations

import json

from tests.harness.realnode import NODE_NAME
from tests.realnode.conftest import RealCluster
from tests.realnode.pods import logs, restricted_namespace, restricted_pod, run_to_end, terminated


def test_image_runs_restricted_on_the_real_node_and_its_logs_are_readable(real_cluster: RealCluster) -> None:
    plane = real_cluster.plane
    ns = restricted_namespace(plane, "node")
    pod = run_to_end(plane, ns, restricted_pod("help", real_cluster.images.app, ["--help"]))
    assert pod["spec"]["nodeName"] == NODE_NAME
    assert pod["status"]["phase"] == "Succeeded", pod["status"]
    assert terminated(pod)["exitCode"] == 0
    text = logs(plane, ns, "help")
    assert "usage: review-operator" in text, text


PROBE = """
import json, socket, ssl
out = {}
out["kubernetes"] = socket.gethostbyname("kubernetes.default.svc.cluster.local")
out["dns"] = socket.gethostbyname("kube-dns.kube-system.svc.cluster.local")
try:
    socket.gethostbyname("no-such-service.default.svc.cluster.local")
    out["missing"] = "resolved"
except OSError:
    out["missing"] = "NXDOMAIN"
with socket.create_connection(("kubernetes.default.svc", 443), timeout=5) as s:
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    with ctx.wrap_socket(s) as t:
        t.sendall(b"GET /livez HTTP/1.1\\r\\nHost: kubernetes\\r\\nConnection: close\\r\\n\\r\\n")
        out["livez"] = t.recv(200).decode().split("\\r\\n")[0]
out["uid"] = __import__("os").getuid()
out["caps"] = [l for l in open("/proc/self/status") if l.startswith("CapEff")][0].split()[1]
print(json.dumps(out))
"""


def test_pods_resolve_services_and_reach_the_api_server_through_its_service(
    real_cluster: RealCluster,
) -> None:
    plane = real_cluster.plane
    ns = restricted_namespace(plane, "dns")
    spec = restricted_pod("probe", real_cluster.images.app, ["-c", PROBE])
    spec["spec"]["containers"][0]["command"] = ["python"]
    pod = run_to_end(plane, ns, spec)
    assert pod["status"]["phase"] == "Succeeded", logs(plane, ns, "probe")
    result = json.loads(logs(plane, ns, "probe").strip().splitlines()[-1])
    assert result["kubernetes"] == "10.96.0.1"
    assert result["dns"] == "10.96.0.10"
    assert result["missing"] == "NXDOMAIN"
    assert result["livez"].startswith("HTTP/1.1 "), result  # TLS through kube-proxy to the API server
    assert result["uid"] == 65532
    assert result["caps"] == "0000000000000000"
