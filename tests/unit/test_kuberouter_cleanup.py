"""kube-router's firewall state as the real-node harness finds and removes it (tests/harness/kuberouter.py).

The dump has the shape `iptables-save -t filter` gives with kube-router v2.1.0 and kube-proxy running:
kube-proxy's chains (`KUBE-FORWARD`, ...) and the fence's rules must survive the cleanup.
"""

from __future__ import annotations

from tests.harness import kuberouter

DUMP = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NWPLCY-DEFAULT - [0:0]
:KUBE-NWPLCY-LQ2MIOQ4PM2PHJDW - [0:0]
:KUBE-POD-FW-CRRHBKUZQBPFUGNF - [0:0]
:KUBE-ROUTER-FORWARD - [0:0]
:KUBE-ROUTER-INPUT - [0:0]
:KUBE-ROUTER-OUTPUT - [0:0]
-A INPUT -m comment --comment "kube-router netpol - 4IA2OSFRMVNDXBVV" -j KUBE-ROUTER-INPUT
-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
-A FORWARD -m comment --comment "kube-router netpol - TEMCG2JMHZYE7H7T" -j KUBE-ROUTER-FORWARD
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -i rop-br0 -o rop-br0 -j ACCEPT
-A OUTPUT -m comment --comment "kube-router netpol - VEAAIY32XVBHCSCY" -j KUBE-ROUTER-OUTPUT
-A KUBE-POD-FW-CRRHBKUZQBPFUGNF -m comment --comment "run through nw policy ro-review-operator-review-pods" -j KUBE-NWPLCY-LQ2MIOQ4PM2PHJDW
-A KUBE-POD-FW-CRRHBKUZQBPFUGNF -m comment --comment "rule to REJECT traffic destined for POD name:review namespace: np-work-1" -m mark ! --mark 0x10000/0x10000 -j REJECT --reject-with icmp-port-unreachable
-A KUBE-ROUTER-FORWARD -d 10.85.0.12/32 -m comment --comment "rule to jump traffic destined to POD name:review namespace: np-work-1 to chain KUBE-POD-FW-CRRHBKUZQBPFUGNF" -j KUBE-POD-FW-CRRHBKUZQBPFUGNF
COMMIT
"""  # noqa: E501 - rules as iptables-save prints them


def test_chains_are_kube_routers_only() -> None:
    assert kuberouter.chains(DUMP) == [
        "KUBE-NWPLCY-DEFAULT",
        "KUBE-NWPLCY-LQ2MIOQ4PM2PHJDW",
        "KUBE-POD-FW-CRRHBKUZQBPFUGNF",
        "KUBE-ROUTER-FORWARD",
        "KUBE-ROUTER-INPUT",
        "KUBE-ROUTER-OUTPUT",
    ]


def test_jumps_are_the_built_in_chains_rules_into_kube_routers() -> None:
    jumps = kuberouter.jumps(DUMP)
    assert [(rule[0], rule[-1]) for rule in jumps] == [
        ("INPUT", "KUBE-ROUTER-INPUT"),
        ("FORWARD", "KUBE-ROUTER-FORWARD"),
        ("OUTPUT", "KUBE-ROUTER-OUTPUT"),
    ]
    # As `iptables -D` takes them: the comment is one argument, unquoted.
    assert jumps[0][1:5] == ["-m", "comment", "--comment", "kube-router netpol - 4IA2OSFRMVNDXBVV"]


def test_policy_synced_needs_every_policy_and_every_selected_pod() -> None:
    policy = ["ro-review-operator-review-pods"]
    assert kuberouter.policy_synced(DUMP, policy, [("np-work-1", "review")])
    assert not kuberouter.policy_synced(DUMP, policy, [("np-work-1", "review"), ("np-rel-1", "webhook")])
    assert not kuberouter.policy_synced(DUMP, [*policy, "ro-review-operator-webhook"], [])
    assert not kuberouter.policy_synced(DUMP, policy, [("np-work-2", "review")])


def test_args_run_the_firewall_alone() -> None:
    from pathlib import Path

    args = kuberouter.args(Path("/k"), "node", "10.96.0.0/16", 1234)
    for flag in (
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        "--enable-cni=false",
    ):
        assert flag in args
    assert "--service-cluster-ip-range=10.96.0.0/16" in args and "--hostname-override=node" in args
