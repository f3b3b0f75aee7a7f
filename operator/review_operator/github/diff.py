"""Pure diff arithmetic: which (path, side, line) triples GitHub accepts for an inline review comment.

GitHub rejects a whole review with 422 when one comment targets a line outside the diff, so the
poster keeps only findings on lines this module says are commentable and moves the rest to the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class CommentableLines:
    """Lines of one file that appear in the diff: RIGHT = new file lines, LEFT = old file lines."""

    right: frozenset[int]
    left: frozenset[int]

    def contains(self, side: str, line: int) -> bool:
        return line in (self.left if side == "LEFT" else self.right)


def commentable_lines(patch: str | None) -> CommentableLines:
    """Parses one file's unified-diff `patch` (as in GET /pulls/{n}/files) into commentable lines.

    Added lines are RIGHT, removed lines LEFT, context lines both. A file without a patch (binary,
    too large) has no commentable line.
    """
    right: set[int] = set()
    left: set[int] = set()
    old = new = 0
    in_hunk = False
    for raw in (patch or "").splitlines():
        header = _HUNK.match(raw)
        if header:
            old, new = int(header.group(1)), int(header.group(3))
            in_hunk = True
            continue
        if not in_hunk or raw.startswith("\\"):
            continue
        if raw.startswith("+"):
            right.add(new)
            new += 1
        elif raw.startswith("-"):
            left.add(old)
            old += 1
        else:
            right.add(new)
            left.add(old)
            old += 1
            new += 1
    return CommentableLines(frozenset(right), frozenset(left))


def diff_index(files: Iterable[tuple[str, str | None]]) -> dict[str, CommentableLines]:
    """Maps each changed file's path to its commentable lines, from (filename, patch) pairs."""
    return {path: commentable_lines(patch) for path, patch in files}


def is_commentable(index: Mapping[str, CommentableLines], path: str, side: str, line: int) -> bool:
    lines = index.get(path)
    return lines is not None and lines.contains(side, line)
