"""The runner's results always fit the termination message and round-trip through the parser."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from review_operator.api.result import (
    MAX_MESSAGE_BYTES,
    Finding,
    ResultOutcome,
    ReviewResult,
    Severity,
    decode_result,
    encode_result,
)

findings = st.builds(
    Finding,
    path=st.text(min_size=1, max_size=200),
    line=st.integers(min_value=1, max_value=10**6),
    severity=st.sampled_from(list(Severity)),
    confidence=st.floats(min_value=0, max_value=1),
    title=st.text(max_size=200),
    body=st.text(max_size=4000),
)
results = st.builds(
    ReviewResult,
    outcome=st.sampled_from(list(ResultOutcome)),
    summary=st.text(max_size=8000),
    findings=st.lists(findings, max_size=40),
    skipped_files=st.lists(st.text(min_size=1, max_size=300), max_size=60),
    error=st.text(max_size=1000),
    tools=st.dictionaries(st.sampled_from(["Read", "Grep", "Glob"]), st.integers(0, 10**6)),
)


@settings(max_examples=60, deadline=None)
@given(results)
def test_any_result_fits_4096_bytes_and_round_trips(result: ReviewResult) -> None:
    message = encode_result(result)
    assert len(message.encode()) <= MAX_MESSAGE_BYTES
    decoded = decode_result(message)
    assert decoded.outcome is result.outcome
    assert len(decoded.findings) + decoded.dropped - result.dropped == len(result.findings)
    kept_severities = sorted(f.severity.rank for f in decoded.findings)
    if decoded.dropped and result.findings and kept_severities:
        # Lowest severities go first: nothing dropped outranks everything kept.
        dropped = [f for f in result.findings if f not in decoded.findings]
        assert min(f.severity.rank for f in dropped) <= max(kept_severities)
