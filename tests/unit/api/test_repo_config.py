"""`.github/review-operator.yaml`: parsing never fails a review, problems name the key and line,
the glob dialects, and the committed JSON schema is current."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from review_operator.api.globs import login_matches_any, path_matches, path_selected
from review_operator.api.repo_config import (
    DEFAULT_SKIP_AUTHORS,
    MAX_CONFIG_BYTES,
    REPO_CONFIG_PATH,
    RepoConfig,
    ReviewMode,
    automatic_review_skip_reason,
    format_problems,
    parse_repo_config,
    paths_included,
    render_repo_config_schema,
    repo_config_schema,
    skips_author,
    with_config_problems,
)
from review_operator.api.result import ResultOutcome, ReviewResult
from review_operator.cli import main
from tests.harness.controlplane import REPO_ROOT

SCHEMA_FILE = REPO_ROOT / "config" / "repo-config.schema.json"
SAMPLE_FILE = REPO_ROOT / "config" / "samples" / "review-operator.yaml"


def test_no_file_and_an_empty_file_give_the_defaults_without_problems() -> None:
    for text in (None, "", "# only a comment\n", "---\n"):
        config, problems = parse_repo_config(text)
        assert (config, problems) == (RepoConfig(), []), repr(text)
    assert RepoConfig().mode is ReviewMode.AUTO
    assert tuple(RepoConfig().skip_authors) == DEFAULT_SKIP_AUTHORS


def test_valid_keys_are_kept_and_each_invalid_key_is_named_with_its_line() -> None:
    text = "instructions: Be terse.\nmode: sometimes\ninclude: ['src/**']\nmaxTurns: 0\nlanguage: German\n"
    config, problems = parse_repo_config(text)
    assert config.instructions == "Be terse."
    assert config.include == ["src/**"]
    assert config.language == "German"
    assert config.mode is ReviewMode.AUTO  # invalid: the default
    assert config.max_turns is None
    assert problems == [
        f"`{REPO_CONFIG_PATH}` line 2: `mode`: input should be 'auto' or 'manual'; using the default",
        f"`{REPO_CONFIG_PATH}` line 4: `maxTurns`: input should be greater than or equal to 1;"
        " using the default",
    ]


def test_unknown_keys_are_reported_with_a_suggestion_not_ignored() -> None:
    config, problems = parse_repo_config("ignor: ['*.md']\nskip_authors: []\nfoo: 1\n")
    assert config == RepoConfig()
    assert problems[0].startswith(
        f"`{REPO_CONFIG_PATH}` line 1: `ignor`: unknown key (did you mean `ignore`?)"
    )
    assert "`skip_authors`: unknown key (did you mean `skipAuthors`?)" in problems[1]
    assert "line 3: `foo`: unknown key (known keys: instructions, include" in problems[2]


def test_a_bad_list_item_names_its_index() -> None:
    config, problems = parse_repo_config("ignore:\n  - ok/**\n  - ''\n")
    assert config.ignore == []
    assert problems == [
        f"`{REPO_CONFIG_PATH}` line 1: `ignore[1]`: string should have at least 1 character;"
        " using the default"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mode: [auto", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping of keys, got a list"),
        ("just text", "expected a mapping of keys, got a str"),
        ("a: &x [1]\nb: *x\n", "anchors and aliases"),
        ("x: " + "[" * 40 + "]" * 40, "nested deeper than 16 levels"),
        ("!!python/object/apply:os.system ['true']", "not valid YAML"),
        ("mode: auto\n---\nmode: manual\n", "not valid YAML"),
        ("mode: auto\x00", "not valid YAML"),
    ],
)
def test_unusable_documents_give_the_defaults_and_one_problem(text: str, expected: str) -> None:
    config, problems = parse_repo_config(text)
    assert config == RepoConfig()
    assert len(problems) == 1 and expected in problems[0], problems
    assert problems[0].startswith(f"`{REPO_CONFIG_PATH}`")


def test_a_file_over_the_size_limit_is_ignored() -> None:
    config, problems = parse_repo_config("instructions: " + "x" * MAX_CONFIG_BYTES)
    assert config == RepoConfig()
    assert "over the 64 KiB limit" in problems[0]


def test_limits_of_the_fields_are_enforced() -> None:
    text = yaml.safe_dump({"instructions": "x" * 4001, "ignore": [f"d{i}/**" for i in range(51)]})
    config, problems = parse_repo_config(text)
    assert config == RepoConfig()
    assert any("`instructions`: string should have at most 4000 characters" in p for p in problems)
    assert any("`ignore`: list should have at most 50 items" in p for p in problems)


def test_an_unquoted_yes_or_no_gets_a_hint() -> None:
    _, problems = parse_repo_config("language: no\n")
    assert "quote it" in problems[0]


def test_a_key_without_a_value_means_the_default() -> None:
    config, problems = parse_repo_config("model:\nignore:\n")
    assert (config, problems) == (RepoConfig(), [])


def test_snake_case_names_work_in_python_but_not_in_the_file() -> None:
    assert RepoConfig(skip_authors=["x"]).skip_authors == ["x"]
    assert parse_repo_config("skipAuthors: [x]\n")[0].skip_authors == ["x"]


def test_file_supplied_text_cannot_break_out_of_its_code_span() -> None:
    _, problems = parse_repo_config('"x` @octo-org/everyone `y\\nz": 1\n')
    assert problems[0].count("`") % 2 == 0
    assert "`x' @octo-org/everyone 'y z`: unknown key" in problems[0]
    _, problems = parse_repo_config("mode: [`@team`")
    assert problems[0].count("`") % 2 == 0 and "\n" not in problems[0]


def test_problems_are_bounded() -> None:
    text = "".join(f"unknown{i}: 1\n" for i in range(100))
    assert len(parse_repo_config(text)[1]) == 20


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("*.md", "README.md", True),
        ("*.md", "docs/deep/guide.md", True),  # no slash: the file name anywhere
        ("docs/*.md", "docs/guide.md", True),
        ("docs/*.md", "docs/deep/guide.md", False),  # `*` stays within one directory
        ("docs/*.md", "other/docs/guide.md", False),  # a slash anchors at the root
        ("/docs/*.md", "docs/guide.md", True),
        ("docs/**", "docs/a/b/c.txt", True),
        ("docs/", "docs/a/b/c.txt", True),
        ("docs/", "mydocs/a.txt", False),
        ("**/test_*.py", "test_a.py", True),  # `**/` matches zero directories too
        ("**/test_*.py", "pkg/sub/test_a.py", True),
        ("src/**/gen/*.go", "src/gen/a.go", True),
        ("src/**/gen/*.go", "src/x/y/gen/a.go", True),
        ("src/**/gen/*.go", "src/x/y/gen/sub/a.go", False),
        ("a?c.txt", "abc.txt", True),
        ("a?c.txt", "a/c.txt", False),
        ("*.[ch]", "x.c", False),  # no character classes: `[` is literal
        ("*.[ch]", "x.[ch]", True),
        ("**", "any/thing", True),
    ],
)
def test_path_glob_semantics(glob: str, path: str, expected: bool) -> None:
    assert path_matches(glob, path) is expected


def test_ignore_wins_over_include_and_an_empty_include_means_everything() -> None:
    assert path_selected("src/a.py", [], [])
    assert path_selected("src/a.py", ["src/**"], [])
    assert not path_selected("lib/a.py", ["src/**"], [])
    assert not path_selected("src/gen/a.py", ["src/**"], ["src/gen/**"])
    config = RepoConfig(include=["src/**"], ignore=["*.snap"])
    assert paths_included(config, "src/x.py")
    assert not paths_included(config, "src/__snapshots__/x.snap")
    assert not paths_included(config, "README.md")


@pytest.mark.parametrize(
    ("login", "skipped"),
    [
        ("dependabot[bot]", True),
        ("renovate[bot]", True),
        ("github-actions[bot]", True),
        ("Some-App[BOT]", True),  # logins are case-insensitive
        ("octocat", False),
        ("robot", False),  # `*[bot]` is "ends with [bot]", not fnmatch's "ends with b, o or t"
        ("bot", False),
    ],
)
def test_default_skip_authors_are_bots(login: str, skipped: bool) -> None:
    assert skips_author(RepoConfig(), login) is skipped


def test_login_globs_match_whole_logins() -> None:
    assert login_matches_any(["renovate*"], "renovate-bot")
    assert not login_matches_any(["renovate"], "renovate-bot")
    assert not skips_author(RepoConfig(skip_authors=[]), "dependabot[bot]")


def test_automatic_reviews_respect_mode_and_skip_authors() -> None:
    assert automatic_review_skip_reason(RepoConfig(), "octocat") is None
    reason = automatic_review_skip_reason(RepoConfig(), "dependabot[bot]")
    assert reason is not None and "skipAuthors" in reason
    manual = automatic_review_skip_reason(RepoConfig(mode=ReviewMode.MANUAL), "octocat")
    assert manual is not None and "/review" in manual


def test_problems_become_a_summary_note() -> None:
    assert format_problems([]) == ""
    note = format_problems(["`.github/review-operator.yaml` line 2: `mode`: bad"])
    assert "Repository configuration problems" in note and "- `.github/review-operator.yaml` line 2" in note


def test_problems_are_appended_to_the_review_summary_within_its_limit() -> None:
    result = ReviewResult(outcome=ResultOutcome.SUCCESS, summary="x" * 8000)
    assert with_config_problems(result, []) == result
    noted = with_config_problems(result, [f"problem {i} " + "y" * 300 for i in range(20)])
    assert len(noted.summary) <= 8000
    assert noted.summary.startswith("xxx") and "Repository configuration problems" in noted.summary
    ReviewResult.model_validate(noted.model_dump())  # still within the model's limits
    short = with_config_problems(ReviewResult(outcome=ResultOutcome.SUCCESS, summary="Fine."), ["p"])
    assert short.summary.startswith("Fine.\n\n**Repository configuration problems**")


def test_committed_schema_matches_the_model() -> None:
    assert SCHEMA_FILE.read_text() == render_repo_config_schema(), (
        f"{SCHEMA_FILE.relative_to(REPO_ROOT)} is stale: regenerate it with `make generate`"
    )


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["repo-config-schema"]) == 0
    assert json.loads(capsys.readouterr().out) == repo_config_schema()


def test_sample_parses_without_problems_and_satisfies_the_schema() -> None:
    text = SAMPLE_FILE.read_text()
    config, problems = parse_repo_config(text)
    assert problems == []
    assert config.instructions and config.include and config.ignore and config.language
    jsonschema.Draft202012Validator(repo_config_schema()).validate(yaml.safe_load(text))


def test_schema_rejects_what_the_parser_rejects() -> None:
    validator = jsonschema.Draft202012Validator(repo_config_schema())
    assert not validator.is_valid({"mode": "sometimes"})
    assert not validator.is_valid({"ignor": ["x"]})
    assert not validator.is_valid({"skip_authors": ["x"]})
    assert validator.is_valid({"skipAuthors": ["x"], "model": None})
