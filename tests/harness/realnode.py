"""A real node beside the kwok nodes: containerd + runc + CNI bridge, kubelet, kube-proxy, CoreDNS.

kubelet and kube-proxy come from the same Kubernetes module set as the control plane, containerd 2.x
and CoreDNS from Go modules (`make tools`), runc and the CNI plugins from Debian. The node registers
as `reviewop-node` with the label `review-operator.dev/real-node=true` and the taint
`review-operator.dev/real-node=true:NoSchedule`, so only pods that tolerate it land there.

Everything lives in one work directory (containerd's root and state, kubelet's root, pod logs, CNI
state) plus a short state directory under /run (unix socket paths are limited to 108 bytes), and
`stop()` leaves the host as `hostnet.HostState` found it. Needs root; `RealNode.unavailable()` says
why it cannot run here, if it cannot.

Use: `node.prepare()` (bridge, fence) → `ControlPlane(address=HOST_IP).start()` → `node.start(plane)`
→ … → `node.stop()` → `plane.stop()` → `node.restore()`. NetworkPolicies are enforced only between
`node.start_firewall(plane)` and `node.stop_firewall()` (kube-router's firewall, tests/harness/kuberouter.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import yaml

from tests.harness import hostlease, hostnet, kuberouter
from tests.harness.controlplane import (
    REPO_ROOT,
    SERVICE_CIDR,
    ComponentError,
    ControlPlane,
    binary,
    free_port,
    stop_groups,
)

NODE_NAME = "reviewop-node"
NODE_LABEL = "review-operator.dev/real-node"
TOLERATION = {"key": NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}
NODE_SELECTOR = {NODE_LABEL: "true"}
CLUSTER_DNS = "10.96.0.10"
CGROUP_ROOT = "/reviewop"
CNI_BIN = Path("/usr/lib/cni")
IMAGES_FILE = REPO_ROOT / ".cache" / "images.json"
HOST_PACKAGES = {
    "runc": "runc",
    "iptables": "iptables",
    "conntrack": "conntrack",
    "ip": "iproute2",
    "ipset": "ipset",
}


@dataclass(frozen=True)
class Images:
    """The images `make image` built (tools/image.sh writes .cache/images.json)."""

    app: str
    app_archive: Path
    pause: str
    pause_archive: Path

    @classmethod
    def load(cls) -> Images:
        if not IMAGES_FILE.exists():
            raise ComponentError(f"{IMAGES_FILE} not found: run `make image`")
        data = json.loads(IMAGES_FILE.read_text())
        return cls(data["app"], Path(data["app_archive"]), data["pause"], Path(data["pause_archive"]))

    def app_bytes(self) -> int:
        return int(json.loads(IMAGES_FILE.read_text())["app_bytes"])


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: IO[bytes]


@dataclass
class RealNode:
    images: Images
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="reviewop-node-")))
    procs: list[_Proc] = field(default_factory=list)
    host: hostnet.HostState | None = None
    start_seconds: float = 0.0
    import_seconds: float = 0.0
    ipsets_before_firewall: list[str] = field(default_factory=list)
    lease: hostlease.HostLease = field(default_factory=hostlease.HostLease)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state = Path(tempfile.mkdtemp(prefix="rop-", dir="/run"))
        self.socket = self.state / "containerd.sock"

    @staticmethod
    def unavailable() -> str | None:
        """Why a real node cannot run on this machine, or None."""
        if os.geteuid() != 0:
            return "the real node needs root"
        for exe, package in HOST_PACKAGES.items():
            if shutil.which(exe) is None:
                return f"{exe} is missing: apt-get install {package} (`make host-packages`)"
        if not (CNI_BIN / "bridge").exists():
            return "CNI plugins are missing: apt-get install containernetworking-plugins"
        for name in (
            "containerd",
            "containerd-shim-runc-v2",
            "ctr",
            "kubelet",
            "kube-proxy",
            "coredns",
            "kube-router",
        ):
            if not (REPO_ROOT / ".cache" / "bin" / name).exists():
                return f"{name} is not built: run `make tools`"
        if not IMAGES_FILE.exists():
            return "the images are not built: run `make image`"
        return None

    # -- host ------------------------------------------------------------------------------------
    def claim_host(self) -> list[str]:
        """Takes the host (waiting for another live run) and undoes what a run that died left on it
        (hostlease.py); returns what it undid. `prepare()` claims it if this was not called."""
        return self.lease.acquire()

    def prepare(self) -> None:
        """Records the host's state (in memory and in the lease's journal), then creates the bridge
        and the forwarding fence."""
        self.claim_host()
        for directory in (self.workdir, self.state):  # a dead run's directory may have had this path
            directory.mkdir(parents=True, exist_ok=True)
        hostnet.check_subnet_free()  # before anything is recorded: a failure here has nothing to undo
        self.host = hostnet.HostState.snapshot([self.workdir, self.state], CGROUP_ROOT)
        self.lease.begin(self.host, [self.workdir, self.state])
        hostnet.create_bridge()
        hostnet.fence_forwarding()
        hostnet.create_cgroup_root(CGROUP_ROOT)

    def track(self, plane: ControlPlane) -> None:
        """Puts the control plane's processes and directory in the journal: a later run stops them
        should this one die (they listen on the bridge's address)."""
        self.lease.track(plane.pids, [plane.workdir])

    def restore(self) -> list[str]:
        """Undoes `prepare()` and everything since; releases the host."""
        problems = self.host.restore() if self.host else []
        if os.environ.get("REVIEWOP_KEEP_CONTROLPLANE") != "1":
            shutil.rmtree(self.workdir, ignore_errors=True)
        shutil.rmtree(self.state, ignore_errors=True)
        self.lease.release()
        return problems

    # -- node ------------------------------------------------------------------------------------
    def start(self, plane: ControlPlane) -> None:
        begin = time.monotonic()
        self._start_containerd()
        t = time.monotonic()
        self.ctr("images", "import", "--local", str(self.images.pause_archive))
        self.ctr("images", "import", "--local", str(self.images.app_archive))
        self.import_seconds = time.monotonic() - t
        self._start_kubelet(plane)
        self._wait_node_ready(plane)
        self._start_kube_proxy(plane)
        self._start_coredns(plane)
        self.start_seconds = time.monotonic() - begin

    def stop(self, plane: ControlPlane | None = None) -> None:
        """Deletes the node's pods (so kubelet stops their containers), then stops every process and
        kills whatever is left in the node's cgroups (containers, shims)."""
        if any(p.name == "kube-router" for p in self.procs):
            self.stop_firewall()
        if plane is not None and any(p.name == "kubelet" for p in self.procs):
            plane.kubectl(
                "delete",
                "pods",
                "-A",
                f"--field-selector=spec.nodeName={NODE_NAME}",
                "--grace-period=1",
                "--wait=true",
                "--timeout=60s",
                check=False,
            )
        stop_groups([proc.popen for proc in self.procs], grace=10)
        for proc in self.procs:
            proc.log.close()
        self.procs.clear()
        self._kill_leftovers()

    def start_firewall(self, plane: ControlPlane) -> float:
        """Starts kube-router's network-policy firewall; returns once its first full sync is done
        (its chains are in the filter table), with the seconds that took."""
        begin = time.monotonic()
        self.ipsets_before_firewall = hostnet.ipset_names()
        self._spawn("kube-router", kuberouter.args(plane.kubeconfig, NODE_NAME, SERVICE_CIDR, free_port()))

        def synced() -> bool:
            logged = kuberouter.SYNCED in self.log_path("kube-router").read_text(errors="replace")
            return logged and "KUBE-ROUTER-FORWARD" in kuberouter.chains(kuberouter.filter_table())

        self._wait("kube-router (first policy sync)", synced, 60, "kube-router")
        return time.monotonic() - begin

    def stop_firewall(self) -> list[str]:
        """Stops kube-router and removes its chains and ipsets; returns what is left (nothing)."""
        running = [p for p in self.procs if p.name == "kube-router"]
        stop_groups([p.popen for p in running], grace=10)
        for proc in running:
            proc.log.close()
            self.procs.remove(proc)
        return kuberouter.remove(self.ipsets_before_firewall)

    def ctr(self, *args: str) -> str:
        cmd = [binary("ctr"), "--address", str(self.socket), "--namespace", "k8s.io", *args]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
        if result.returncode != 0:
            raise ComponentError(f"ctr {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    # -- internals -------------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str]) -> None:
        log = self.log_path(name).open("ab")
        env = {**os.environ, "PATH": f"{REPO_ROOT / '.cache' / 'bin'}:{os.environ.get('PATH', '')}"}
        popen = subprocess.Popen(
            [binary(name), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env=env,
            start_new_session=True,
        )
        self.procs.append(_Proc(name, popen, log))
        self.lease.track([popen.pid])
        time.sleep(0.1)
        if popen.poll() is not None:
            raise ComponentError(f"{name} exited at once; see {self.log_path(name)}")

    def check_alive(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is not None:
                tail = "\n".join(self.log_path(proc.name).read_text(errors="replace").splitlines()[-15:])
                raise ComponentError(
                    f"{proc.name} exited ({proc.popen.returncode}); see {self.log_path(proc.name)}\n{tail}"
                )

    def _wait(self, what: str, ready: object, timeout: float, log: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if ready():  # type: ignore[operator]
                return
            time.sleep(0.2)
        raise ComponentError(f"{what} not ready after {timeout:.0f} s; see {self.log_path(log)}")

    def _start_containerd(self) -> None:
        config = self.workdir / "containerd.toml"
        config.write_text(containerd_config(self.workdir, self.state, self.images.pause))
        cni = self.workdir / "cni"
        cni.mkdir(exist_ok=True)
        (cni / "10-reviewop.conflist").write_text(json.dumps(cni_config(self.workdir)))
        self._spawn("containerd", ["--config", str(config)])
        self._wait("containerd", lambda: self.socket.exists(), 30, "containerd")

    def _start_kubelet(self, plane: ControlPlane) -> None:
        crt, key = plane.client_cert(f"system:node:{NODE_NAME}", ("system:nodes",), "node")
        kubeconfig = self.workdir / "kubelet.kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(_kubeconfig(plane, crt, key)))
        resolv = self.workdir / "resolv.conf"
        resolv.write_text("")  # pods resolve cluster names only, never through the host's resolvers
        config = self.workdir / "kubelet.yaml"
        config.write_text(yaml.safe_dump(kubelet_config(self.workdir, self.socket, plane, resolv)))
        self._spawn(
            "kubelet",
            [
                f"--config={config}",
                f"--kubeconfig={kubeconfig}",
                f"--root-dir={self.workdir / 'kubelet'}",
                f"--cert-dir={self.workdir / 'kubelet' / 'pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={hostnet.HOST_IP}",
                f"--node-labels={NODE_LABEL}=true",
                "--v=1",
            ],
        )

    def _wait_node_ready(self, plane: ControlPlane) -> None:
        def ready() -> bool:
            out = plane.kubectl(
                "get",
                "node",
                NODE_NAME,
                "-o",
                "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
                check=False,
            ).stdout
            return out.strip() == "True"

        self._wait("kubelet (node Ready)", ready, 90, "kubelet")
        # No node-lifecycle controller runs here to lift the taint new nodes are registered with.
        plane.kubectl("taint", "nodes", NODE_NAME, "node.kubernetes.io/not-ready:NoSchedule-", check=False)

    def _start_kube_proxy(self, plane: ControlPlane) -> None:
        config = self.workdir / "kube-proxy.yaml"
        health = free_port()
        config.write_text(yaml.safe_dump(kube_proxy_config(plane, health)))
        self._spawn("kube-proxy", [f"--config={config}", "--v=1"])

    def _start_coredns(self, plane: ControlPlane) -> None:
        ready_port = free_port()
        corefile = self.workdir / "Corefile"
        corefile.write_text(coredns_config(plane.kubeconfig, ready_port))
        self._spawn("coredns", ["-conf", str(corefile)])
        plane.apply(dns_service())

        def answering() -> bool:
            import urllib.request

            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ready_port}/ready", timeout=1) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        self._wait("coredns", answering, 30, "coredns")

    def _kill_leftovers(self) -> None:
        """SIGKILLs every process still in the node's cgroups (containers), then the runc shims."""
        hostnet.kill_cgroup_processes(CGROUP_ROOT)
        hostnet.kill_processes_mentioning([str(self.socket)], program="containerd-shim-runc-v2")
        time.sleep(0.5)


# -- configuration builders (pure) ---------------------------------------------------------------
def containerd_config(workdir: Path, state: Path, pause_image: str) -> str:
    return f"""version = 3
root = "{workdir / "containerd"}"
state = "{state}"
[grpc]
  address = "{state / "containerd.sock"}"
[plugins.'io.containerd.internal.v1.opt']
  path = "{workdir / "opt"}"
[plugins.'io.containerd.nri.v1.nri']
  disable = true
[plugins.'io.containerd.grpc.v1.cri']
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = "{pause_image}"
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_cdi = false
[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = "runc"
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  BinaryName = "{shutil.which("runc") or "/usr/sbin/runc"}"
  SystemdCgroup = false
[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ["{CNI_BIN}"]
  conf_dir = "{workdir / "cni"}"
"""


def cni_config(workdir: Path) -> dict[str, object]:
    return {
        "cniVersion": "1.0.0",
        "name": "reviewop",
        "plugins": [
            {
                "type": "bridge",
                "bridge": hostnet.BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [
                        [
                            {
                                "subnet": hostnet.POD_SUBNET,
                                "gateway": hostnet.HOST_IP,
                                "rangeStart": "10.85.0.10",
                            }
                        ]
                    ],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(workdir / "cni-ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(workdir: Path, socket: Path, plane: ControlPlane, resolv: Path) -> dict[str, object]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": hostnet.HOST_IP,
        "port": free_port(),
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": free_port(),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(plane.workdir / "certs" / "apiserver.crt")},
        },
        # Only the API server holds a certificate from that CA.
        "authorization": {"mode": "AlwaysAllow"},
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": CGROUP_ROOT,
        "failCgroupV1": False,
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{socket}",
        "clusterDNS": [CLUSTER_DNS],
        "clusterDomain": "cluster.local",
        "resolvConf": str(resolv),
        "podLogsDir": str(workdir / "pod-logs"),
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2%", "imagefs.available": "2%"},
        "registerWithTaints": [{"key": NODE_LABEL, "value": "true", "effect": "NoSchedule"}],
        "serializeImagePulls": False,
        "maxPods": 40,
        "nodeStatusReportFrequency": "10s",
        "syncFrequency": "5s",
    }


def kube_proxy_config(plane: ControlPlane, health_port: int) -> dict[str, object]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(plane.kubeconfig)},
        "hostnameOverride": NODE_NAME,
        "mode": "iptables",
        "clusterCIDR": hostnet.POD_SUBNET,
        "healthzBindAddress": f"127.0.0.1:{health_port}",
        "metricsBindAddress": f"127.0.0.1:{free_port()}",
        "nodePortAddresses": [f"{hostnet.HOST_IP}/32"],
        # Service traffic between pods on one bridge returns through the host when it is masqueraded
        # (to the bridge's own address: nothing leaves the machine).
        "iptables": {"masqueradeAll": True, "localhostNodePorts": False},
        # 0: leave the host's conntrack settings alone.
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }


def coredns_config(kubeconfig: Path, ready_port: int) -> str:
    return f""".:53 {{
    bind {hostnet.HOST_IP}
    errors
    ready 127.0.0.1:{ready_port}
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig} reviewop
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 10
}}
"""


def dns_service() -> list[dict[str, object]]:
    """`kube-system/kube-dns` at the kubelet's clusterDNS address, served by CoreDNS on the host."""
    labels = {"k8s-app": "kube-dns"}
    ports = [
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
    ]
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
            "spec": {"clusterIP": CLUSTER_DNS, "ports": ports},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "kube-dns-host",
                "namespace": "kube-system",
                "labels": {"kubernetes.io/service-name": "kube-dns", **labels},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [hostnet.HOST_IP], "conditions": {"ready": True}}],
            "ports": ports,
        },
    ]


def _kubeconfig(plane: ControlPlane, crt: Path, key: Path) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "reviewop",
                "cluster": {
                    "server": plane.server,
                    "certificate-authority": str(plane.workdir / "certs" / "apiserver.crt"),
                },
            }
        ],
        "users": [{"name": "node", "user": {"client-certificate": str(crt), "client-key": str(key)}}],
        "contexts": [{"name": "reviewop", "context": {"cluster": "reviewop", "user": "node"}}],
        "current-context": "reviewop",
    }
