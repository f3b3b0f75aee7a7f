"""Per-repository configuration: `.github/review-operator.yaml`, read from the pull request's BASE.

Never from the head: a pull request must not change how it is reviewed. Keys are camelCase, like the
ReviewJob and the chart's values; unknown keys (typos, snake_case spellings) are reported, not
ignored. `parse_repo_config` never raises: whatever is wrong becomes a human-readable problem, the
invalid keys fall back to their defaults and the valid ones are kept, so the review still runs and
its summary can say what was wrong and where. The committed JSON schema
(`config/repo-config.schema.json`) is generated from `RepoConfig` by `make generate`.
"""

from __future__ import annotations

import difflib
import json
from enum import StrEnum
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic.alias_generators import to_camel

from review_operator.api.globs import login_matches_any, path_selected
from review_operator.api.models import MODEL_PATTERN
from review_operator.api.result import ReviewResult
from review_operator.api.scrub import clip
from review_operator.config import (
    LANGUAGE_PATTERN,
    REPO_GLOB_MAX_CHARS,
    REPO_GLOBS_MAX,
    REPO_INSTRUCTIONS_MAX_CHARS,
)

REPO_CONFIG_PATH = ".github/review-operator.yaml"
MAX_CONFIG_BYTES = 64 * 1024
MAX_PROBLEMS = 20
# Nesting deeper than any valid file needs; also keeps PyYAML's recursive composer far from its limit.
_MAX_DEPTH = 16
DEFAULT_SKIP_AUTHORS = ("*[bot]", "dependabot[bot]", "renovate[bot]")

Glob = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=REPO_GLOB_MAX_CHARS)]
LoginGlob = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
RequestChangesSeverity = Literal["critical", "high", "medium", "low", "nit", "never"]


