"""The tool guard's pure decision: confinement to the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from review_operator.runner.guard import AuditTrail, Roots, check_tool_call, make_hooks


@pytest.fixture
def roots(tmp_path: Path) -> Roots:
    checkout = tmp_path / "repo"
    (checkout / "src").mkdir(parents=True)
    (checkout / "src" / "a.py").write_text("x = 1\n")
    (checkout / ".git").mkdir()
    (checkout / ".git" / "config").write_text("[http] extraheader = AUTHORIZATION: basic x\n")
    (tmp_path / "outside.txt").write_text("secret\n")
    (checkout / "link.txt").symlink_to(tmp_path / "outside.txt")
    (checkout / "linkdir").symlink_to(tmp_path)
    context = tmp_path / "context"
    context.mkdir()
    return Roots.resolved(checkout, [context], [Path("/proc"), tmp_path / "repo" / "src" / "private"])


def allowed(tool: str, roots: Roots, **tool_input: object) -> bool:
    return check_tool_call(tool, dict(tool_input), roots).allowed


def test_reads_inside_the_checkout_are_allowed(roots: Roots) -> None:
    assert allowed("Read", roots, file_path="src/a.py")
    assert allowed("Read", roots, file_path=str(roots.checkout / "src" / "a.py"))
    assert allowed("Grep", roots, pattern="x")
    assert allowed("Glob", roots, pattern="**/*.py")
    assert allowed("Read", roots, file_path=str(roots.extra[0] / "pr.diff"))


def test_paths_escaping_the_checkout_are_denied(roots: Roots) -> None:
    assert not allowed("Read", roots, file_path="../outside.txt")
    assert not allowed("Read", roots, file_path="src/../../outside.txt")
    assert not allowed("Read", roots, file_path="/etc/passwd")
    assert not allowed("Read", roots, file_path="~/.ssh/id_rsa")
    assert not allowed("Grep", roots, pattern="x", path="/")
    assert not allowed("Glob", roots, pattern="../*")
    assert not allowed("Glob", roots, pattern="/var/run/secrets/**")
    assert not allowed("Grep", roots, pattern="x", glob="../../**")


def test_symlinks_are_judged_by_their_target(roots: Roots) -> None:
    assert not allowed("Read", roots, file_path="link.txt")
    assert not allowed("Read", roots, file_path="linkdir/outside.txt")
    assert not allowed("Grep", roots, pattern="secret", path="linkdir")


def test_proc_git_dir_and_denied_paths_are_refused(roots: Roots) -> None:
    assert not allowed("Read", roots, file_path="/proc/self/environ")
    assert check_tool_call("Read", {"file_path": ".git/config"}, roots).reason.startswith("the .git")
    assert not allowed("Read", roots, file_path="src/private/key")


def test_every_other_tool_is_denied(roots: Roots) -> None:
    for tool in ("Bash", "Write", "Edit", "WebFetch", "Task", "mcp__x__y"):
        assert not allowed(tool, roots, file_path="src/a.py")


async def test_hooks_deny_and_record_the_audit_trail(roots: Roots) -> None:
    audit = AuditTrail()
    events: list[dict[str, object]] = []
    pre, post = make_hooks(roots, audit, events.append)
    ok = await pre({"tool_name": "Read", "tool_input": {"file_path": "src/a.py"}}, "t1", {"signal": None})
    bad = await pre(
        {"tool_name": "Read", "tool_input": {"file_path": "/proc/1/environ"}}, "t2", {"signal": None}
    )
    await post({"tool_name": "Read", "tool_input": {"file_path": "src/a.py"}}, "t1", {"signal": None})
    assert ok["hookSpecificOutput"]["permissionDecision"] == "allow"
    assert bad["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert audit.denied == 1 and audit.used == {"Read": 1}
    assert [e["allowed"] for e in events] == [True, False]
