"""The client address an ingress in front of the webhook reports, for the delivery log line only.

An ingress controller (Traefik, ingress-nginx, a cloud load balancer) passes the address it saw in
`X-Forwarded-For` (first entry: the original client, later entries: proxies on the way) or
`X-Real-Ip`. A sender can write these headers too, and only the ingress's configuration decides
whether it replaces them, so the address is logged as a field and used for nothing else. Only a
well-formed IP address is returned: the header's raw text never reaches the log.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

_MAX_HEADER = 512  # longer chains are not parsed: nothing useful is that long


def forwarded_client(headers: Mapping[str, str]) -> str:
    """The first `X-Forwarded-For` entry, else `X-Real-Ip`, as a normalised IP address; "" when
    neither header holds one."""
    for header in ("X-Forwarded-For", "X-Real-Ip"):
        value = headers.get(header, "")
        address = _address(value.split(",", 1)[0].strip()) if len(value) <= _MAX_HEADER else ""
        if address:
            return address
    return ""


def _address(text: str) -> str:
    if "%" in text:  # an IPv6 scope id is free text; no ingress forwards one
        return ""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return ""
