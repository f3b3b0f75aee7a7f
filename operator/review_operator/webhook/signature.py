"""`X-Hub-Signature-256` verification: HMAC-SHA256 over the raw body, constant-time, several secrets.

Several secrets are accepted at once so a secret can be rotated without dropping deliveries: add
the new one, change it on GitHub, then remove the old one. `Verifier` computes the HMACs while the
body streams in, so the body is hashed chunk by chunk as it arrives and never read twice.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

PREFIX = "sha256="
_WELL_FORMED = re.compile(r"sha256=[0-9a-f]{64}")


def sign(body: bytes, secret: bytes) -> str:
    """The header value GitHub would send for `body`."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def well_formed(header: str | None) -> bool:
    """Whether `header` could be a GitHub signature at all (checked before the body is read)."""
    return header is not None and _WELL_FORMED.fullmatch(header) is not None


class Verifier:
    """The HMAC of one body under each secret, fed chunk by chunk."""

    def __init__(self, secrets: Sequence[bytes]) -> None:
        self._macs = [hmac.new(secret, digestmod=hashlib.sha256) for secret in secrets]

    def update(self, chunk: bytes | bytearray) -> None:
        for mac in self._macs:
            mac.update(chunk)

    def matches(self, header: str | None) -> bool:
        """Whether `header` signs the bytes fed so far under any of the secrets.

        Every secret is tried (no early exit), so timing reveals neither which secret matched nor how
        much of the signature was right.
        """
        if not header or not self._macs:
            return False
        # Header values are sender-controlled text; compare bytes so any character is safe.
        given = header.encode("utf-8", "backslashreplace")
        valid = False
        for mac in self._macs:
            valid |= hmac.compare_digest((PREFIX + mac.hexdigest()).encode(), given)
        return valid


def verify(body: bytes, header: str | None, secrets: Sequence[bytes]) -> bool:
    """Whether `header` is a valid signature of `body` under any of `secrets`."""
    verifier = Verifier(secrets)
    verifier.update(body)
    return verifier.matches(header)
