"""Pure delivery decisions, on real GitHub payloads from @octokit/webhooks-examples."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from review_operator.api.models import (
    PR_BODY_MAX_CHARS,
    QUESTION_MAX_CHARS,
    AuthorAssociation,
    CancelReason,
    JobKind,
    TriggerEvent,
)
from review_operator.builders.names import (
    LABEL_FORCE,
    LABEL_PULL_REQUEST,
    LABEL_REPOSITORY_ID,
    LABEL_SHA,
    rerun_suffix,
)
from review_operator.config import WebhookSettings
from review_operator.webhook import events
from review_operator.webhook.events import (
    CancelReviews,
    Create,
    Ignore,
    InvalidDelivery,
    Policy,
    Pong,
    decide,
)
from tests.harness.controlplane import REPO_ROOT
from tests.integration import webhook_helpers
from tests.integration.webhook_helpers import (
    HEAD_SHA,
    example,
    managed_user_pull_request,
    review_comment,
    thread_reply,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
POLICY = Policy(trusted=frozenset({"OWNER", "MEMBER", "COLLABORATOR"}), allowed_repositories=frozenset())
DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def _decide(event: str, payload: Any, policy: Policy = POLICY) -> events.Decision:
    return decide(event, DELIVERY, payload, policy, NOW)


@pytest.mark.parametrize("action", ["opened", "reopened", "synchronize", "ready_for_review"])
def test_review_actions_create_a_reviewjob_for_the_head_sha(action: str) -> None:
    payload = example("pull_request", action)
    decision = _decide("pull_request", payload)
    assert isinstance(decision, Create)
    job = decision.job
    assert job.metadata.name == f"pr-186853002-2-{HEAD_SHA[:12]}"
    assert job.metadata.labels[LABEL_REPOSITORY_ID] == "186853002"
    assert job.metadata.labels[LABEL_PULL_REQUEST] == "2"
    assert job.metadata.labels[LABEL_SHA] == HEAD_SHA[:12]
    spec = job.spec
    assert (spec.repository.owner, spec.repository.name, spec.repository.id) == (
        "Codertocat",
        "Hello-World",
        186853002,
    )
    assert spec.pull_request.number == 2
    assert spec.pull_request.head_sha == payload["pull_request"]["head"]["sha"]
    assert spec.pull_request.base_sha == payload["pull_request"]["base"]["sha"]
    assert spec.pull_request.author == "Codertocat"
    assert spec.pull_request.author_association is AuthorAssociation.OWNER
    assert spec.trigger.event is TriggerEvent.PULL_REQUEST
    assert (spec.trigger.action, spec.trigger.delivery_id, spec.trigger.sender) == (
        action,
        DELIVERY,
        "Codertocat",
    )


def test_same_pr_and_sha_always_get_the_same_name() -> None:
    first = _decide("pull_request", example("pull_request", "opened"))
    second = _decide("pull_request", example("pull_request", "synchronize"))
    assert isinstance(first, Create) and isinstance(second, Create)
    assert first.job.metadata.name == second.job.metadata.name


def test_installation_id_is_recorded_when_present() -> None:
    payload = example("pull_request", "opened")
    payload["installation"] = {"id": 4242, "node_id": "x"}
    decision = _decide("pull_request", payload)
    assert isinstance(decision, Create) and decision.job.spec.installation_id == 4242


@pytest.mark.parametrize(
    ("action", "reason"),
    [("closed", CancelReason.PULL_REQUEST_CLOSED), ("converted_to_draft", CancelReason.CONVERTED_TO_DRAFT)],
)
def test_closing_or_drafting_cancels_the_pull_requests_reviews(action: str, reason: CancelReason) -> None:
    decision = _decide("pull_request", example("pull_request", action))
    assert isinstance(decision, CancelReviews)
    assert (decision.repository_id, decision.pr_number) == (186853002, 2)
    assert decision.cancel.reason is reason
    assert decision.cancel.requested_at == NOW
    assert decision.cancel.delivery_id == DELIVERY


@pytest.mark.parametrize("action", ["labeled", "assigned", "locked", "review_requested", "edited"])
def test_other_pull_request_actions_are_ignored_with_a_reason(action: str) -> None:
    payload = example("pull_request", "opened")
    payload["action"] = action
    decision = _decide("pull_request", payload)
    assert isinstance(decision, Ignore) and action in decision.reason


def test_drafts_are_skipped_unless_configured() -> None:
    payload = example("pull_request", "opened")
    payload["pull_request"]["draft"] = True
    assert isinstance(_decide("pull_request", payload), Ignore)
    with_drafts = Policy(POLICY.trusted, POLICY.allowed_repositories, review_drafts=True)
    decision = _decide("pull_request", payload, with_drafts)
    assert isinstance(decision, Create) and decision.job.spec.pull_request.draft


@pytest.mark.parametrize("association", ["CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "NONE", "SOMETHING_NEW"])
def test_untrusted_authors_get_no_automatic_review(association: str) -> None:
    payload = example("pull_request", "opened")
    payload["pull_request"]["author_association"] = association
    decision = _decide("pull_request", payload)
    assert isinstance(decision, Ignore) and "/review" in decision.reason


def test_trusted_associations_are_configurable() -> None:
    payload = example("pull_request", "opened")
    payload["pull_request"]["author_association"] = "CONTRIBUTOR"
    policy = Policy(frozenset({"CONTRIBUTOR"}), frozenset())
    assert isinstance(_decide("pull_request", payload, policy), Create)


def test_allow_list_is_case_insensitive_and_excludes_others() -> None:
    payload = example("pull_request", "opened")
    allowed = Policy(POLICY.trusted, frozenset({"codertocat/hello-world"}))
    other = Policy(POLICY.trusted, frozenset({"someone/else"}))
    assert isinstance(_decide("pull_request", payload, allowed), Create)
    assert isinstance(_decide("pull_request", payload, other), Ignore)
    assert isinstance(_decide("pull_request", example("pull_request", "closed"), other), Ignore)


def test_pull_request_description_reaches_the_spec_scrubbed_then_cut() -> None:
    token = "ghp_" + "A" * 36
    payload = example("pull_request", "opened")
    payload["pull_request"]["body"] = f"Fixes the cache.\n{token}\n" + "x" * 9000
    decision = _decide("pull_request", payload)
    assert isinstance(decision, Create)
    body = decision.job.spec.pull_request.body
    assert body.startswith("Fixes the cache.\n[REDACTED]\nxxx")
    assert len(body) == PR_BODY_MAX_CHARS and body.endswith("…")
    assert token not in body and "ghp_" not in body


def test_pull_request_without_a_description_records_an_empty_body() -> None:
    payload = example("pull_request", "opened")
    payload["pull_request"]["body"] = None
    decision = _decide("pull_request", payload)
    assert isinstance(decision, Create) and decision.job.spec.pull_request.body == ""


def test_review_command_records_the_description_of_the_pull_request_issue() -> None:
    payload = review_comment("/review")
    payload["issue"]["body"] = "What this PR changes"
    decision = _decide("issue_comment", payload)
    assert isinstance(decision, Create) and decision.job.spec.pull_request.body == "What this PR changes"
    # The comment itself is the command, never the description.
    assert "/review" not in decision.job.spec.pull_request.body


def test_trusted_review_command_creates_a_reviewjob_named_after_the_comment() -> None:
    payload = review_comment("/review please")
    decision = _decide("issue_comment", payload)
    assert isinstance(decision, Create)
    comment_id = payload["comment"]["id"]
    assert decision.job.metadata.name == f"pr-186853002-{payload['issue']['number']}-c{comment_id}"
    assert decision.job.spec.pull_request.head_sha is None
    assert LABEL_SHA not in decision.job.metadata.labels
    assert decision.job.spec.trigger.event is TriggerEvent.ISSUE_COMMENT
    assert decision.job.spec.trigger.comment_id == comment_id


@pytest.mark.parametrize(
    ("body", "force", "full"),
    [("/review", None, None), ("/review force", True, None), ("/review full", True, True)],
)
def test_review_full_is_a_forced_command_that_asks_for_the_whole_pull_request(
    body: str, force: bool | None, full: bool | None
) -> None:
    # Issue 20 item 2: `/review full` skips the incremental review (and, being forced, AlreadyReviewed).
    decision = _decide("issue_comment", review_comment(body))
    assert isinstance(decision, Create)
    assert (decision.job.spec.trigger.force, decision.job.spec.trigger.full) == (force, full)


@pytest.mark.parametrize(
    ("payload_factory", "why"),
    [
        (lambda: review_comment("/review", association="CONTRIBUTOR"), "not trusted"),
        (lambda: review_comment("please /review this"), "not a `/review`"),
        (lambda: review_comment("/reviewer wanted"), "not a `/review`"),
        (lambda: review_comment("/cancel", association="CONTRIBUTOR"), "not trusted"),
        (lambda: review_comment("please /cancel"), "not a `/review`, `/ask` or `/cancel`"),
        (lambda: review_comment("/cancelled it"), "not a `/review`, `/ask` or `/cancel`"),
        (lambda: example("issue_comment", "created"), "not a pull request"),
        (lambda: {**review_comment(), "action": "edited"}, "edited"),
    ],
)
def test_other_comments_are_ignored(payload_factory: Any, why: str) -> None:
    decision = _decide("issue_comment", payload_factory())
    assert isinstance(decision, Ignore) and why in decision.reason


@pytest.mark.parametrize("body", ["/cancel", "  /cancel\nplease stop", "/cancel it"])
def test_trusted_cancel_command_cancels_the_pull_requests_reviews(body: str) -> None:
    payload = review_comment(body)
    decision = _decide("issue_comment", payload)
    assert isinstance(decision, CancelReviews)
    assert (decision.repository_id, decision.pr_number) == (186853002, payload["issue"]["number"])
    assert decision.cancel.reason is CancelReason.CANCEL_COMMAND
    assert (decision.cancel.requested_at, decision.cancel.delivery_id) == (NOW, DELIVERY)
    assert decision.cancel.comment_id == payload["comment"]["id"]  # answered with a reaction


def test_ping_is_answered() -> None:
    assert isinstance(_decide("ping", example("ping")), Pong)


@pytest.mark.parametrize("event", ["push", "issues", "workflow_run", "star", ""])
def test_unknown_events_are_ignored(event: str) -> None:
    assert isinstance(_decide(event, {"action": "created"}), Ignore)


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "text",
        {},
        {"action": "opened"},
        {**example("pull_request", "opened"), "pull_request": {"number": "two"}},
    ],
)
def test_malformed_payloads_of_known_events_are_invalid(payload: Any) -> None:
    assert isinstance(_decide("pull_request", payload), InvalidDelivery)


def test_values_the_crd_would_reject_make_the_delivery_invalid() -> None:
    payload = example("pull_request", "opened")
    payload["pull_request"]["head"]["sha"] = "not-a-sha"
    assert isinstance(_decide("pull_request", payload), InvalidDelivery)


@pytest.mark.parametrize(
    "login",
    [
        "octocat_acme",  # HANDLE_SHORTCODE
        "mona-cat_octo",  # GitHub's documented example
        "acme_admin",  # the enterprise's setup user
        "The-Octocat_abcdefgh",  # the longest shortcode
        "a" * 35 + "_abc",  # 39 characters, the limit, underscore and shortcode included
    ],
)
def test_enterprise_managed_users_get_reviews(login: str) -> None:
    decision = _decide("pull_request", managed_user_pull_request(login))
    assert isinstance(decision, Create), decision
    spec = decision.job.spec
    assert (spec.pull_request.author, spec.trigger.sender, spec.repository.owner) == (login, login, login)


@pytest.mark.parametrize(
    "login",
    [
        "octocat_ac",  # shortcode shorter than 3
        "octocat_abcdefghi",  # shortcode longer than 8
        "a" * 36 + "_abc",  # 40 characters
        "_acme",
        "octocat__acme",
        "octo_cat_acme",
        "octocat_ac-me",
        "-octocat",
        "octocat_acme[bot]",
    ],
)
def test_logins_github_cannot_issue_make_the_delivery_invalid(login: str) -> None:
    assert isinstance(_decide("pull_request", managed_user_pull_request(login)), InvalidDelivery)


def test_overlong_delivery_id_is_invalid() -> None:
    assert isinstance(decide("ping", "x" * 129, {}, POLICY, NOW), InvalidDelivery)


def test_long_titles_are_cut_to_the_crd_limit() -> None:
    payload = example("pull_request", "opened")
    payload["pull_request"]["title"] = "t" * 5000
    decision = _decide("pull_request", payload)
    assert isinstance(decision, Create) and len(decision.job.spec.pull_request.title) == 1024


TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"  # a personal access token's shape


@pytest.mark.parametrize("offset", [0, 1, 4, 20, 39])
def test_a_token_planted_at_any_cut_is_scrubbed_before_the_text_is_cut(offset: int) -> None:
    # Cutting first left most of a token that straddled the limit, and its prefix no longer matched.
    shown = events.shown("x" * (64 - offset) + TOKEN)
    assert TOKEN[: max(offset, 8)] not in shown
    assert "ghp_" not in shown
    payload = example("pull_request", "opened")
    payload["pull_request"]["title"] = "t" * (1024 - offset) + TOKEN
    decision = _decide("pull_request", payload)
    assert isinstance(decision, Create)
    assert "ghp_" not in decision.job.spec.pull_request.title
    assert len(decision.job.spec.pull_request.title) <= 1024
    ignored = _decide("pull_request", {**example("pull_request", "opened"), "action": "x" * 40 + TOKEN})
    assert isinstance(ignored, Ignore) and "ghp_" not in ignored.reason


def test_summary_reads_action_and_repository_leniently() -> None:
    assert events.summary(example("pull_request", "opened")) == ("opened", "Codertocat/Hello-World")
    assert events.summary([1, 2]) == ("", "")
    assert events.summary({"action": 3}) == ("", "")


def test_policy_from_settings_reads_comma_separated_lists(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\nsecond\n")
    settings = WebhookSettings(
        webhook_secret=SecretStr("a, b"),
        webhook_secret_file=secret_file,
        webhook_trusted_associations="owner,member",  # type: ignore[arg-type]
        webhook_allowed_repositories="Org/Repo, other/x",  # type: ignore[arg-type]
    )
    policy = Policy.from_settings(settings)
    assert policy.trusted == {"OWNER", "MEMBER"}
    assert policy.allowed_repositories == {"org/repo", "other/x"}
    assert settings.secrets() == [b"a", b"b", b"from-file", b"second"]
    assert "a, b" not in repr(settings)


def test_every_webhook_setting_is_documented_in_the_readme() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    for name in WebhookSettings.model_fields:
        assert f"`REVIEWOP_{name.upper()}`" in readme, name


# -- GitHub's Re-run (check_run / check_suite `rerequested`) --------------------------------------

OUR_APP = Policy(
    trusted=frozenset({"OWNER"}), allowed_repositories=frozenset(), app_id=webhook_helpers.APP_ID
)


def test_rerequested_check_run_of_ours_is_a_forced_rerun_of_its_head() -> None:
    payload = webhook_helpers.rerequested(external_id=f"pr-186853002-2-{HEAD_SHA[:12]}")
    decision = _decide("check_run", payload, OUR_APP)
    assert isinstance(decision, events.Rerun)
    assert (decision.repository_id, decision.head_sha, decision.pr_numbers) == (186853002, HEAD_SHA, (2,))
    assert decision.external_id == f"pr-186853002-2-{HEAD_SHA[:12]}"
    assert decision.trigger.event is TriggerEvent.CHECK_RUN and decision.trigger.force is True
    assert (decision.trigger.action, decision.trigger.delivery_id) == ("rerequested", DELIVERY)
    assert decision.installation_id == 957387


def test_rerequested_check_suite_of_ours_names_its_pull_requests() -> None:
    decision = _decide("check_suite", webhook_helpers.rerequested("check_suite"), OUR_APP)
    assert isinstance(decision, events.Rerun)
    assert decision.trigger.event is TriggerEvent.CHECK_SUITE and decision.external_id is None
    assert (decision.head_sha, decision.pr_numbers) == (HEAD_SHA, (2,))
    assert decision.trigger.sender == "octocoders-linter[bot]"


@pytest.mark.parametrize(
    ("event", "changes", "why"),
    [
        ("check_run", {"app_id": 99}, "not a check run of this App"),
        ("check_run", {"name": "lint"}, "not a check run of this App"),
        ("check_suite", {"app_id": 99}, "not a check suite of this App"),
    ],
)
def test_rerequests_of_other_apps_or_checks_are_ignored(
    event: str, changes: dict[str, Any], why: str
) -> None:
    decision = _decide(event, webhook_helpers.rerequested(event, **changes), OUR_APP)
    assert isinstance(decision, Ignore) and decision.reason == why


def test_rerequests_outside_the_allow_list_and_other_actions_are_ignored() -> None:
    listed = Policy(
        trusted=frozenset(), allowed_repositories=frozenset({"acme/api"}), app_id=webhook_helpers.APP_ID
    )
    refused = _decide("check_run", webhook_helpers.rerequested(), listed)
    assert isinstance(refused, Ignore) and "allow-list" in refused.reason
    for event in ("check_run", "check_suite"):
        payload = webhook_helpers.rerequested(event)
        payload["action"] = "completed"
        assert isinstance(_decide(event, payload, OUR_APP), Ignore)


def test_without_a_configured_app_id_any_run_named_review_operator_counts() -> None:
    decision = _decide("check_run", webhook_helpers.rerequested(app_id=99), POLICY)
    assert isinstance(decision, events.Rerun)


def _stored(name: str, head: str | None, number: int = 2, created: int = 0) -> Any:
    create = _decide("pull_request", example("pull_request", "opened"))
    assert isinstance(create, Create)
    job = create.job
    pr = job.spec.pull_request.model_copy(update={"head_sha": head, "number": number})
    meta = job.metadata.model_copy(
        update={"name": name, "creation_timestamp": datetime(2026, 1, 1, 0, 0, created, tzinfo=UTC)}
    )
    return job.model_copy(update={"metadata": meta, "spec": job.spec.model_copy(update={"pull_request": pr})})


def test_the_rerun_repeats_the_newest_review_of_that_head_of_the_named_pull_request() -> None:
    decision = _decide("check_run", webhook_helpers.rerequested(), OUR_APP)
    assert isinstance(decision, events.Rerun)
    older_head = _stored("pr-186853002-2-old", "a" * 40, created=9)
    same_head = _stored("pr-186853002-2-ec26", HEAD_SHA, created=1)
    other_pr = _stored("pr-186853002-3-ec26", HEAD_SHA, number=3, created=5)
    template = events.rerun_template(decision, [older_head, same_head, other_pr])
    assert template is same_head
    assert events.rerun_template(decision, [other_pr]) is None


def test_a_rerun_is_a_forced_review_named_after_its_delivery() -> None:
    decision = _decide("check_run", webhook_helpers.rerequested(pull_numbers=()), OUR_APP)
    assert isinstance(decision, events.Rerun) and decision.pr_numbers == ()
    template = _stored("pr-186853002-2-ec26c3e57ca3", HEAD_SHA)
    created = events.rerun_of(template, decision)
    job = created.job
    assert job.metadata.name == f"pr-186853002-2-{HEAD_SHA[:12]}-{rerun_suffix(DELIVERY)}"
    assert job.metadata.labels[LABEL_FORCE] == "true"
    assert job.metadata.labels[LABEL_SHA] == HEAD_SHA[:12]
    assert job.spec.trigger.force is True and job.spec.trigger.event is TriggerEvent.CHECK_RUN
    assert job.spec.pull_request.head_sha == HEAD_SHA
    assert job.spec.pull_request.title == template.spec.pull_request.title
    assert job.spec.pull_request.base_sha == template.spec.pull_request.base_sha
    again = events.rerun_of(template, decision)
    assert again.job.metadata.name == job.metadata.name  # a redelivery is a duplicate
    other = decide("check_run", "another-delivery", webhook_helpers.rerequested(), OUR_APP, NOW)
    assert isinstance(other, events.Rerun)
    assert events.rerun_of(template, other).job.metadata.name != job.metadata.name


# -- questions: `/ask` and replies in our review threads (issue 20 item 3) ----------------------


def test_a_trusted_ask_creates_a_question_named_after_its_comment() -> None:
    payload = review_comment(
        "/ask Why does `load()` cache the config?\nAnd for how long?", association="MEMBER"
    )
    decision = _decide("issue_comment", payload)
    assert isinstance(decision, Create)
    job, comment_id = decision.job, payload["comment"]["id"]
    assert job.metadata.name == f"pr-186853002-{payload['issue']['number']}-a{comment_id}"
    assert job.spec.kind is JobKind.ASK
    assert job.spec.question is not None
    assert job.spec.question.text == "Why does `load()` cache the config?\nAnd for how long?"
    assert (job.spec.question.comment_id, job.spec.question.thread_id) == (comment_id, None)
    assert job.spec.pull_request.head_sha is None  # resolved when it starts, like a command's
    assert job.spec.trigger.comment_id == comment_id and not job.spec.trigger.force
    assert LABEL_FORCE not in job.metadata.labels
    # The same comment redelivered is the same ReviewJob: the API server answers AlreadyExists.
    again = _decide("issue_comment", payload)
    assert isinstance(again, Create) and again.job.to_manifest() == job.to_manifest()


@pytest.mark.parametrize("body", ["/ask", "/ask   ", "/asking why"])
def test_an_ask_without_a_question_is_ignored(body: str) -> None:
    decision = _decide("issue_comment", review_comment(body, association="OWNER"))
    assert isinstance(decision, Ignore)


def test_an_untrusted_ask_is_ignored() -> None:
    decision = _decide("issue_comment", review_comment("/ask why?", association="NONE"))
    assert isinstance(decision, Ignore) and "not trusted" in decision.reason


def test_an_ask_scrubs_token_shapes_and_is_bounded() -> None:
    token = "ghp_" + "a" * 36
    decision = _decide(
        "issue_comment", review_comment(f"/ask is {token} ok? " + "x" * 9000, association="OWNER")
    )
    assert isinstance(decision, Create) and decision.job.spec.question is not None
    text = decision.job.spec.question.text
    assert token not in text and "[REDACTED]" in text and len(text) == QUESTION_MAX_CHARS


def test_a_trusted_reply_in_a_thread_creates_a_reply_named_after_its_comment() -> None:
    payload = thread_reply("This is intended: the cache is cleared on reload.")
    decision = _decide("pull_request_review_comment", payload)
    assert isinstance(decision, Create)
    job, comment = decision.job, payload["comment"]
    assert job.metadata.name == f"pr-186853002-{payload['pull_request']['number']}-t{comment['id']}"
    assert job.spec.kind is JobKind.REPLY
    assert job.spec.trigger.event is TriggerEvent.PULL_REQUEST_REVIEW_COMMENT
    assert job.spec.question is not None
    assert (job.spec.question.comment_id, job.spec.question.thread_id) == (comment["id"], 284312600)
    assert job.spec.question.text == "This is intended: the cache is cleared on reload."
    assert job.spec.pull_request.head_sha is None
    # A redelivery names the same ReviewJob.
    again = _decide("pull_request_review_comment", payload)
    assert isinstance(again, Create) and again.job.metadata.name == job.metadata.name


@pytest.mark.parametrize(
    ("payload_factory", "why"),
    [
        (lambda: thread_reply(association="NONE"), "not trusted"),
        (lambda: thread_reply(association="CONTRIBUTOR"), "not trusted"),
        (lambda: thread_reply(login="review-operator[bot]", user_type="Bot"), "bot"),
        (lambda: thread_reply(login="someone-elses-app[bot]", user_type="Bot"), "bot"),
        (lambda: thread_reply(in_reply_to=None), "not a reply"),
        (lambda: thread_reply(action="edited"), "not handled"),
        (lambda: thread_reply(body="   "), "empty"),
    ],
)
def test_replies_that_are_not_questions_for_us_are_ignored(payload_factory: Any, why: str) -> None:
    decision = _decide("pull_request_review_comment", payload_factory())
    assert isinstance(decision, Ignore) and why in decision.reason, decision


def test_a_reply_in_someone_elses_thread_is_recorded_for_the_controller_to_check() -> None:
    # The payload does not say who started the thread: the ReviewJob names it (threadId) and the
    # controller asks GitHub before anything is spent (see test_machine: NotOurThread).
    decision = _decide("pull_request_review_comment", thread_reply(in_reply_to=77))
    assert isinstance(decision, Create) and decision.job.spec.question is not None
    assert decision.job.spec.question.thread_id == 77


def test_a_question_is_never_answered_by_a_waiting_review_command() -> None:
    ask = _decide("issue_comment", review_comment("/ask why?", association="OWNER"))
    command = _decide("issue_comment", review_comment("/review", association="OWNER"))
    assert isinstance(ask, Create) and isinstance(command, Create)
    # A `/review` while a question runs: the question is no `/review` of the PR.
    assert events.command_verdict(command.job, [ask.job], NOW, 600) is None
