"""The two glob dialects of the repository configuration: file paths and GitHub logins. Pure functions.

Paths (`include` / `ignore`), relative to the repository root, case-sensitive:
- `*` matches any run of characters except `/`, `?` one character except `/`;
- `**` as a whole segment matches any number of segments, none included (`**/test_*.py`, `docs/**`,
  `src/**/gen/*.go`);
- a pattern without `/` matches the file name in any directory (`*.md` matches `docs/guide.md`), as
  in `.gitignore`; a pattern with a `/` is anchored at the root (a leading `/` is allowed);
- a trailing `/` means everything below that directory (`vendor/` is `vendor/**`).

Logins (`skipAuthors`): the whole login, case-insensitive (GitHub logins are), `*` and `?` only.

In both, every other character is literal: `[` starts no character class, so `*[bot]` means "ends
with `[bot]`" (in `fnmatch` it would mean "ends with b, o or t").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable


def _segment(segment: str) -> str:
    return "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in segment)


@functools.lru_cache(maxsize=1024)
def path_pattern(glob: str) -> re.Pattern[str]:
    """The compiled form of one path glob (see the module docstring)."""
    pattern = glob.strip()
    if pattern.endswith("/"):
        pattern += "**"
    anchored = "/" in pattern.rstrip("/")
    pattern = pattern.lstrip("/")
    if not anchored:
        pattern = "**/" + pattern
    parts = pattern.split("/")
    regex = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            # Any number of whole segments; at the end it must still match at least one (a file).
            regex += ".*" if last else "(?:[^/]*/)*"
        else:
            regex += _segment(part) + ("" if last else "/")
    return re.compile(regex)


def path_matches(glob: str, path: str) -> bool:
    return path_pattern(glob).fullmatch(path.lstrip("/")) is not None


def path_matches_any(globs: Iterable[str], path: str) -> bool:
    return any(path_matches(g, path) for g in globs)


def path_selected(path: str, include: Iterable[str], ignore: Iterable[str]) -> bool:
    """True when `path` is reviewed: it matches an include glob (or there are none) and no ignore glob.

    Ignore wins over include."""
    includes = list(include)
    if includes and not path_matches_any(includes, path):
        return False
    return not path_matches_any(ignore, path)


@functools.lru_cache(maxsize=256)
def _login_pattern(glob: str) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob.strip())
    return re.compile(regex, re.IGNORECASE)


def login_matches_any(globs: Iterable[str], login: str) -> bool:
    return any(_login_pattern(g).fullmatch(login) is not None for g in globs)
