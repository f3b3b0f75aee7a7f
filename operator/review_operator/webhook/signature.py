"""`X-Hub-Signature-256` verification: HMAC-SHA256 over the raw body, constant-time, several secrets.

Several secrets are accepted at once so a secret can be rotated without dropping deliveries: add
the new one, change it on GitHub, then remove the old one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

PREFIX = "sha256="


def sign(body: bytes, secret: bytes) -> str:
    """The header value GitHub would send for `body`."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secrets: Sequence[bytes]) -> bool:
    """Whether `header` is a valid signature of `body` under any of `secrets`.

    Every secret is tried (no early exit), so timing reveals neither which secret matched nor how
    much of the signature was right.
    """
    if not header or not secrets:
        return False
    # Header values are sender-controlled text; compare bytes so any character is safe.
    given = header.encode("utf-8", "backslashreplace")
    valid = False
    for secret in secrets:
        valid |= hmac.compare_digest(sign(body, secret).encode(), given)
    return valid
