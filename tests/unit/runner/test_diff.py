"""Diff parsing (commentable lines per side) and the choice of reviewed files."""

from __future__ import annotations

from review_operator.runner.diff import FileDiff, parse_unified_diff, select_files, skip_reason

DIFF = "".join(
    line + "\n"
    for line in (
        "diff --git a/app.py b/app.py",
        "index 1111111..2222222 100644",
        "--- a/app.py",
        "+++ b/app.py",
        "@@ -1,4 +1,5 @@",
        " import os",
        "-import sys",
        "+import pickle",
        "+import json",
        " ",
        " def main():",
        "@@ -20,2 +21,2 @@ def main():",
        "-    return 1",
        "+    return 2",
        "     # end",
        "diff --git a/old.txt b/old.txt",
        "deleted file mode 100644",
        "--- a/old.txt",
        "+++ /dev/null",
        "@@ -1,2 +0,0 @@",
        "-a",
        "-b",
        "diff --git a/logo.png b/logo.png",
        "new file mode 100644",
        "Binary files /dev/null and b/logo.png differ",
        "diff --git a/src/a.py b/src/b.py",
        "similarity index 100%",
        "rename from src/a.py",
        "rename to src/b.py",
    )
)


def test_parser_records_commentable_lines_on_both_sides() -> None:
    app = parse_unified_diff(DIFF)[0]
    assert app.path == "app.py"
    assert app.right == {1, 2, 3, 4, 5, 21, 22}
    assert app.left == {1, 2, 3, 4, 20, 21}
    assert app.changed_lines == 5


def test_deleted_file_has_only_left_lines() -> None:
    old = parse_unified_diff(DIFF)[1]
    assert old.path == "old.txt"
    assert old.right == frozenset() and old.left == {1, 2}


def test_binary_and_renamed_files_are_recognised() -> None:
    files = parse_unified_diff(DIFF)
    assert files[2].binary and files[2].path == "logo.png"
    assert files[3].path == "src/b.py" and files[3].old_path == "src/a.py" and files[3].changed_lines == 0


def test_patch_sections_concatenate_back_to_the_diff() -> None:
    assert "".join(f.patch for f in parse_unified_diff(DIFF)) == DIFF


def test_lockfiles_generated_and_vendored_files_are_skipped() -> None:
    assert skip_reason("web/package-lock.json") == "lockfile"
    assert skip_reason("Cargo.lock") == "lockfile"
    assert skip_reason("go.sum") == "lockfile"
    assert skip_reason("vendor/github.com/x/y.go") == "vendored"
    assert skip_reason("ui/node_modules/a/index.js") == "vendored"
    assert skip_reason("dist/app.min.js") == "generated"
    assert skip_reason("proto/api_pb2.py") == "generated"
    assert skip_reason("docs/big.csv", ["docs/*"]) == "excluded"
    assert skip_reason("src/lockfile.py") is None


def _file(path: str, lines: int) -> FileDiff:
    return FileDiff(path=path, old_path=path, patch=f"diff --git a/{path} b/{path}\n", changed_lines=lines)


def test_caps_skip_files_in_diff_order_and_say_why() -> None:
    files = [_file("a.py", 10), _file("yarn.lock", 1), _file("b.py", 50), _file("c.py", 5), _file("d.py", 1)]
    sel = select_files(files, max_files=2, max_lines=40, extra_skip_globs=())
    assert [f.path for f in sel.reviewed] == ["a.py", "c.py"]
    assert sel.skipped == [("yarn.lock", "lockfile"), ("b.py", "line cap"), ("d.py", "file cap")]
    assert set(sel.commentable) == {"a.py", "c.py"}
