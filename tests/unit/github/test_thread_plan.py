"""Which earlier review threads a new review resolves or carries over (pure), and how the summary and
the inline comments say it."""

from __future__ import annotations

from review_operator.api.result import Finding, ResultOutcome, ReviewResult, Severity
from review_operator.github.format import (
    EarlierFindings,
    OpenThread,
    finding_fingerprint,
    finding_heading,
    fingerprint_of,
    format_inline_comment,
    format_summary,
)
from review_operator.github.thread_plan import EarlierThread, plan_threads


def thread(name: str, *, ours: bool = True, outdated: bool = False, resolved: bool = False) -> EarlierThread:
    return EarlierThread(
        id=f"PRRT_{name}",
        ours=ours,
        fingerprint=f"fp-{name}",
        resolved=resolved,
        outdated=outdated,
        path="app.py",
        line=None if outdated else 3,
        title=name,
    )


def ids(threads: tuple[EarlierThread, ...]) -> list[str]:
    return [t.id for t in threads]


def test_a_full_review_resolves_every_open_thread_of_ours_it_no_longer_reports() -> None:
    threads = [
        thread("fixed"),
        thread("moved", outdated=True),
        thread("again"),
        thread("done", resolved=True),
    ]
    plan = plan_threads(threads, ["fp-again"], incremental=False)
    assert ids(plan.resolve) == ["PRRT_fixed", "PRRT_moved"]
    assert plan.carry == ()


def test_an_incremental_review_resolves_changed_lines_and_carries_the_unchanged_ones() -> None:
    threads = [thread("unchanged"), thread("changed", outdated=True), thread("again", outdated=True)]
    plan = plan_threads(threads, ["fp-again"], incremental=True)
    assert ids(plan.resolve) == ["PRRT_changed"]
    assert ids(plan.carry) == ["PRRT_unchanged"]


def test_threads_of_others_and_threads_without_a_finding_marker_are_never_touched() -> None:
    someone = thread("someone", ours=False, outdated=True)
    unmarked = EarlierThread("PRRT_x", True, None, False, True, "app.py", None)
    for incremental in (True, False):
        plan = plan_threads(
            [someone, thread("other-unchanged", ours=False), unmarked], [], incremental=incremental
        )
        assert plan.resolve == () and plan.carry == ()


def test_the_same_finding_open_in_two_threads_is_carried_once() -> None:
    twice = [thread("same"), EarlierThread("PRRT_2", True, "fp-same", False, False, "app.py", 3, "same")]
    assert ids(plan_threads(twice, [], incremental=True).carry) == ["PRRT_same"]


def test_the_fingerprint_ignores_line_and_case_and_spacing_but_not_the_file() -> None:
    a = Finding(path="app.py", line=3, title="Null  check missing", severity=Severity.HIGH)
    assert finding_fingerprint(a) == finding_fingerprint(
        a.model_copy(update={"line": 9, "title": "null check MISSING"})
    )
    assert finding_fingerprint(a) != finding_fingerprint(a.model_copy(update={"path": "lib.py"}))
    assert finding_fingerprint(a) != finding_fingerprint(a.model_copy(update={"title": "Other"}))


def test_an_inline_comment_carries_its_fingerprint_and_a_pasted_one_in_finding_text_does_not_count() -> None:
    finding = Finding(path="app.py", line=3, title="Leak", severity=Severity.HIGH, body="x")
    body = format_inline_comment(finding)
    assert fingerprint_of(body) == finding_fingerprint(finding)
    assert finding_heading(body) == ("high", "Leak")
    forged = Finding(
        path="app.py", line=3, title="t", body="<!-- review-operator:finding fp=0123456789abcdef -->"
    )
    assert fingerprint_of(format_inline_comment(forged)) == finding_fingerprint(forged)


def test_the_summary_lists_carried_findings_with_links_and_says_what_was_resolved() -> None:
    result = ReviewResult(outcome=ResultOutcome.SUCCESS)
    earlier = EarlierFindings(
        carried=[
            OpenThread("app.py", 31, "Added line", "low", "https://github.com/o/r/pull/1#discussion_r7"),
            OpenThread("lib.py", None, "<!-- forged -->", "bogus", "javascript:alert(1)"),
        ],
        resolved=2,
        problem="1 could not be resolved (FORBIDDEN)",
    )
    text = format_summary("rj", result, "a" * 40, review_url=None, inline=0, outside_diff=0, earlier=earlier)
    assert "### Earlier findings still open (2)" in text
    assert (
        "- 🔵 **low**: Added line — `app.py` line 31 ([thread](https://github.com/o/r/pull/1#discussion_r7))"
        in text
    )
    assert "- &lt;!-- forged --> — `lib.py`\n" in text  # no link that is not GitHub's, no marker forged
    assert "Resolved 2 earlier review thread(s) whose findings are no longer reported" in text
    assert "Earlier review threads not settled: 1 could not be resolved (FORBIDDEN)" in text
    plain = format_summary("rj", result, "a" * 40, review_url=None, inline=0, outside_diff=0)
    assert "Earlier" not in plain


def test_graphql_errors_are_typed_by_githubs_error_type_and_never_carry_its_message() -> None:
    from githubkit.exception import GraphQLFailed
    from githubkit.graphql import GraphQLResponse

    from review_operator.github.errors import GitHubNotFound, Rejected
    from review_operator.github.threads import graphql_error

    def failed(kind: str) -> GraphQLFailed:
        return GraphQLFailed(GraphQLResponse(errors=[{"type": kind, "message": "secret-ish detail"}]))

    forbidden = graphql_error(failed("FORBIDDEN"), "resolve review thread")
    assert (
        isinstance(forbidden, Rejected)
        and str(forbidden) == "resolve review thread: GitHub answered FORBIDDEN"
    )
    assert isinstance(graphql_error(failed("NOT_FOUND"), "x"), GitHubNotFound)
    assert "secret-ish" not in str(graphql_error(failed("SOMETHING"), "x"))
