"""What the real node changes on the host, made and undone in one place.

The node's network is a bridge that this module creates (`rop-br0`, 10.85.0.1/24: REAL_NODE.md found
10.88.0.0/16 taken by podman's default network) and removes; pods sit on it through the CNI bridge
plugin. Nothing routes pod traffic off the machine: the FORWARD chain accepts only bridge-to-bridge
packets and drops everything else that enters or leaves the bridge, and no masquerading points
anywhere but the bridge's own address.

`HostState.snapshot()` records, before anything starts, the kernel settings kubelet, kube-proxy and
the CNI plugins rewrite, the iptables rules of both families and the ipsets (kube-router's network
policy firewall keeps its peers in ipsets); `restore()` puts them back, destroys the ipsets made
since, removes the bridge and its veths, unmounts whatever is still mounted below the node's
directories (deepest first) and removes the cgroups the kubelet created.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BRIDGE = "rop-br0"
HOST_IP = "10.85.0.1"
POD_SUBNET = "10.85.0.0/24"
# An address outside every private range (TEST-NET-3, RFC 5737: documentation only, never routed;
# a machine may use TEST-NET-1 itself) that stands for a server outside the cluster (the model API)
# when a test adds it to the bridge; `add_outside_address` refuses when any interface uses its range.
OUTSIDE_IP = "203.0.113.1"
OUTSIDE_SUBNET = "203.0.113.0/24"
# Settings that kubelet (vm.overcommit_memory, kernel.panic*, kernel.keys.*), kube-proxy
# (route_localnet, bridge-nf-call-*, conntrack) and the bridge plugin (ip_forward) are known to write.
SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.route_localnet",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
)
IPTABLES = ("iptables", "ip6tables")
TABLES = ("filter", "nat", "mangle", "raw")


class HostError(RuntimeError):
    """The host cannot carry a real node (not root, subnet in use, tool missing)."""


def run(*cmd: str, check: bool = True, input_text: str | None = None) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, input=input_text, timeout=60)
    if check and result.returncode != 0:
        raise HostError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def read_sysctl(key: str) -> str | None:
    path = Path("/proc/sys") / key.replace(".", "/")
    try:
        return path.read_text().strip()
    except OSError:
        return None


def write_sysctl(key: str, value: str) -> None:
    with contextlib.suppress(OSError):
        (Path("/proc/sys") / key.replace(".", "/")).write_text(value)


def check_subnet_free(subnet: str = POD_SUBNET) -> None:
    """Refuses to start when any interface already has an address in the node's subnet."""
    net = ipaddress.ip_network(subnet)
    for line in run("ip", "-o", "-4", "addr", "show").splitlines():
        parts = line.split()
        iface, cidr = parts[1], parts[3]
        if ipaddress.ip_interface(cidr).ip in net:
            raise HostError(f"{cidr} on {iface} is inside the real node's subnet {subnet}")


@dataclass
class HostState:
    """What the host looked like before the real node; `restore()` returns it to that."""

    sysctls: dict[str, str] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)
    ipsets: list[str] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)
    cgroup_root: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "sysctls": self.sysctls,
            "rules": self.rules,
            "ipsets": self.ipsets,
            "dirs": [str(d) for d in self.dirs],
            "cgroup_root": self.cgroup_root,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostState:
        return cls(
            sysctls={str(k): str(v) for k, v in data["sysctls"].items()},
            rules={str(k): str(v) for k, v in data["rules"].items()},
            ipsets=[str(n) for n in data["ipsets"]],
            dirs=[Path(d) for d in data["dirs"]],
            cgroup_root=str(data["cgroup_root"]),
        )

    @classmethod
    def snapshot(cls, dirs: list[Path], cgroup_root: str) -> HostState:
        state = cls(dirs=dirs, cgroup_root=cgroup_root)
        for key in SYSCTLS:
            value = read_sysctl(key)
            if value is not None:
                state.sysctls[key] = value
        for tool in IPTABLES:
            state.rules[tool] = rules(tool)
        state.ipsets = ipset_names()
        return state

    def restore(self) -> list[str]:
        """Undoes everything; returns what could not be undone (empty when the host is clean)."""
        problems: list[str] = []
        problems += unmount_below(self.dirs)
        remove_bridge()
        for tool, saved in self.rules.items():
            for table in TABLES:
                run(tool, "-t", table, "-F", check=False)
                run(tool, "-t", table, "-X", check=False)
            run(f"{tool}-restore", input_text=saved, check=False)
            if rules(tool) != saved:
                problems.append(f"{tool} rules differ from before the node started")
        # After the rules: a set that a rule still references cannot be destroyed.
        problems += destroy_ipsets(set(ipset_names()) - set(self.ipsets))
        for key, value in self.sysctls.items():
            write_sysctl(key, value)
            if read_sysctl(key) != value:
                problems.append(f"sysctl {key} is {read_sysctl(key)}, was {value}")
        problems += remove_cgroups(self.cgroup_root)
        return problems


def rules(tool: str) -> str:
    """`iptables-save` (or ip6tables) as rules: no dated comments, no packet counters, and no table
    that holds nothing (an empty table with ACCEPT policies filters as no table does)."""
    blocks, block = [], []
    for line in run(f"{tool}-save").splitlines():
        if line.startswith("#"):
            continue
        block.append(re.sub(r" \[\d+:\d+\]$", "", line))
        if line == "COMMIT":
            chains = [b for b in block if b.startswith(":")]
            empty = not any(b.startswith("-A") for b in block) and all(c.endswith(" ACCEPT") for c in chains)
            if not empty:
                blocks.append("\n".join(block))
            block = []
    return "\n".join(blocks)


