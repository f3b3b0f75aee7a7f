"""Secret scrubbing: known values and token shapes never survive."""

from __future__ import annotations

import json

from review_operator.api.scrub import REDACTED, Scrubber, scrub_token_shapes, secret_values_from_env

ANTHROPIC = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789"
TOKENS = [
    ANTHROPIC,
    "ghs_" + "a" * 36,
    "ghp_" + "B" * 36,
    "gho_" + "c1" * 18,
    "ghu_" + "D2" * 18,
    "ghr_" + "e3" * 18,
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "AKIAIOSFODNN7EXAMPLE",
]


def test_every_known_token_shape_is_redacted() -> None:
    for token in TOKENS:
        out = scrub_token_shapes(f"key={token}; done")
        assert token not in out
        assert out == f"key={REDACTED}; done"


def test_private_key_blocks_are_redacted_whole() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----"
    out = scrub_token_shapes(f"before\n{pem}\nafter")
    assert "MIIEowIBAAKCAQEA" not in out and out == f"before\n{REDACTED}\nafter"


def test_truncated_private_key_block_is_redacted_to_the_end() -> None:
    out = scrub_token_shapes("x -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk")
    assert "b3BlbnNzaC1rZXk" not in out


def test_known_secret_values_are_redacted_even_without_a_known_shape() -> None:
    scrubber = Scrubber(["opaque-gateway-secret-42"])
    assert scrubber.scrub("auth opaque-gateway-secret-42!") == f"auth {REDACTED}!"


def test_json_escaped_spelling_of_a_secret_is_redacted() -> None:
    secret = 'pa"ss\\word-1234'
    assert "word-1234" not in Scrubber([secret]).scrub(json.dumps({"v": secret}))


def test_short_values_are_not_treated_as_secrets() -> None:
    assert Scrubber(["true", "8080"]).scrub("true on 8080") == "true on 8080"


def test_secret_values_from_env_picks_credential_names_only() -> None:
    env = {
        "ANTHROPIC_API_KEY": "sk-ant-xxxxxxxxxxxx",
        "GITHUB_TOKEN": "tok-1234567890",
        "HOME": "/home/reviewer-long-path",
        "REVIEWOP_WEBHOOK_SECRET": "hook-secret-value",
        "DB_PASSWORD": "short",
    }
    assert sorted(secret_values_from_env(env)) == sorted(
        ["sk-ant-xxxxxxxxxxxx", "tok-1234567890", "hook-secret-value"]
    )


def test_add_returns_a_scrubber_that_knows_both_sets() -> None:
    both = Scrubber(["first-secret-aaaa"]).add(["second-secret-bbbb"])
    assert both.scrub("first-secret-aaaa second-secret-bbbb") == f"{REDACTED} {REDACTED}"


def test_longer_secret_containing_a_shorter_one_is_replaced_whole() -> None:
    out = Scrubber(["abcdefgh", "abcdefgh-ijklmnop"]).scrub("abcdefgh-ijklmnop")
    assert out == REDACTED


SECRET = "Opaque-Gateway-Secret-42"


def test_case_variants_of_a_known_secret_are_redacted() -> None:
    scrubber = Scrubber([SECRET])
    for variant in (SECRET.lower(), SECRET.upper(), SECRET.swapcase()):
        assert scrubber.scrub(f"auth {variant}!") == f"auth {REDACTED}!", variant


def test_spaced_and_split_copies_of_a_known_secret_are_redacted() -> None:
    scrubber = Scrubber([SECRET])
    for variant in (
        " ".join(SECRET),
        "\n".join(SECRET),
        SECRET[:10] + "\n  " + SECRET[10:],
        "\u200b".join(SECRET),
        " ".join(SECRET.lower()),
    ):
        out = scrubber.scrub(f"auth {variant}!")
        assert out == f"auth {REDACTED}!", repr(variant)


def test_token_shapes_are_redacted_whatever_the_case_of_their_prefix() -> None:
    for token in (
        "GHS_" + "a" * 36,
        "Ghp_" + "B" * 36,
        "SK-ANT-api03-abcdefghijkl",
        "GITHUB_PAT_" + "c" * 30,
    ):
        assert scrub_token_shapes(f"k={token};") == f"k={REDACTED};", token


def test_clip_scrubs_before_it_cuts_so_no_prefix_of_a_secret_survives() -> None:
    scrubber = Scrubber([SECRET])
    for limit in range(len(SECRET) - 4, 40 + len(SECRET)):
        text = "x" * (limit - 10) + SECRET + " tail"
        out = scrubber.clip(text, limit)
        assert len(out) <= limit
        assert SECRET[:8].lower() not in out.lower(), limit