class ReviewMode(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


def _f(description: str, **kwargs: Any) -> Any:
    return Field(description=description, **kwargs)


class RepoConfig(BaseModel):
    """`.github/review-operator.yaml`, read from the pull request's base branch. Every key is optional."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,  # Python code may use field names; YAML is validated by alias only
        extra="forbid",
        frozen=True,
        title="review-operator repository configuration",
    )

    instructions: Annotated[
        str,
        _f(
            "Review instructions, appended to the reviewer's system prompt as this repository's policy "
            "(what matters here, conventions, what to ignore).",
            max_length=REPO_INSTRUCTIONS_MAX_CHARS,
        ),
    ] = ""
    include: Annotated[
        list[Glob],
        _f(
            "Path globs of the files to review; empty: every file. `*` and `?` stay within one directory, "
            "`**` spans directories, a glob without `/` matches the file name anywhere.",
            max_length=REPO_GLOBS_MAX,
        ),
    ] = []
    ignore: Annotated[
        list[Glob],
        _f(
            "Path globs of files never reviewed (same rules as `include`; ignore wins). Lockfiles, "
            "vendored, generated and binary files are always skipped.",
            max_length=REPO_GLOBS_MAX,
        ),
    ] = []
    mode: Annotated[
        ReviewMode,
        _f("`auto`: review every new head automatically; `manual`: review only on a `/review` comment."),
    ] = ReviewMode.AUTO
    skip_authors: Annotated[
        list[LoginGlob],
        _f(
            "Pull request authors never reviewed automatically (a `/review` comment still works): "
            "whole logins, case-insensitive, `*` and `?` wildcards, `[` is literal.",
            max_length=REPO_GLOBS_MAX,
        ),
    ] = list(DEFAULT_SKIP_AUTHORS)
    model: Annotated[
        str | None,
        _f(
            "Claude model; must be one the cluster allows (else the cluster's default is used).",
            pattern=MODEL_PATTERN,
        ),
    ] = None
    max_budget_usd: Annotated[
        float | None,
        _f("Spend limit of one review in USD; capped by the cluster's maximum.", gt=0, le=100),
    ] = None
    max_turns: Annotated[
        int | None, _f("Agent turn limit; capped by the cluster's maximum.", ge=1, le=200)
    ] = None
    timeout_seconds: Annotated[
        int | None,
        _f(
            "Wall-clock limit of the agent run; may shorten the cluster's, never lengthen it.", ge=30, le=7200
        ),
    ] = None
    request_changes_severity: Annotated[
        RequestChangesSeverity | None,
        _f(
            "Lowest finding severity that makes the review REQUEST_CHANGES (when the cluster posts "
            "REQUEST_CHANGES reviews at all); `never`: always a comment."
        ),
    ] = None
    language: Annotated[
        str | None,
        _f(
            'Language of the summary and the findings, e.g. "German" or "pt-BR" (code stays as it is).',
            pattern=LANGUAGE_PATTERN,
        ),
    ] = None


_KEYS = tuple(f.alias or name for name, f in RepoConfig.model_fields.items())


def _where(line: int | None) -> str:
    return f"`{REPO_CONFIG_PATH}` line {line}" if line else f"`{REPO_CONFIG_PATH}`"


def _key_lines(node: yaml.Node | None) -> dict[str, int]:
    """1-based line of each top-level key of the composed document."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}


def _check_events(text: str) -> str | None:
    """Rejects anchors/aliases (a few lines can expand into millions of nodes) and deep nesting."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            return f"`{REPO_CONFIG_PATH}`: anchors and aliases (`&`, `*`) are not supported"
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > _MAX_DEPTH:
                return f"`{REPO_CONFIG_PATH}`: nested deeper than {_MAX_DEPTH} levels"
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


def _load(text: str) -> tuple[Any, dict[str, int], str | None]:
    """(data, key lines, problem). PyYAML's safe loader only: no tags that build Python objects."""
    try:
        problem = _check_events(text)
        if problem is not None:
            return None, {}, problem
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f" line {mark.line + 1}" if mark is not None else ""
        detail = _plain(str(exc.problem or exc.context), 200)
        return None, {}, f"`{REPO_CONFIG_PATH}`{line}: not valid YAML (`{detail}`)"
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        return None, {}, f"`{REPO_CONFIG_PATH}`: not valid YAML ({type(exc).__name__})"
    return data, _key_lines(node), None


def _message(error: Any, key: str) -> str:
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(key, _KEYS, n=1, cutoff=0.6)
        hint = f" (did you mean `{close[0]}`?)" if close else f" (known keys: {', '.join(_KEYS)})"
        return f"unknown key{hint}"
    msg = str(error["msg"])
    msg = msg[:1].lower() + msg[1:]
    if isinstance(error.get("input"), bool) and error["type"] == "string_type":
        msg += " (quote it: YAML reads yes, no, on and off as booleans)"
    return msg


def _plain(text: str, limit: int) -> str:
    """File-supplied text (a key, a YAML error) made safe to quote in Markdown: one line, no backtick
    that could end the code span it is shown in (outside one, `@team` would notify people)."""
    return " ".join(text.replace("`", "'").split())[:limit]


def _loc(loc: tuple[Any, ...]) -> str:
    out = _plain(str(loc[0]), 64)
    for part in loc[1:]:
        out += f"[{part}]" if isinstance(part, int) else f".{_plain(str(part), 64)}"
    return out


def parse_repo_config(text: str | None) -> tuple[RepoConfig, list[str]]:
    """The repository's configuration and what was wrong with it. Never raises.

    None (no file) or an empty file: the defaults, no problems. Unreadable YAML, a document that is
    not a mapping or a file over `MAX_CONFIG_BYTES`: the defaults and one problem. Invalid keys: their
    defaults, one problem each (naming the key and its line), the valid keys kept.
    """
    if text is None:
        return RepoConfig(), []
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_CONFIG_BYTES:
        return RepoConfig(), [
            f"`{REPO_CONFIG_PATH}`: {size} bytes, over the {MAX_CONFIG_BYTES // 1024} KiB limit; ignored"
        ]
    data, lines, problem = _load(text)
    if problem is not None:
        return RepoConfig(), [f"{problem}; using the defaults"]
    if data is None:
        return RepoConfig(), []
    if not isinstance(data, dict):
        kind = type(data).__name__
        return RepoConfig(), [
            f"`{REPO_CONFIG_PATH}`: expected a mapping of keys, got a {kind}; using the defaults"
        ]
    # A key without a value (`model:`) means "the default", as in most YAML-configured tools.
    values = {k: v for k, v in data.items() if v is not None}
    found: list[tuple[int, str]] = []
    for _ in range(2):
        try:
            config = RepoConfig.model_validate(values, by_name=False)
        except ValidationError as exc:
            bad: set[Any] = set()
            for error in exc.errors():
                loc = error["loc"] or ("<document>",)
                bad.add(loc[0])
                line = lines.get(str(loc[0]), 0)
                message = f"{_where(line)}: `{_loc(loc)}`: {_message(error, str(loc[0]))}; using the default"
                found.append((line, message))
            # The invalid keys fall back to their defaults; validating the rest again keeps the valid ones.
            values = {k: v for k, v in values.items() if k not in bad}
        else:
            return config, [m for _, m in sorted(found, key=lambda p: p[0])][:MAX_PROBLEMS]
    # Unreachable unless pydantic reports a key only once the others are gone; defaults, to be safe.
    kept = [m for _, m in found][: MAX_PROBLEMS - 1]
    return RepoConfig(), [*kept, f"`{REPO_CONFIG_PATH}`: using the defaults"]


def skips_author(config: RepoConfig, login: str) -> bool:
    """True when automatic reviews skip pull requests by `login` (glob rules in `api.globs`)."""
    return login_matches_any(config.skip_authors, login)


def paths_included(config: RepoConfig, path: str) -> bool:
    """True when the file at `path` (relative to the repository root) is reviewed."""
    return path_selected(path, config.include, config.ignore)


def automatic_review_skip_reason(config: RepoConfig, author: str) -> str | None:
    """Why an automatic review (a push, an opened PR) does not run, or None when it does.

    An explicit `/review` comment ignores both settings: it is the manual trigger they leave open."""
    if config.mode is ReviewMode.MANUAL:
        return f"`{REPO_CONFIG_PATH}` sets `mode: manual`: comment `/review` to request a review"
    if skips_author(config, author):
        return f"`{REPO_CONFIG_PATH}` skips pull requests by {author} (`skipAuthors`)"
    return None


def format_problems(problems: list[str]) -> str:
    """A Markdown note for the review summary; empty when there is nothing to say."""
    if not problems:
        return ""
    lines = "\n".join(f"- {p}" for p in problems[:MAX_PROBLEMS])
    return f"**Repository configuration problems** (the review ran with defaults for these):\n{lines}"


SUMMARY_LIMIT = 8000
_NOTE_LIMIT = 2500


def with_config_problems(result: ReviewResult, problems: list[str]) -> ReviewResult:
    """`result` whose summary ends with the configuration note (unchanged without problems).

    The note gets at most a third of the summary's room; the summary keeps the rest. Scrubbing stays
    the poster's job, as for every summary."""
    note = clip(format_problems(problems), _NOTE_LIMIT)
    if not note:
        return result
    summary = clip(result.summary.rstrip(), SUMMARY_LIMIT - len(note) - 2)
    return result.model_copy(update={"summary": f"{summary}\n\n{note}".lstrip()})


def _untitled(node: Any) -> Any:
    """Drops pydantic's generated titles ("Skipauthors"): the descriptions say it better."""
    if isinstance(node, dict):
        return {k: _untitled(v) for k, v in node.items() if k != "title"}
    if isinstance(node, list):
        return [_untitled(v) for v in node]
    return node


def repo_config_schema() -> dict[str, Any]:
    """The JSON schema of the file (by alias), as committed in `config/repo-config.schema.json`."""
    schema = RepoConfig.model_json_schema(by_alias=True, mode="validation")
    title = schema["title"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": "GENERATED by `review-operator repo-config-schema` from "
        "operator/review_operator/api/repo_config.py. Do not edit; regenerate with: make generate",
        "title": title,
        **_untitled(schema),
    }


def render_repo_config_schema() -> str:
    """The committed file's exact text."""
    return json.dumps(repo_config_schema(), indent=2, ensure_ascii=False) + "\n"