def ipset_names() -> list[str]:
    """The host's ipsets by name (none when the ipset tool is not installed)."""
    if shutil.which("ipset") is None:
        return []
    return sorted(run("ipset", "list", "-n").split())


def ipsets() -> list[str]:
    """Every ipset with its type and members (`ipset save`, sorted), for the fingerprint."""
    if shutil.which("ipset") is None:
        return []
    return sorted(run("ipset", "save").splitlines())


def destroy_ipsets(names: set[str]) -> list[str]:
    problems = []
    for name in sorted(names):
        result = subprocess.run(["ipset", "destroy", name], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            problems.append(f"ipset destroy {name}: {result.stderr.strip()}")
    return problems


def fingerprint(dirs: list[Path]) -> dict[str, object]:
    """What a test run must leave as it found: settings, rules, ipsets, links, mounts below `dirs`."""
    roots = [str(d) for d in dirs]
    mounts = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if any(line.split()[4].startswith(r) for r in roots)
    ]
    return {
        "sysctls": {key: read_sysctl(key) for key in SYSCTLS},
        "rules": {tool: rules(tool) for tool in IPTABLES},
        "ipsets": ipsets(),
        "links": sorted(
            line.split(":")[1].strip().split("@")[0] for line in run("ip", "-o", "link").splitlines()
        ),
        "mounts": mounts,
    }


def create_bridge() -> None:
    """The node's bridge with the host's address on it: kubelet's node IP, the API server's and the
    test servers' listening address, and the pods' gateway."""
    check_subnet_free()
    run("ip", "link", "add", BRIDGE, "type", "bridge")
    run("ip", "addr", "add", f"{HOST_IP}/24", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")


def add_outside_address() -> None:
    """`OUTSIDE_IP` on the bridge: pods reach it through their gateway, as they would a server
    outside the cluster; it is the host's own address, so nothing leaves the machine."""
    check_subnet_free(OUTSIDE_SUBNET)
    run("ip", "addr", "add", f"{OUTSIDE_IP}/32", "dev", BRIDGE)


def remove_outside_address() -> None:
    run("ip", "addr", "del", f"{OUTSIDE_IP}/32", "dev", BRIDGE, check=False)


def remove_bridge() -> None:
    # Deleting the bridge leaves the host ends of the pods' veth pairs; their pods' namespaces are gone
    # by now, which deletes both ends.
    run("ip", "link", "del", BRIDGE, check=False)


def fence_forwarding() -> None:
    """Pods reach each other and the host; nothing they send is forwarded anywhere else."""
    write_sysctl("net.ipv4.ip_forward", "1")
    run("iptables", "-I", "FORWARD", "1", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT")
    run("iptables", "-I", "FORWARD", "2", "-i", BRIDGE, "-j", "DROP")
    run("iptables", "-I", "FORWARD", "3", "-o", BRIDGE, "-j", "DROP")


def unmount_below(dirs: list[Path]) -> list[str]:
    """Lazily unmounts every mount point under `dirs`, deepest first."""
    roots = [str(d.resolve()) for d in dirs]
    targets = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        target = line.split()[4].replace("\\040", " ")
        if any(target == r or target.startswith(r + "/") for r in roots):
            targets.append(target)
    problems = []
    for target in sorted(set(targets), key=len, reverse=True):
        result = subprocess.run(["umount", "-l", target], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            problems.append(f"umount {target}: {result.stderr.strip()}")
    return problems


def cgroup_controllers() -> list[Path]:
    base = Path("/sys/fs/cgroup")
    if (base / "cgroup.controllers").exists():  # cgroup v2: one hierarchy
        return [base]
    return [p for p in base.iterdir() if p.is_dir() and not p.is_symlink()]


def kill_cgroup_processes(name: str) -> None:
    """SIGKILLs every process in the cgroup tree `name` (the node's containers), in every hierarchy."""
    if not name.strip("/"):
        return
    for controller in cgroup_controllers():
        top = controller / name.strip("/")
        for procs in top.rglob("cgroup.procs") if top.exists() else []:
            with contextlib.suppress(OSError):
                for pid in procs.read_text().split():
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)


def kill_processes_mentioning(needles: list[str], program: str | None = None) -> None:
    """SIGKILLs every process whose command line contains one of `needles` (and `program`, if given:
    the runc shims name the node's containerd socket; a dead run's components name its directories)."""
    if not needles:
        return
    encoded = [n.encode() for n in needles]
    required = program.encode() if program else b""
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit() or int(pid_dir.name) == os.getpid():
            continue
        try:
            cmdline = (pid_dir / "cmdline").read_bytes()
        except OSError:
            continue
        if required in cmdline and any(n in cmdline for n in encoded):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_dir.name), signal.SIGKILL)


def create_cgroup_root(name: str) -> None:
    for controller in cgroup_controllers():
        with contextlib.suppress(OSError):
            (controller / name.strip("/")).mkdir(exist_ok=True)


def remove_cgroups(name: str) -> list[str]:
    """Removes the kubelet's cgroup tree (empty by now) in every hierarchy, leaves first."""
    problems = []
    if not name.strip("/"):
        return problems
    for controller in cgroup_controllers():
        top = controller / name.strip("/")
        if not top.exists():
            continue
        for path in sorted(
            (p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
        ):
            with contextlib.suppress(OSError):
                path.rmdir()
        try:
            top.rmdir()
        except OSError as exc:
            problems.append(f"cgroup {top}: {exc}")
    return problems
