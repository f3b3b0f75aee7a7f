"""Pure diff arithmetic: which lines can carry an inline comment."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from review_operator.github.diff import commentable_lines, diff_index, is_commentable
from tests.github_double.git import diff_lines

PATCH = """@@ -8,6 +8,6 @@ def f():
 line 8
 line 9
-line 10
+changed 10
 line 11
 line 12
 line 13
@@ -28,6 +28,7 @@ def g():
 line 28
 line 29
 line 30
+added after 30
 line 31
 line 32
 line 33
\\ No newline at end of file"""


def test_added_lines_are_right_removed_lines_left_context_both() -> None:
    lines = commentable_lines(PATCH)
    assert lines.contains("RIGHT", 10) and lines.contains("LEFT", 10) is not False
    assert lines.contains("LEFT", 10)
    assert lines.contains("RIGHT", 31)  # the added line
    assert lines.contains("LEFT", 30) and lines.contains("RIGHT", 30)
    assert lines.right == frozenset({*range(8, 14), *range(28, 35)})
    assert lines.left == frozenset({*range(8, 14), *range(28, 34)})


def test_lines_outside_hunks_and_files_without_patch_are_not_commentable() -> None:
    index = diff_index([("app.py", PATCH), ("image.png", None)])
    assert not is_commentable(index, "app.py", "RIGHT", 1)
    assert not is_commentable(index, "app.py", "RIGHT", 20)
    assert not is_commentable(index, "image.png", "RIGHT", 1)
    assert not is_commentable(index, "missing.py", "RIGHT", 10)
    assert is_commentable(index, "app.py", "RIGHT", 10)


def test_new_file_hunk_without_counts() -> None:
    lines = commentable_lines("@@ -0,0 +1 @@\n+only line")
    assert lines.right == frozenset({1}) and lines.left == frozenset()


_line = st.tuples(st.sampled_from(" +-"), st.text("abc", max_size=3))


@given(st.lists(st.lists(_line, min_size=1, max_size=12), min_size=1, max_size=4), st.integers(1, 50))
def test_line_walk_agrees_with_hunk_ranges(hunks: list[list[tuple[str, str]]], start: int) -> None:
    """The product's line walk and the double's hunk-range method give the same lines."""
    parts = []
    old = new = start
    for hunk in hunks:
        old_n = sum(1 for kind, _ in hunk if kind != "+")
        new_n = sum(1 for kind, _ in hunk if kind != "-")
        parts.append(f"@@ -{old},{old_n} +{new},{new_n} @@")
        parts += [kind + text for kind, text in hunk]
        old, new = old + old_n + 5, new + new_n + 5
    patch = "\n".join(parts)
    right, left = diff_lines(patch)
    lines = commentable_lines(patch)
    assert (set(lines.right), set(lines.left)) == (right, left)
