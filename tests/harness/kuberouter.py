"""kube-router v2.1.0's network-policy controller on the real node: the firewall only.

kube-router runs as a host process beside kubelet and kube-proxy with `--run-firewall` alone (no
routing, no service proxy, no CNI config): it watches pods, namespaces and NetworkPolicies and
enforces them with iptables rules in the filter table (chains `KUBE-ROUTER-INPUT/FORWARD/OUTPUT`,
`KUBE-NWPLCY-*` per policy, `KUBE-POD-FW-*` per selected pod, jumped to from the built-in INPUT,
FORWARD and OUTPUT chains) and ipsets of peers (`KUBE-SRC-*`, `KUBE-DST-*`).

It leaves all of that behind when it stops, and v2.1.0's `--cleanup-config` also resets the routing
and service-proxy controllers' state (IPVS, interfaces) that this harness never created, so `remove()`
deletes exactly what the firewall made: the jumps, its chains, then the ipsets that did not exist
before it started.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from tests.harness import hostnet

CHAIN_PREFIXES = ("KUBE-ROUTER-", "KUBE-NWPLCY-", "KUBE-POD-FW-")
IPSET_PREFIXES = ("KUBE-SRC-", "KUBE-DST-")
# The API server's default NodePort range, which kube-router's firewall lets reach the node from any
# pod (its rule "allow LOCAL TCP traffic to node ports").
NODE_PORTS = (30000, 32767)
SYNCED = "sync iptables took"  # logged (-v 1) after each full sync of the policies


def args(kubeconfig: Path, node_name: str, service_cidr: str, health_port: int) -> list[str]:
    """kube-router's flags: the firewall only, IPv4, credentials that list and watch pods,
    namespaces, NetworkPolicies, nodes, Services and EndpointSlices (its informers start them all)."""
    return [
        f"--kubeconfig={kubeconfig}",
        f"--hostname-override={node_name}",
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        "--run-loadbalancer=false",
        "--enable-cni=false",
        "--enable-ipv4=true",
        "--enable-ipv6=false",
        f"--service-cluster-ip-range={service_cidr}",
        f"--service-node-port-range={NODE_PORTS[0]}-{NODE_PORTS[1]}",
        f"--health-port={health_port}",
        "--metrics-port=0",
        "--v=1",
    ]


def chains(saved: str) -> list[str]:
    """kube-router's chains in an `iptables-save -t filter` dump."""
    names = (line[1:].split()[0] for line in saved.splitlines() if line.startswith(":"))
    return [name for name in names if name.startswith(CHAIN_PREFIXES)]


def jumps(saved: str) -> list[list[str]]:
    """The rules of other chains (INPUT, FORWARD, OUTPUT) that jump into kube-router's, as arguments
    for `iptables -t filter -D`."""
    ours = set(chains(saved))
    found = []
    for line in saved.splitlines():
        if not line.startswith("-A "):
            continue
        rule = shlex.split(line)[1:]
        target = rule[rule.index("-j") + 1] if "-j" in rule else ""
        if rule[0] not in ours and target in ours:
            found.append(rule)
    return found


def policy_synced(saved: str, policies: list[str], pods: list[tuple[str, str]]) -> bool:
    """True when the filter table runs every selected (namespace, name) pod through every named
    policy: the comments kube-router v2.1.0 writes into each selected pod's chain."""
    flat = saved.replace('"', "")
    wanted = [f"run through nw policy {name}" for name in policies]
    wanted += [f"POD name:{name} namespace: {ns}" for ns, name in pods]
    return all(w in flat for w in wanted)


def filter_table() -> str:
    return hostnet.run("iptables-save", "-t", "filter")


def remove(ipsets_before: list[str]) -> list[str]:
    """Deletes the jumps into kube-router's chains, the chains, then its new ipsets; returns what
    could not be removed."""
    problems: list[str] = []
    saved = filter_table()
    for rule in jumps(saved):
        hostnet.run("iptables", "-t", "filter", "-D", *rule, check=False)
    ours = chains(saved)
    for chain in ours:
        hostnet.run("iptables", "-t", "filter", "-F", chain, check=False)
    for chain in ours:
        hostnet.run("iptables", "-t", "filter", "-X", chain, check=False)
    left = chains(filter_table())
    if left:
        problems.append(f"kube-router chains left: {left}")
    new = {n for n in hostnet.ipset_names() if n not in ipsets_before and n.startswith(IPSET_PREFIXES)}
    problems += hostnet.destroy_ipsets(new)
    return problems
