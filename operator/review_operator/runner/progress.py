"""Progress as JSON lines on stdout, every line scrubbed of secrets before it is written."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from review_operator.api.scrub import Scrubber


class Progress:
    """Callable emitter: `progress({"event": "turn", ...})` writes one scrubbed JSON line."""

    def __init__(self, scrubber: Scrubber, stream: TextIO | None = None) -> None:
        self._scrubber = scrubber
        self._stream = stream or sys.stdout

    def __call__(self, event: dict[str, Any]) -> None:
        line = json.dumps({"ts": round(time.time(), 3), **event}, ensure_ascii=False, default=str)
        self._stream.write(self._scrubber.scrub(line) + "\n")
        self._stream.flush()

    @property
    def scrubber(self) -> Scrubber:
        """The scrubber of this stream; use `scrubber.clip` for any field that is cut to a length."""
        return self._scrubber
