"""A run that dies holding the real node (SIGKILL: no `finally` runs) is undone by the next run.

The child below prepares a real node as the fixture does, then does what kubelet, kube-proxy and a
container would have done by then (a secret-volume mount below the node's directory, a kernel setting,
a chain of its own, a process in its own session), and SIGKILLs itself. The next claim of the host
must find its journal and leave the host as it was before the child started.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import hostlease, hostnet
from tests.harness.controlplane import REPO_ROOT

pytestmark = pytest.mark.before_real_node

CHILD = """
import json, os, signal, subprocess
from tests.harness import hostnet
from tests.harness.realnode import Images, RealNode

node = RealNode(Images.load())
node.prepare()
secret = node.workdir / "kubelet" / "pods" / "p" / "volumes" / "secret"
secret.mkdir(parents=True)
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(secret)], check=True)
hostnet.write_sysctl("vm.overcommit_memory", {overcommit!r})
subprocess.run(["iptables", "-t", "nat", "-N", "KUBE-MARK-MASQ"], check=True)
quiet = {{"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}}  # the test reads our pipes to EOF
sleeper = subprocess.Popen(["sleep", "600"], start_new_session=True, **quiet)
node.lease.track([sleeper.pid])
print(json.dumps({{"dirs": [str(node.workdir), str(node.state)], "mount": str(secret),
                   "sleeper": sleeper.pid}}), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def mounts_below(path: str) -> list[str]:
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [line.split()[4] for line in lines if line.split()[4].startswith(path)]


def test_a_run_sigkilled_holding_the_real_node_is_undone_by_the_next_claim() -> None:
    probe = hostlease.HostLease()
    probe.acquire(timeout=0)  # HostBusy if a real node is up (this test must run before it)
    probe.release()
    before = hostnet.fingerprint([])
    overcommit = "0" if hostnet.read_sysctl("vm.overcommit_memory") == "1" else "1"

    child = subprocess.run(
        [sys.executable, "-c", CHILD.format(overcommit=overcommit)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -9, child.stderr
    left = json.loads(child.stdout)
    # What the dead run left: its journal, bridge, fence, setting, chain, mount and process.
    assert hostlease.JOURNAL.exists()
    assert hostnet.BRIDGE in hostnet.fingerprint([])["links"]  # type: ignore[operator]
    assert hostnet.read_sysctl("vm.overcommit_memory") == overcommit
    assert "KUBE-MARK-MASQ" in hostnet.rules("iptables")
    assert f"-i {hostnet.BRIDGE} -j DROP" in hostnet.rules("iptables")
    assert mounts_below(left["mount"]) == [left["mount"]]
    assert alive(left["sleeper"])

    lease = hostlease.HostLease()
    try:
        recovered = lease.acquire(timeout=30)
    finally:
        lease.release()

    assert len(recovered) == 1 and "died holding the real node" in recovered[0], recovered
    assert hostnet.fingerprint([]) == before
    assert not hostlease.JOURNAL.exists()
    assert not alive(left["sleeper"])
    for directory in left["dirs"]:
        assert mounts_below(directory) == []
        assert not Path(directory).exists()


def test_a_second_run_waits_for_the_live_one_then_fails_clearly() -> None:
    holder = hostlease.HostLease()
    holder.acquire(timeout=0)
    try:
        with pytest.raises(hostlease.HostBusy, match="another real-node run still holds"):
            hostlease.HostLease().acquire(timeout=1.5)
    finally:
        holder.release()
