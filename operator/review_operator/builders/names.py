"""Deterministic names and labels: the basis of idempotency.

A ReviewJob's name is a function of (repository id, PR number, head SHA) — or the `/review`
comment id for command triggers — so a redelivered webhook hits AlreadyExists instead of creating
a second review. A pod's name is a function of the ReviewJob and the attempt, so a controller that
crashed after creating it finds it again instead of starting another one.
"""

from __future__ import annotations

import hashlib

LABEL_PREFIX = "review-operator.dev"
LABEL_REPOSITORY_ID = f"{LABEL_PREFIX}/repository-id"
LABEL_PULL_REQUEST = f"{LABEL_PREFIX}/pull-request"
LABEL_SHA = f"{LABEL_PREFIX}/sha"
LABEL_REVIEWJOB = f"{LABEL_PREFIX}/reviewjob"
LABEL_ATTEMPT = f"{LABEL_PREFIX}/attempt"
# Set once a ReviewJob is final (its pod and Secret gone): the controller lists and watches only the rest.
LABEL_FINISHED = f"{LABEL_PREFIX}/finished"
# With it, the UTC day it finished (YYYY-MM-DD): garbage collection and the daily budget read only the
# days they need, not every finished ReviewJob of the week (`controller/decide/retention.py`).
LABEL_FINISHED_DAY = f"{LABEL_PREFIX}/finished-day"
LABEL_FORCE = f"{LABEL_PREFIX}/force"  # `/review force` ReviewJobs: the webhook rate-limits them per PR
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "review-operator"
SHORT_SHA = 12
CHECK_RUN_NAME = "review-operator"  # the name of every check run the controller creates


def rerun_suffix(delivery_id: str) -> str:
    """`r<10 hex>`: a GitHub "Re-run" ReviewJob's suffix, from its delivery (a redelivery repeats it)."""
    return "r" + hashlib.sha256(delivery_id.encode()).hexdigest()[:10]


def question_suffix(comment_id: int, in_thread: bool) -> str:
    """`a<comment id>` for a `/ask` comment, `t<comment id>` for a reply in a review thread (review
    comments and issue comments are numbered apart, so the letter keeps their names apart too)."""
    return f"{'t' if in_thread else 'a'}{comment_id}"


def reviewjob_name(
    repository_id: int,
    pr_number: int,
    head_sha: str | None,
    comment_id: int | None = None,
    rerun: str | None = None,
    question: str | None = None,
) -> str:
    """`pr-<repo id>-<number>-<sha12>`, or `pr-<repo id>-<number>-c<comment id>` for `/review` commands,
    or `pr-<repo id>-<number>-<sha12>-r<digest>` for a GitHub "Re-run" (`rerun`: `rerun_suffix`), or
    `pr-<repo id>-<number>-<a|t><comment id>` for a question (`question`: `question_suffix`)."""
    if question is not None:
        return f"pr-{repository_id}-{pr_number}-{question}"
    if rerun is not None:
        if not head_sha:
            raise ValueError("a re-run ReviewJob needs a head SHA")
        return f"pr-{repository_id}-{pr_number}-{head_sha[:SHORT_SHA].lower()}-{rerun}"
    if comment_id is not None:
        return f"pr-{repository_id}-{pr_number}-c{comment_id}"
    if not head_sha:
        raise ValueError("a ReviewJob for a push needs a head SHA")
    return f"pr-{repository_id}-{pr_number}-{head_sha[:SHORT_SHA].lower()}"


def reviewjob_labels(repository_id: int, pr_number: int, head_sha: str | None) -> dict[str, str]:
    """Labels that let the webhook and controller find every ReviewJob of one pull request."""
    labels = {
        LABEL_REPOSITORY_ID: str(repository_id),
        LABEL_PULL_REQUEST: str(pr_number),
        LABEL_MANAGED_BY: MANAGED_BY,
    }
    if head_sha:
        labels[LABEL_SHA] = head_sha[:SHORT_SHA].lower()
    return labels


def pull_request_selector(repository_id: int, pr_number: int) -> str:
    """The equality selector of every ReviewJob of one pull request (the labels above)."""
    return f"{LABEL_PULL_REQUEST}={pr_number},{LABEL_REPOSITORY_ID}={repository_id}"


def head_selector(repository_id: int, head_sha: str) -> str:
    """The equality selector of every ReviewJob of one head of one repository (any pull request)."""
    return f"{LABEL_SHA}={head_sha[:SHORT_SHA].lower()},{LABEL_REPOSITORY_ID}={repository_id}"


def pod_name(reviewjob: str, attempt: int) -> str:
    """The review pod of one attempt (attempts count from 1)."""
    return f"{reviewjob}-a{attempt}"


def checkout_secret_name(reviewjob: str) -> str:
    """The per-review Secret holding the read-only checkout token."""
    return f"{reviewjob}-checkout"
