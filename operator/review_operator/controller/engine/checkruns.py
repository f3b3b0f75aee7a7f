"""The check run of each review on GitHub, kept in step with it: best-effort bookkeeping.

`decide/checkrun.py` says what the run should show after a step or while the pod runs; this sends
it, beside the work and never in its way: each mark is written in the background once slot work
has calmed down (like Events), a few at a time, through the review's `RepoClient` (leadership is
checked before each write). A GitHub failure is logged and counted
(`reviewop_check_run_failures_total`) and changes nothing else: the review goes on, and the next
mark (or the same one, seen again) tries again.

Each run's id is remembered, so a transition costs one request (a look-up and a create the first
time, or after a restart). Marks of one review are written in order, and a mark ranking at or below
what was asked already is dropped, so a pass that sees the same running pod again sends nothing.
Posting completes the run itself (with annotations): `settle` waits for the marks in flight and
keeps later progress marks out, so a late `in_progress` can never undo the completion.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from review_operator.api.models import ReviewJob
from review_operator.controller.decide.checkrun import CheckMark
from review_operator.controller.decide.heads import job_head
from review_operator.controller.engine.lanes import Lanes
from review_operator.fence import NotLeading
from review_operator.github import GitHubClientFactory, GitHubError, show_check_run
from review_operator.metrics import ControllerMetrics

log = logging.getLogger(__name__)
WRITERS = 4  # check-run requests in flight at once
REMEMBERED = 10_000  # runs whose id and last mark are kept (oldest forgotten first)
_NOTHING = (-1, 0)
_POSTING = ((1 << 30) - 1, 0)  # above every progress mark, below a completion
_DONE = (1 << 30, 0)


@dataclass
class _Run:
    id: int | None = None
    asked: tuple[int, int] = _NOTHING  # the highest mark asked for (sent, or on its way)
    shown: tuple[int, int] = _NOTHING  # the highest mark GitHub confirmed
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    writing: set[asyncio.Task[None]] = field(default_factory=set)  # its marks on their way


class CheckRuns:
    def __init__(
        self,
        github: GitHubClientFactory | None,
        enabled: bool,
        lanes: Lanes,
        metrics: ControllerMetrics,
    ) -> None:
        self.github = github if enabled else None
        self.lanes = lanes
        self.metrics = metrics
        self._runs: OrderedDict[str, _Run] = OrderedDict()
        self._writers = asyncio.Semaphore(WRITERS)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return self.github is not None

    def _run(self, name: str) -> _Run:
        run = self._runs.get(name)
        if run is None:
            run = self._runs[name] = _Run()
            while len(self._runs) > REMEMBERED:
                self._runs.popitem(last=False)
        self._runs.move_to_end(name)
        return run

    def show(self, job: ReviewJob, mark: CheckMark | None) -> None:
        """Sends `mark` in the background, unless it adds nothing to what was asked already."""
        if self.github is None or mark is None:
            return
        head = job_head(job)
        if head is None:
            return  # a command whose head is not known yet: no commit to show a run on
        run = self._run(job.metadata.name)
        if mark.rank <= run.asked:
            return
        run.asked = mark.rank
        task = asyncio.create_task(self._write(job, head, mark, run), name=f"check-{job.metadata.name}")
        self._tasks.add(task)
        run.writing.add(task)
        task.add_done_callback(self._done)
        task.add_done_callback(run.writing.discard)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:  # not GitHub's answer (those are handled): a bug, said once
            log.warning("check-run update %s failed: %s", task.get_name(), type(error).__name__)

    async def _write(self, job: ReviewJob, head: str, mark: CheckMark, run: _Run) -> None:
        assert self.github is not None
        async with run.lock:
            if mark.rank <= run.shown or (run.asked >= _POSTING and mark.rank < _DONE):
                return  # outranked meanwhile (or posting completes the run)
            await self.lanes.quiet(self.lanes.deadline())  # a free slot's work goes first
            try:
                async with self._writers:
                    run_id = await show_check_run(
                        self.github.for_job(job),
                        job,
                        head,
                        status=mark.status,
                        title=mark.title,
                        summary=mark.summary,
                        conclusion=mark.conclusion,
                        run_id=run.id,
                        only_existing=mark.only_existing,
                    )
            except NotLeading:
                log.info("check run of %s not updated: not leading", job.metadata.name)
                if run.asked == mark.rank:
                    run.asked = run.shown
                return
            except GitHubError as exc:
                self.metrics.check_run_failed(type(exc).__name__.lower())
                log.warning("check run of %s not updated to %s: %s", job.metadata.name, mark.status, exc)
                if run.asked == mark.rank:
                    run.asked = run.shown  # seen again, it is sent again
                return
            run.id = run_id if run_id is not None else run.id
            run.shown = mark.rank

    async def settle(self, job: ReviewJob) -> int | None:
        """Before posting completes the run: no progress mark after this one; waits for those in
        flight; the run's id, when known."""
        if self.github is None:
            return None
        run = self._run(job.metadata.name)
        while run.writing:
            await asyncio.gather(*list(run.writing), return_exceptions=True)
        run.asked = max(run.asked, _POSTING)
        return run.id

    def completed(self, job: ReviewJob, run_id: int | None) -> None:
        """Posting completed the run (`run_id`): nothing more to show for this review."""
        if self.github is None:
            return
        run = self._run(job.metadata.name)
        run.id = run_id if run_id is not None else run.id
        run.asked = run.shown = _DONE

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def flush(self) -> None:
        """Waits until every mark sent so far was written (or failed); for tests and shutdown."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
