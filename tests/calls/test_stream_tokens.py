"""Media-stream tokens: signed, short-lived, single use, URL-safe."""

import re

import pytest

from calls.stream_tokens import (
    InvalidStreamToken,
    StreamGrant,
    stream_token_consume,
    stream_token_issue,
)


def test_a_token_names_the_organization_and_call_and_works_exactly_once():
    token = stream_token_issue(schema_name="org_alpha", call_id=42)

    assert stream_token_consume(token) == StreamGrant(schema_name="org_alpha", call_id=42)
    with pytest.raises(InvalidStreamToken, match="already been used"):
        stream_token_consume(token)


def test_two_tokens_for_the_same_call_are_independent():
    first = stream_token_issue(schema_name="org_alpha", call_id=7)
    second = stream_token_issue(schema_name="org_alpha", call_id=7)

    assert first != second
    assert stream_token_consume(first).call_id == stream_token_consume(second).call_id == 7


def test_an_expired_token_is_refused():
    token = stream_token_issue(schema_name="org_alpha", call_id=1, ttl_seconds=-1)

    with pytest.raises(InvalidStreamToken, match="expired"):
        stream_token_consume(token)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: "eyJzIjoib3JnX2JldGEiLCJjIjo0Mn0" + t[t.index(".") :],  # payload swapped
        lambda t: "not-a-token",
        lambda t: "",
    ],
)
def test_a_forged_or_garbled_token_is_refused(mangle):
    token = stream_token_issue(schema_name="org_alpha", call_id=42)

    with pytest.raises(InvalidStreamToken):
        stream_token_consume(mangle(token))


def test_a_token_fits_in_a_url_path_as_it_is():
    token = stream_token_issue(schema_name="org_alpha", call_id=123456789)

    assert re.fullmatch(r"[A-Za-z0-9_\-.]+", token)
