"""The checkout's estimate of what a tree costs on disk, from `git ls-tree -r -l -z` output."""

from __future__ import annotations

from review_operator.github.checkout import BLOCK, INDEX_ENTRY_BYTES, tree_disk_bytes

SHA = "a" * 40


def entry(mode: str, kind: str, size: str, path: str) -> bytes:
    return f"{mode} {kind} {SHA} {size:>7}\t{path}".encode()


def test_blobs_are_charged_in_whole_blocks_and_submodules_cost_nothing() -> None:
    listing = (
        b"\0".join(
            [
                entry("100644", "blob", "0", "empty"),
                entry("100644", "blob", str(BLOCK + 1), "a b/with\ttab"),
                entry("120000", "blob", "7", "link"),
                entry("160000", "commit", "-", "vendor/sub"),
            ]
        )
        + b"\0"
    )
    total, files = tree_disk_bytes(listing)
    assert files == 3
    assert total == (1 + 2 + 1) * BLOCK + 3 * INDEX_ENTRY_BYTES


def test_a_million_empty_files_are_not_free() -> None:
    listing = b"\0".join(entry("100644", "blob", "0", f"f{i}") for i in range(10**6))
    total, files = tree_disk_bytes(listing)
    assert files == 10**6 and total > 4 * 10**9
