"""Unified-diff parsing and the choice of what gets reviewed.

Pure functions. The parser records, per file, which lines GitHub accepts review comments on
(RIGHT: added and context lines of the new file; LEFT: deleted and context lines of the old file),
because one comment outside a hunk makes GitHub reject the whole review with 422.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from pathlib import PurePosixPath

from review_operator.api.globs import path_selected

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")

LOCKFILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "poetry.lock",
        "pdm.lock",
        "uv.lock",
        "pipfile.lock",
        "cargo.lock",
        "gemfile.lock",
        "composer.lock",
        "go.sum",
        "mix.lock",
        "packages.lock.json",
        "podfile.lock",
        "flake.lock",
    }
)
GENERATED_GLOBS = (
    "*.min.js",
    "*.min.css",
    "*.map",
    "*_pb2.py",
    "*_pb2_grpc.py",
    "*.pb.go",
    "*.pb.*.go",
    "*_generated.*",
    "*.generated.*",
    "*.g.dart",
    "*.snap",
)
# Skip reasons of the repository's `.github/review-operator.yaml` (`ignore` / `include`).
IGNORED_BY_REPO = "ignored by repository config"
NOT_INCLUDED_BY_REPO = "not in repository config's include"

VENDORED_DIRS = frozenset(
    {"vendor", "node_modules", "third_party", "third-party", "_vendor", "bower_components"}
)


@dataclass(frozen=True)
class FileDiff:
    """One file's section of a unified diff."""

    path: str
    old_path: str
    patch: str
    binary: bool = False
    right: frozenset[int] = frozenset()
    left: frozenset[int] = frozenset()
    changed_lines: int = 0


@dataclass(frozen=True)
class Selection:
    """What the agent reviews, and what it does not (with the reason, for the result)."""

    reviewed: list[FileDiff] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def commentable(self) -> dict[str, tuple[frozenset[int], frozenset[int]]]:
        return {f.path: (f.right, f.left) for f in self.reviewed}

    @property
    def patch(self) -> str:
        return "".join(f.patch for f in self.reviewed)


def right_side_only(selection: Selection) -> Selection:
    """The selection with no LEFT line commentable: in an incremental review's delta a deleted line is
    numbered as in the earlier reviewed commit, which is not the base GitHub numbers LEFT lines by."""
    reviewed = [replace(f, left=frozenset()) for f in selection.reviewed]
    return Selection(reviewed=reviewed, skipped=list(selection.skipped))


def _strip_prefix(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith('"') and raw.endswith('"'):
        raw = raw[1:-1]
    if raw == "/dev/null":
        return raw
    return raw[2:] if raw[:2] in ("a/", "b/") else raw


def _parse_section(lines: list[str]) -> FileDiff:
    header = lines[0]
    # `diff --git a/x b/x`: the fallback when ---/+++ are absent (binary, pure renames, mode changes).
    old_path = new_path = ""
    if " b/" in header:
        left_part, _, right_part = header.partition(" b/")
        old_path, new_path = _strip_prefix(left_part[len("diff --git ") :]), right_part
    binary = False
    right: set[int] = set()
    left: set[int] = set()
    changed = 0
    old_no = new_no = 0
    in_hunk = False
    for line in lines[1:]:
        if not in_hunk and line.startswith("--- "):
            old_path = _strip_prefix(line[4:]) if line[4:].strip() != "/dev/null" else old_path
        elif not in_hunk and line.startswith("+++ "):
            target = line[4:].strip()
            new_path = _strip_prefix(target) if target != "/dev/null" else new_path
        elif line.startswith("rename to "):
            new_path = line[len("rename to ") :]
        elif line.startswith("Binary files ") or line.startswith("GIT binary patch"):
            binary = True
        elif m := _HUNK.match(line):
            in_hunk = True
            old_no, new_no = int(m.group(1)), int(m.group(3))
        elif in_hunk and line.startswith("+"):
            right.add(new_no)
            new_no += 1
            changed += 1
        elif in_hunk and line.startswith("-"):
            left.add(old_no)
            old_no += 1
            changed += 1
        elif in_hunk and line.startswith(" "):
            right.add(new_no)
            left.add(old_no)
            new_no += 1
            old_no += 1
    return FileDiff(
        path=new_path or old_path,
        old_path=old_path or new_path,
        patch="".join(line + "\n" for line in lines),
        binary=binary,
        right=frozenset(right),
        left=frozenset(left),
        changed_lines=changed,
    )


def parse_unified_diff(text: str) -> list[FileDiff]:
    """Splits `git diff` output into per-file sections with their commentable lines."""
    sections: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("diff --git "):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
    return [_parse_section(s) for s in sections]


def skip_reason(path: str, extra_globs: Iterable[str] = ()) -> str | None:
    """Why a file is not worth the model's budget, or None when it should be reviewed."""
    p = PurePosixPath(path)
    name = p.name.lower()
    if name in LOCKFILES or name.endswith(".lock"):
        return "lockfile"
    if any(part.lower() in VENDORED_DIRS for part in p.parts[:-1]):
        return "vendored"
    if any(fnmatch(name, g) for g in GENERATED_GLOBS):
        return "generated"
    if any(fnmatch(path, g) for g in extra_globs):
        return "excluded"
    return None


def repo_skip_reason(path: str, include: Iterable[str], ignore: Iterable[str]) -> str | None:
    """Why the repository's own configuration leaves `path` out, or None when it does not."""
    if path_selected(path, (), ignore):
        return None if path_selected(path, include, ()) else NOT_INCLUDED_BY_REPO
    return IGNORED_BY_REPO


def select_files(
    files: Iterable[FileDiff],
    *,
    max_files: int,
    max_lines: int,
    extra_skip_globs: Iterable[str] = (),
    include_globs: Iterable[str] = (),
    ignore_globs: Iterable[str] = (),
) -> Selection:
    """Keeps reviewable files in diff order until the file or changed-line cap is reached.

    The repository's include/ignore globs are applied first, so files it excludes use up no cap."""
    globs = tuple(extra_skip_globs)
    include, ignore = tuple(include_globs), tuple(ignore_globs)
    reviewed: list[FileDiff] = []
    skipped: list[tuple[str, str]] = []
    lines = 0
    for f in files:
        reason = repo_skip_reason(f.path, include, ignore)
        if reason is None:
            reason = "binary" if f.binary else skip_reason(f.path, globs)
        if reason is None and len(reviewed) >= max_files:
            reason = "file cap"
        if reason is None and lines + f.changed_lines > max_lines:
            reason = "line cap"
        if reason is not None:
            skipped.append((f.path, reason))
            continue
        reviewed.append(f)
        lines += f.changed_lines
    return Selection(reviewed=reviewed, skipped=skipped)
