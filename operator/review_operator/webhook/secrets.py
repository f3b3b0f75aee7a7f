"""The accepted webhook secrets, with the secret file re-read whenever it changes.

A mounted Secret is updated in place: the kubelet writes the new keys into a fresh timestamped
directory and atomically swaps the `..data` symlink to it, so the path stays the same while the
file behind it is replaced. The file is therefore opened by path (following the symlinks) and
re-read when the identity of what the path leads to (device, inode, size, modification and change
times) differs from the last read, which also covers a file rewritten in place. One `stat` per
delivery costs microseconds and makes a rotation take effect at the next delivery.

A file that cannot be read or holds no secret keeps the previous secrets (with a warning that
names the file, never a value): a Secret briefly missing or emptied by mistake must not turn every
delivery away, and GitHub never redelivers by itself.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from review_operator.config import WebhookSettings, split_secrets

log = logging.getLogger("review_operator.webhook")

_Identity = tuple[int, int, int, int, int]


def _identity(stat: os.stat_result) -> _Identity:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


class SecretSource:
    """`current()` is the list of accepted secrets now: the environment's, then the file's."""

    def __init__(self, settings: WebhookSettings) -> None:
        self._fixed = settings.environment_secrets()
        self._path: Path | None = settings.webhook_secret_file
        self._seen: _Identity | None = None
        self._from_file: list[bytes] = []
        self._failing = False
        if self._path is not None:
            self._from_file = self._read_now(self._path, strict=True)

    def current(self) -> list[bytes]:
        if self._path is not None:
            self._refresh(self._path)
        return [*self._fixed, *self._from_file]

    def _refresh(self, path: Path) -> None:
        try:
            changed = _identity(path.stat()) != self._seen
        except OSError as exc:
            self._warn(path, type(exc).__name__)
            return
        if changed:
            try:
                self._from_file = self._read_now(path, strict=False) or self._from_file
            except OSError as exc:
                self._warn(path, type(exc).__name__)

    def _read_now(self, path: Path, *, strict: bool) -> list[bytes]:
        """Reads the file and records the identity of what was read (empty list: keep the old ones)."""
        with path.open("rb") as handle:
            identity = _identity(os.fstat(handle.fileno()))
            text = handle.read().decode("utf-8", "replace")
        self._seen = identity
        secrets = split_secrets(text)
        if not secrets and not strict:
            self._warn(path, "no secret in the file")
            return []
        if self._failing:
            log.info("webhook secret file read again", extra={"fields": {"path": str(path)}})
        self._failing = False
        return secrets

    def _warn(self, path: Path, why: str) -> None:
        if not self._failing:
            log.warning(
                "cannot re-read the webhook secret file; keeping the previous secrets",
                extra={"fields": {"path": str(path), "error": why}},
            )
        self._failing = True
