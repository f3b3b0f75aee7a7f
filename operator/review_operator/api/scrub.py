"""Secret scrubbing for every text that leaves a review pod or gets posted to GitHub.

Two layers, because either alone misses something: the exact values of credentials we know about
(the runner's own environment, mounted secret files) and the shapes of well-known token formats
(a model can echo a token it found anywhere, even one we were never told about).

    scrubber = Scrubber(secret_values_from_env(os.environ))
    safe = scrubber.scrub(text)          # known values and token shapes
    safe = scrub_token_shapes(text)      # token shapes only
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

REDACTED = "[REDACTED]"

# Shorter values would redact ordinary words ("true", port numbers) and destroy the review text.
MIN_SECRET_LENGTH = 8

_TOKEN_SHAPES = re.compile(
    "|".join(
        (
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            r"sk-ant-[A-Za-z0-9_\-]{8,}",
            r"\bgh[pousr]_[A-Za-z0-9]{20,}",
            r"\bgithub_pat_[A-Za-z0-9_]{20,}",
            r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
            # A JWT (GitHub App assertions, cloud identity tokens): three base64url segments.
            r"\beyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",
        )
    )
)

# Names whose values are credentials. Matching by name (not by value shape) catches opaque keys
# such as gateway tokens or Vertex/Bedrock secrets that follow no public format.
_SECRET_NAME = re.compile(
    r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|SESSION|PRIVATE|COOKIE)", re.IGNORECASE
)


def scrub_token_shapes(text: str) -> str:
    """Replaces anything shaped like a well-known credential with `[REDACTED]`."""
    return _TOKEN_SHAPES.sub(REDACTED, text)


def is_secret_name(name: str) -> bool:
    """True when an environment variable's name says its value is a credential."""
    return bool(_SECRET_NAME.search(name))


def secret_values_from_env(environ: Mapping[str, str]) -> list[str]:
    """The values of credential-named variables, long enough to redact safely."""
    return [v for k, v in environ.items() if is_secret_name(k) and len(v.strip()) >= MIN_SECRET_LENGTH]


class Scrubber:
    """Redacts known secret values (and their common encodings) and token shapes from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values: set[str] = set()
        for raw in secrets:
            value = raw.strip()
            if len(value) < MIN_SECRET_LENGTH:
                continue
            values.add(value)
            # A secret file often ends up JSON-escaped in logs; redact that spelling too.
            values.add(json.dumps(value)[1:-1])
        # Longest first, so a secret containing another is replaced whole.
        ordered = sorted(values, key=len, reverse=True)
        self._values = tuple(ordered)
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    def add(self, secrets: Iterable[str]) -> Scrubber:
        """A new scrubber that also redacts `secrets`."""
        return Scrubber([*self._values, *secrets])

    def scrub(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        return scrub_token_shapes(text)
