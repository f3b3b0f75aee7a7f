"""A real, local Kubernetes control plane for tests and `make dev`.

Starts etcd, kube-apiserver (RBAC + Node authorization, ServiceAccount issuer and keys, PodSecurity
admission), kube-controller-manager (garbage collector, namespaces, service accounts, tokens,
deployments), kube-scheduler and kwok (fake nodes with real allocatable CPU and memory, simulated
pod lifecycles) on 127.0.0.1 with free ports inside one temporary directory. Every process is in its
own process group and is stopped (then killed) on `stop()`; a component that fails to start raises
`ComponentError` naming the binary and its log file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = REPO_ROOT / ".cache" / "bin"
STAGES_FILE = Path(__file__).with_name("kwok-stages.yaml")
ADMIN_USER = "reviewop-admin"
SERVICE_CIDR = "10.96.0.0/16"
CONTROLLERS = ",".join(
    [
        "garbage-collector-controller",
        "namespace-controller",
        "serviceaccount-controller",
        "serviceaccount-token-controller",
        "root-ca-certificate-publisher-controller",
        "deployment-controller",
        "replicaset-controller",
        "endpointslice-controller",
        "disruption-controller",
        "pod-garbage-collector-controller",
    ]
)


READY_JSONPATH = (
    "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=='Ready')].status}{'\\n'}{end}"
)


class ComponentError(RuntimeError):
    """A control-plane component did not start or stopped unexpectedly."""


@dataclass(frozen=True)
class FakeNode:
    """A kwok-managed node; allocatable resources are real for the scheduler."""

    name: str
    cpu: str = "8"
    memory: str = "16Gi"
    pods: str = "110"
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[dict[str, str], ...] = ()


DEFAULT_NODES = (
    FakeNode("kwok-node-0"),
    FakeNode("kwok-node-1"),
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def binary(name: str) -> str:
    path = BIN_DIR / name
    if not path.exists():
        raise ComponentError(f"{name} not found at {path}: run `make tools` to build the control plane")
    return str(path)


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]


class ControlPlane:
    """One control plane. Use as a context manager, or call start()/stop()."""

    def __init__(
        self,
        workdir: Path | None = None,
        nodes: tuple[FakeNode, ...] = DEFAULT_NODES,
        address: str = "127.0.0.1",
        apiserver_args: tuple[str, ...] = (),
        controllers: tuple[str, ...] = (),
    ) -> None:
        """`address` is where the API server listens: loopback, or an address real pods can reach
        (the real node's bridge), which the `kubernetes` Service's endpoints then name."""
        self._own_workdir = workdir is None
        self.address = address
        self.apiserver_args = apiserver_args
        self.controllers = ",".join([CONTROLLERS, *controllers])  # e.g. the Job controller for a benchmark
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="reviewop-cp-"))
        self.nodes = nodes
        self.procs: list[_Proc] = []
        self.admin_token = os.urandom(16).hex()
        self.etcd_port = free_port()
        self.etcd_peer_port = free_port()
        self.apiserver_port = free_port()
        self.server = f"https://{address}:{self.apiserver_port}"
        self.kubeconfig = self.workdir / "kubeconfig"
        self.startup_seconds = 0.0

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        begin = time.monotonic()
        try:
            self._write_keys()
            self._start_etcd()
            self._start_apiserver()
            self._write_kubeconfig()
            self._wait_apiserver_ready()
            self._start(
                "kube-controller-manager",
                [
                    f"--kubeconfig={self.kubeconfig}",
                    f"--controllers={self.controllers}",
                    f"--service-account-private-key-file={self.workdir / 'sa.key'}",
                    f"--root-ca-file={self.workdir / 'certs' / 'apiserver.crt'}",
                    "--use-service-account-credentials=false",
                    "--leader-elect=false",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={free_port()}",
                    "--concurrent-gc-syncs=10",
                ],
            )
            self._start(
                "kube-scheduler",
                [
                    f"--kubeconfig={self.kubeconfig}",
                    "--leader-elect=false",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={free_port()}",
                ],
            )
            self._start(
                "kwok",
                [
                    f"--kubeconfig={self.kubeconfig}",
                    f"--config={STAGES_FILE}",
                    "--manage-all-nodes=false",
                    "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                    "--cidr=10.244.0.0/16",
                    "--node-ip=127.0.0.1",
                    f"--server-address=127.0.0.1:{free_port()}",
                ],
            )
            self.create_nodes(self.nodes)
            self._wait_default_serviceaccount("default")
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - begin

    def stop(self) -> None:
        """Stops every component (SIGTERM, then SIGKILL after 10 s) and removes the work dir."""
        for proc in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in reversed(self.procs):
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(timeout=10)
            proc.log_file.close()
        self.procs.clear()
        if self._own_workdir and os.environ.get("REVIEWOP_KEEP_CONTROLPLANE") != "1":
            subprocess.run(["rm", "-rf", str(self.workdir)], check=False)

    @property
    def pids(self) -> list[int]:
        return [p.popen.pid for p in self.procs]

    def check_alive(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is not None:
                raise ComponentError(
                    f"{proc.name} exited with code {proc.popen.returncode}; see {proc.log_path}\n"
                    + _tail(proc.log_path)
                )

    # -- kubectl -----------------------------------------------------------------------------
    def kubectl(
        self, *args: str, input_text: str | None = None, check: bool = True, token: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = [binary("kubectl"), f"--kubeconfig={self.kubeconfig}", *args]
        if token is not None:
            cmd.insert(2, f"--token={token}")
        result = subprocess.run(
            cmd, input=input_text, capture_output=True, text=True, check=False, timeout=120
        )
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(result.returncode, cmd, result.stdout, result.stderr)
        return result

    def apply(self, manifest: str | dict[str, object] | list[dict[str, object]]) -> None:
        text = (
            manifest
            if isinstance(manifest, str)
            else yaml.safe_dump_all(manifest if isinstance(manifest, list) else [manifest])
        )
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input_text=text)

    def env(self) -> dict[str, str]:
        """Environment for a child process that should talk to this control plane."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    # -- nodes -------------------------------------------------------------------------------
    def create_nodes(self, nodes: tuple[FakeNode, ...]) -> None:
        manifests: list[dict[str, object]] = []
        for node in nodes:
            resources = {
                "cpu": node.cpu,
                "memory": node.memory,
                "pods": node.pods,
                "ephemeral-storage": "100Gi",
            }
            manifests.append(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": node.name,
                        "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                        "labels": {
                            "kubernetes.io/hostname": node.name,
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64",
                            "type": "kwok",
                            **node.labels,
                        },
                    },
                    "spec": {"taints": list(node.taints)},
                    "status": {"allocatable": resources, "capacity": resources},
                }
            )
        self.kubectl("create", "-f", "-", input_text=yaml.safe_dump_all(manifests))
        deadline = time.monotonic() + 30
        names = {n.name for n in nodes}
        while time.monotonic() < deadline:
            out = self.kubectl(
                "get",
                "nodes",
                "-o",
                READY_JSONPATH,
            ).stdout
            ready = {line.split("=")[0] for line in out.splitlines() if line.endswith("=True")}
            if names <= ready:
                # The NodeRestriction/TaintNodesByCondition admission taints new nodes not-ready; the
                # node-lifecycle controller (not run here: kwok nodes send no heartbeats) would lift it.
                for name in sorted(names):
                    self.kubectl(
                        "taint", "nodes", name, "node.kubernetes.io/not-ready:NoSchedule-", check=False
                    )
                return
            self.check_alive()
            time.sleep(0.2)
        raise ComponentError(
            f"kwok did not make nodes {sorted(names)} Ready; see {self.workdir / 'kwok.log'}"
        )

    # -- internals ---------------------------------------------------------------------------
    def _start(self, name: str, args: list[str], exe: str | None = None) -> _Proc:
        log_path = self.workdir / f"{name}.log"
        log_file = log_path.open("ab")
        popen = subprocess.Popen(
            [exe or binary(name), *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            start_new_session=True,
        )
        proc = _Proc(name, popen, log_path, log_file)
        self.procs.append(proc)
        time.sleep(0.05)
        if popen.poll() is not None:
            raise ComponentError(
                f"{name} exited at once (code {popen.returncode}); see {log_path}\n" + _tail(log_path)
            )
        return proc

    def _write_keys(self) -> None:
        (self.workdir / "certs").mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (self.workdir / "sa.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        (self.workdir / "sa.pub").write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        self._write_serving_cert()
        # The API server's own client certificate for kubelets (logs, exec) on a real node.
        self.client_cert("kube-apiserver-kubelet-client", ("system:masters",), "kubelet-client")
        (self.workdir / "tokens.csv").write_text(
            f'{self.admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n'
        )

    def _write_serving_cert(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reviewop-apiserver")])
        now = dt.datetime.now(dt.UTC)
        import ipaddress

        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.DNSName("kubernetes.default.svc"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        x509.IPAddress(ipaddress.ip_address(self.address)),
                        x509.IPAddress(ipaddress.ip_address("10.96.0.1")),
                    ]
                ),
                critical=False,
            )
            .sign(key, hashes.SHA256())
        )
        certs = self.workdir / "certs"
        (certs / "apiserver.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (certs / "apiserver.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    def client_cert(self, common_name: str, groups: tuple[str, ...], file_stem: str) -> tuple[Path, Path]:
        """A client certificate signed by the API server's client CA (its serving certificate)."""
        certs = self.workdir / "certs"
        ca_key = serialization.load_pem_private_key((certs / "apiserver.key").read_bytes(), password=None)
        ca = x509.load_pem_x509_certificate((certs / "apiserver.crt").read_bytes())
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
            + [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
        )
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        crt_path, key_path = certs / f"{file_stem}.crt", certs / f"{file_stem}.key"
        crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_path.chmod(0o600)
        return crt_path, key_path

    def _start_etcd(self) -> None:
        client = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        self._start(
            "etcd",
            [
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=default={peer}",
                "--unsafe-no-fsync",
                "--quota-backend-bytes=4294967296",
                "--log-level=warn",
            ],
        )
        _wait_http(f"{client}/health", self, "etcd", timeout=30)

    def _start_apiserver(self) -> None:
        certs = self.workdir / "certs"
        self._start(
            "kube-apiserver",
            [
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                f"--bind-address={self.address}",
                f"--advertise-address={self.address}",
                f"--secure-port={self.apiserver_port}",
                f"--tls-cert-file={certs / 'apiserver.crt'}",
                f"--tls-private-key-file={certs / 'apiserver.key'}",
                f"--client-ca-file={certs / 'apiserver.crt'}",
                f"--kubelet-client-certificate={certs / 'kubelet-client.crt'}",
                f"--kubelet-client-key={certs / 'kubelet-client.key'}",
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                f"--token-auth-file={self.workdir / 'tokens.csv'}",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=PodSecurity,NamespaceLifecycle,ServiceAccount,LimitRanger,ResourceQuota",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={self.workdir / 'sa.pub'}",
                f"--service-account-signing-key-file={self.workdir / 'sa.key'}",
                "--api-audiences=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allow-privileged=false",
                # Loopback cannot be an endpoint of the `kubernetes` Service; a reachable address can.
                f"--endpoint-reconciler-type={'none' if self.address == '127.0.0.1' else 'lease'}",
                "--storage-media-type=application/json",
                "--enable-priority-and-fairness=false",
                "--event-ttl=1h",
                *self.apiserver_args,
            ],
        )

    def _write_kubeconfig(self) -> None:
        ca = (self.workdir / "certs" / "apiserver.crt").read_text()
        import base64

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "reviewop",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": base64.b64encode(ca.encode()).decode(),
                    },
                }
            ],
            "users": [{"name": ADMIN_USER, "user": {"token": self.admin_token}}],
            "contexts": [{"name": "reviewop", "context": {"cluster": "reviewop", "user": ADMIN_USER}}],
            "current-context": "reviewop",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))
        self.kubeconfig.chmod(0o600)

    def _wait_apiserver_ready(self) -> None:
        ctx = ssl.create_default_context(cafile=str(self.workdir / "certs" / "apiserver.crt"))
        _wait_http(
            f"{self.server}/readyz",
            self,
            "kube-apiserver",
            timeout=60,
            ssl_context=ctx,
            headers={"Authorization": f"Bearer {self.admin_token}"},
        )

    def _wait_default_serviceaccount(self, namespace: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.kubectl("get", "serviceaccount", "default", "-n", namespace, check=False).returncode == 0:
                return
            self.check_alive()
            time.sleep(0.2)
        raise ComponentError(
            "kube-controller-manager did not create the default ServiceAccount; "
            f"see {self.workdir / 'kube-controller-manager.log'}"
        )


def stop_groups(popens: list[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERMs each child's process group (last started first), waits up to `grace` seconds for
    each, and SIGKILLs the group of any that is still running then."""
    for popen in reversed(popens):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGTERM)
    for popen in reversed(popens):
        try:
            popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(timeout=10)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_http(
    url: str,
    plane: ControlPlane,
    component: str,
    timeout: float,
    ssl_context: ssl.SSLContext | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        plane.check_alive()
        try:
            req = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
            with urllib.request.urlopen(req, timeout=2, context=ssl_context) as resp:  # noqa: S310
                if resp.status == 200:
                    return
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise ComponentError(
        f"{component} not ready after {timeout:.0f} s ({last}); see {plane.workdir / (component + '.log')}"
    )
