"""Secret scrubbing for every text that leaves a review pod or gets posted to GitHub.

Two layers, because either alone misses something: the exact values of credentials we know about
(the runner's own environment, mounted secret files) and the shapes of well-known token formats
(a model can echo a token it found anywhere, even one we were never told about).

    scrubber = Scrubber(secret_values_from_env(os.environ))
    safe = scrubber.scrub(text)          # known values and token shapes
    safe = scrubber.clip(text, 1000)     # scrubbed, THEN cut to a length limit
    safe = scrub_token_shapes(text)      # token shapes only

Order matters: scrub first, truncate after. A limit that cuts through a secret leaves a prefix that no
longer looks like the secret, so every boundary with a length limit goes through `clip`. Known values
are matched case-insensitively and across inserted whitespace or zero-width characters, so simple
variants of a secret (lowercased, spaced out) are redacted too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

REDACTED = "[REDACTED]"

# Shorter values would redact ordinary words ("true", port numbers) and destroy the review text.
MIN_SECRET_LENGTH = 8
ELLIPSIS = "…"
# What may sit between two characters of a known secret and still count as the secret: whitespace
# (including line breaks) and zero-width characters, the cheap ways to smuggle a value past a match.
_GAP = r"[\s\u200b-\u200d\u2060\ufeff]*"

_TOKEN_SHAPES = re.compile(
    "|".join(
        (
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            r"(?i:sk-ant-)[A-Za-z0-9_\-]{8,}",
            # No word boundary in front: a token glued to other text ("xghp_…") is still a token.
            r"(?i:gh[pousr]_)[A-Za-z0-9]{20,}",
            r"(?i:github_pat_)[A-Za-z0-9_]{20,}",
            r"(?:AKIA|ASIA)[A-Z0-9]{16}\b",
            # A JWT (GitHub App assertions, cloud identity tokens): three base64url segments.
            r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",
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


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, marked with an ellipsis. Only for scrubbed text."""
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def clip_token_shapes(text: str, limit: int) -> str:
    """Token shapes redacted, then cut to `limit`: for processes that know no secret values."""
    return clip(scrub_token_shapes(text), limit)


def _loose(value: str) -> str:
    """A pattern for `value` that also matches it with gaps between its characters (see `_GAP`)."""
    return _GAP.join(re.escape(ch) for ch in value if not ch.isspace())


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
        # Two passes, both case-insensitive: the values as they are (so each copy is replaced on its
        # own), then spellings with gaps between characters (whitespace inside a value is a gap too).
        self._patterns = tuple(
            re.compile("|".join(spell(v) for v in ordered), re.IGNORECASE)
            for spell in (re.escape, _loose)
            if ordered
        )

    def add(self, secrets: Iterable[str]) -> Scrubber:
        """A new scrubber that also redacts `secrets`."""
        return Scrubber([*self._values, *secrets])

    def scrub(self, text: str) -> str:
        for pattern in self._patterns:
            text = pattern.sub(REDACTED, text)
        return scrub_token_shapes(text)

    def clip(self, text: str, limit: int) -> str:
        """Scrubbed, then cut to at most `limit` characters: the only safe order."""
        return clip(self.scrub(text), limit)
