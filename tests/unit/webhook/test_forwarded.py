"""The forwarded client address of the delivery log line: only a well-formed IP address is logged."""

from __future__ import annotations

import pytest

from review_operator.webhook.forwarded import forwarded_client


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Forwarded-For": "203.0.113.7"}, "203.0.113.7"),
        ({"X-Forwarded-For": "203.0.113.7, 10.0.0.2, 10.0.0.3"}, "203.0.113.7"),  # the client, not proxies
        ({"X-Forwarded-For": " 2001:db8::7 ,10.0.0.2"}, "2001:db8::7"),
        ({"X-Real-Ip": "198.51.100.4"}, "198.51.100.4"),
        ({"X-Forwarded-For": "unknown", "X-Real-Ip": "198.51.100.4"}, "198.51.100.4"),
        ({"X-Forwarded-For": "203.0.113.7", "X-Real-Ip": "198.51.100.4"}, "203.0.113.7"),
        ({}, ""),
    ],
)
def test_the_first_forwarded_address_else_the_real_ip(headers: dict[str, str], expected: str) -> None:
    assert forwarded_client(headers) == expected


@pytest.mark.parametrize(
    "value",
    [
        "203.0.113.7\nlevel=ERROR forged=line",
        "fe80::1%eth0 forged=field",  # a scope id is free text
        "<script>",
        "1.2.3.4" + " " * 600 + ", 5.6.7.8",  # too long to parse
        "",
    ],
)
def test_anything_but_an_ip_address_is_left_out_of_the_log(value: str) -> None:
    assert forwarded_client({"X-Forwarded-For": value}) == ""
    assert forwarded_client({"X-Real-Ip": value}) == ""
