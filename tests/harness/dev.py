"""`make dev`: the whole stack on a local control plane, torn down on Ctrl-C.

Starts the control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok), installs the
CRD, creates the namespace, then starts any stack processes that exist (webhook, controller) as
host processes, prints how to reach everything, and waits. Ctrl-C (or SIGTERM) stops it all.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from types import FrameType

from tests.harness.controlplane import REPO_ROOT, ControlPlane
from tests.harness.stack import DevStack

CRD_FILE = REPO_ROOT / "crds" / "reviewjobs.review-operator.dev.yaml"
SAMPLE = REPO_ROOT / "config" / "samples" / "reviewjob.yaml"
DEV_DIR = REPO_ROOT / ".cache" / "dev"


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    shutil.rmtree(DEV_DIR, ignore_errors=True)
    DEV_DIR.mkdir(parents=True)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    plane = ControlPlane(workdir=DEV_DIR)
    stack: DevStack | None = None
    try:
        print("starting the local control plane …", flush=True)
        plane.start()
        plane.kubectl("apply", "-f", str(CRD_FILE))
        plane.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", "crd/reviewjobs.review-operator.dev"
        )
        stack = DevStack(plane, DEV_DIR)
        stack.start()
        kubectl = REPO_ROOT / ".cache" / "bin" / "kubectl"
        print(
            f"""
control plane up in {plane.startup_seconds:.1f} s ({len(plane.nodes)} kwok nodes); logs in {DEV_DIR}

  export KUBECONFIG={plane.kubeconfig}
  export PATH={kubectl.parent}:$PATH

Try:
  kubectl apply -n {stack.namespace} -f {SAMPLE.relative_to(REPO_ROOT)}
  kubectl get rj -n {stack.namespace} -w
{stack.hints()}
Ctrl-C stops everything.""",
            flush=True,
        )
        while True:
            plane.check_alive()
            stack.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping …", flush=True)
    finally:
        if stack is not None:
            stack.stop()
        plane.stop()
        shutil.rmtree(DEV_DIR, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
