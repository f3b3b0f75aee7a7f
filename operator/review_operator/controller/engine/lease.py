"""Leadership: hold the Lease, and run the engine's loop only while it is held.

The Lease's own calls (`k8s/lease.py`) go over their own unfenced session: taking the Lease is a
write made while not leading. The engine acts only until shortly before the Lease could expire
without a renewal, and stands by (cancelling its work in flight) as soon as a renewal fails.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from review_operator.config import ControllerSettings
from review_operator.controller.engine.loop import Engine
from review_operator.k8s import lease
from review_operator.k8s.aio import AsyncKube
from review_operator.k8s.errors import KubeError

log = logging.getLogger(__name__)


async def lead(engine: Engine, kube: AsyncKube, settings: ControllerSettings, identity: str) -> None:
    """Holds the Lease and runs the engine only while it is held."""
    ns = settings.namespace
    worker: asyncio.Task[None] | None = None
    period = max(1.0, settings.lease_duration_seconds / 3)
    try:
        while True:
            try:
                held = await lease.try_acquire(
                    kube, ns, settings.lease_name, identity, settings.lease_duration_seconds
                )
            except (KubeError, OSError) as exc:
                # An API server that errors or is unreachable: stand by until a renewal succeeds.
                log.warning("lease renewal failed: %s", getattr(exc, "status", None) or type(exc).__name__)
                held = False
            if held:
                # Act only until shortly before the lease could expire without a renewal.
                engine.lead_until(
                    engine.clock.now() + timedelta(seconds=settings.lease_duration_seconds - period)
                )
                if worker is None or worker.done():
                    log.info("leading as %s", identity)
                    worker = asyncio.create_task(engine.run_forever())
                    engine.kick()
            else:
                engine.stand_by()
                if worker is not None and not worker.done():
                    log.warning("lost the lease; standing by")
                    worker.cancel()
                worker = None
            await asyncio.sleep(period)
    finally:
        if worker is not None:
            worker.cancel()
        await lease.release(kube, ns, settings.lease_name, identity)
