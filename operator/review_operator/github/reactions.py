"""Acknowledging a command comment with a reaction: 👀 when its review starts, 🚀 or 😕 when it ends.

GitHub answers 200 for a reaction the same user already left and 201 for a new one, so a repeat
(a retried attempt, a restarted controller) adds nothing. The posting token's `pull_requests: write`
covers reactions on a pull request's comments.
"""

from __future__ import annotations

from review_operator.api.models import Reaction, ReviewJob
from review_operator.github.auth import RepoClient
from review_operator.github.calls import call


async def react(gh: RepoClient, job: ReviewJob, comment_id: int, content: Reaction) -> None:
    owner, repo = job.spec.repository.owner, job.spec.repository.name
    await gh.before_write()
    await call(
        "react to comment",
        lambda: gh.github.rest.reactions.async_create_for_issue_comment(
            owner, repo, comment_id, data={"content": content}
        ),
    )
