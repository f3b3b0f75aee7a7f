"""Configuration files read at a commit are kept; a branch's, and a failed read, are not."""

from __future__ import annotations

from typing import Any

import pytest

from review_operator.api.models import ReviewJob
from review_operator.api.repo_config import RepoConfig
from review_operator.controller.engine import configuration
from review_operator.controller.engine.configuration import ReadConfigs
from review_operator.github import Transient
from tests.factories import reviewjob_body

SHA_1, SHA_2, SHA_3, BROKEN = "1" * 40, "2" * 40, "3" * 40, "4" * 40


class _Factory:
    def for_job(self, job: ReviewJob) -> object:
        return object()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []

    async def load(gh: Any, owner: str, repo: str, ref: str) -> tuple[RepoConfig, list[str]]:
        seen.append(ref)
        if ref == BROKEN:
            raise Transient("GitHub 502")
        return RepoConfig(language=ref[:8]), [f"problem at {ref[:4]}"]

    monkeypatch.setattr(configuration, "load_repo_config", load)
    return seen


async def test_a_commits_file_is_read_once_a_branchs_every_time(reads: list[str]) -> None:
    kept = ReadConfigs(size=2)
    job = ReviewJob.model_validate(reviewjob_body())
    factory: Any = _Factory()
    first = await kept.load(factory, job, SHA_1)
    first[1].append("changed by a caller")  # what a caller does to its copy is not kept
    again = await kept.load(factory, job, SHA_1)
    assert again == (RepoConfig(language="11111111"), ["problem at 1111"])
    await kept.load(factory, job, "main")
    await kept.load(factory, job, "main")
    assert reads == [SHA_1, "main", "main"]


async def test_the_least_recently_used_go_and_a_failed_read_is_not_kept(reads: list[str]) -> None:
    kept = ReadConfigs(size=2)
    job = ReviewJob.model_validate(reviewjob_body())
    factory: Any = _Factory()
    for sha in (SHA_1, SHA_2, SHA_1, SHA_3, SHA_1, SHA_2):
        await kept.load(factory, job, sha)
    assert reads == [SHA_1, SHA_2, SHA_3, SHA_2]  # 2 went when 3 came (1 was used since)
    other = ReviewJob.model_validate(reviewjob_body(repo_id=2))
    await kept.load(factory, other, SHA_1)  # another repository's file at that commit is its own
    assert reads[-1] == SHA_1
    for _ in range(2):
        with pytest.raises(Transient):
            await kept.load(factory, job, BROKEN)
    assert reads[-2:] == [BROKEN, BROKEN]
