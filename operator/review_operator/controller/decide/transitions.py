"""Every transition `machine.decide` (and the ledger's admission) makes, as a table for people.

`docs/state-machine.md` is generated from `TRANSITIONS` by `make generate` (and checked for
staleness by a test); another test drives `decide` through every row, and checks that what it
decides is a row, so the table cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass

from review_operator.api.models import Phase
from review_operator.api.reasons import Reason
from review_operator.controller.decide.breaker import MODEL_KEY_REJECTED
from review_operator.controller.decide.budget import DAILY_BUDGET_REACHED

P, Q, R = Phase.PENDING, Phase.QUEUED, Phase.RUNNING
OK, FAILED, TIMED_OUT, SUPERSEDED, CANCELLED = (
    Phase.SUCCEEDED,
    Phase.FAILED,
    Phase.TIMED_OUT,
    Phase.SUPERSEDED,
    Phase.CANCELLED,
)
SOURCE = "operator/review_operator/controller/decide/transitions.py"
ANY_ACTIVE = (P, Q, R)
CANCEL_REASONS = ("PullRequestClosed", "ConvertedToDraft", "Manual")
STALE_REASONS = (Reason.SUPERSEDED, Reason.HEAD_MOVED)


@dataclass(frozen=True)
class Transition:
    key: str  # names the row (tests drive each one)
    sources: tuple[Phase, ...]
    observation: str  # the observation's class in `steps.py` (and what about it)
    target: Phase
    step: str  # the step the engine executes
    reasons: tuple[str, ...] = ()  # empty: decided by `classify` from the pod (see its tables)


TRANSITIONS: tuple[Transition, ...] = (
    Transition("queue", (P,), "Seen", Q, "Queue"),
    Transition(
        "admit",
        (Q,),
        "ledger admission (slots free; model-key breaker closed, or its one half-open trial)",
        R,
        "claim, then EnsurePod",
    ),
    Transition("hold", (Q,), "Seen: daily budget spent", Q, "Hold", (DAILY_BUDGET_REACHED,)),
    Transition(
        "hold-key",
        (Q,),
        "Seen: model-key breaker open (probe or a review got 401/403)",
        Q,
        "Hold",
        (MODEL_KEY_REJECTED,),
    ),
    Transition("no-head", (Q,), "HeadUnresolved", FAILED, "Finish", (Reason.HEAD_UNRESOLVED,)),
    Transition("cancel", ANY_ACTIVE, "Seen: spec.cancel", CANCELLED, "Finish", CANCEL_REASONS),
    Transition("stale", ANY_ACTIVE, "Seen: not the PR's head", SUPERSEDED, "Finish", STALE_REASONS),
    Transition("ensure-pod", (R,), "Seen: no pod yet", R, "EnsurePod"),
    Transition("start", (R,), "StartFacts: still the head", R, "CreatePod"),
    Transition("start-moved", (R,), "StartFacts: head moved", SUPERSEDED, "Finish", STALE_REASONS),
    Transition(
        "start-repeat",
        (R,),
        "StartFacts: head already reviewed",
        SUPERSEDED,
        "Finish",
        (Reason.ALREADY_REVIEWED,),
    ),
    Transition(
        "config-skip",
        (R,),
        "StartFacts: the repository's config skips it",
        CANCELLED,
        "Finish",
        (Reason.SKIPPED_BY_CONFIG,),
    ),
    Transition("question-start", (R,), "StartFacts: a question (a reply: in our thread)", R, "CreatePod"),
    Transition(
        "not-our-thread",
        (R,),
        "StartFacts: a reply in a thread our App did not start",
        CANCELLED,
        "Finish",
        (Reason.NOT_OUR_THREAD,),
    ),
    Transition("token-refused", (R,), "TokenRefused", FAILED, "Finish", (Reason.UNAUTHORIZED,)),
    Transition("pod-refused", (R,), "CreateRefused: 400/403/422", FAILED, "Finish", (Reason.POD_REJECTED,)),
    Transition("pod-lost", (R,), "Seen: created pod gone", Q, "Retry", (Reason.NODE_LOST,)),
    Transition(
        "no-pod-deadline",
        (R,),
        "Seen: no pod by the pending timeout",
        Q,
        "Retry",
        (Reason.POD_CREATE_FAILED,),
    ),
    Transition("pod-retry", (R,), "Seen/PodSeen: pod ended, worth another attempt", Q, "Retry"),
    Transition("pod-retries-spent", (R,), "Seen/PodSeen: same, attempts used up", FAILED, "Finish"),
    Transition("pod-failed", (R,), "Seen/PodSeen: pod ended for good", FAILED, "Finish"),
    Transition(
        "pod-key-rejected",
        (R,),
        "Seen/PodSeen: the model rejected the key (the breaker opens)",
        FAILED,
        "Finish",
        (Reason.UNAUTHORIZED,),
    ),
    Transition("pod-timed-out", (R,), "Seen/PodSeen: deadline or agent timeout", TIMED_OUT, "Finish"),
    Transition("pod-succeeded", (R,), "Seen/PodSeen: pod succeeded with a result", R, "Post"),
    Transition(
        "no-answer",
        (R,),
        "Seen/PodSeen: a question's pod succeeded without an answer",
        FAILED,
        "Finish",
        (Reason.NO_ANSWER,),
    ),
    Transition("posted", (R,), "Posted", OK, "Finish", (Reason.SUCCEEDED,)),
    Transition("posting-off", (R,), "PostingOff", OK, "Finish", (Reason.SUCCEEDED,)),
    Transition("post-moved", (R,), "PostMoved", SUPERSEDED, "Finish", (Reason.HEAD_MOVED,)),
    Transition("post-refused", (R,), "PostRefused", FAILED, "Finish", (Reason.UNAUTHORIZED,)),
    Transition("post-delayed", (R,), "PostFailed: retryable, before give-up", R, "DelayPost"),
    Transition(
        "post-failed",
        (R,),
        "PostFailed: refused, or past give-up",
        FAILED,
        "Finish",
        (Reason.POSTING_FAILED,),
    ),
    Transition("post-due", (R,), "Seen: kept result, wait over", R, "Post"),
    Transition(
        "kept-unreadable", (R,), "Seen: kept result unreadable", FAILED, "Finish", (Reason.RESULT_UNREADABLE,)
    ),
)


def mermaid() -> str:
    """The transitions as a mermaid state diagram (self-loops and admission included)."""
    lines = ["stateDiagram-v2", "    [*] --> Pending"]
    for t in TRANSITIONS:
        for source in t.sources:
            label = f"{t.observation} / {t.step}"
            if t.reasons:
                label += f" ({', '.join(str(r) for r in t.reasons)})"
            lines.append(f"    {source.value} --> {t.target.value} : {label.replace(':', ' -')}")
    for final in (OK, FAILED, TIMED_OUT, SUPERSEDED, CANCELLED):
        lines.append(f"    {final.value} --> [*] : Seen / Cleanup, then TTL")
    return "\n".join(lines) + "\n"


def document() -> str:
    """`docs/state-machine.md`: the table and the diagram."""
    rows = [
        "| from | observation | to | step | reasons |",
        "|---|---|---|---|---|",
    ]
    for t in TRANSITIONS:
        sources = ", ".join(s.value for s in t.sources)
        reasons = ", ".join(f"`{r}`" for r in t.reasons) or "from `classify` (the pod's ending)"
        rows.append(f"| {sources} | {t.observation} | {t.target.value} | {t.step} | {reasons} |")
    return "\n".join(
        [
            f"<!-- GENERATED by `make generate` from {SOURCE}: do not edit. -->",
            "# The ReviewJob state machine",
            "",
            "Every transition below is decided by `controller/decide/machine.py::decide` (admission by",
            "the engine's ledger). A final ReviewJob is cleaned up (pod, Secret, finished label) and",
            "deleted after `REVIEWOP_FINISHED_TTL_SECONDS`.",
            "",
            "```mermaid",
            mermaid().rstrip(),
            "```",
            "",
            *rows,
            "",
        ]
    )


BEGIN, END = "<!-- state-machine:begin -->", "<!-- state-machine:end -->"


def embedded(text: str) -> str:
    """`text` (docs/architecture.md) with the diagram between its markers made current."""
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n```mermaid\n{mermaid()}```\n{END}{tail}"
