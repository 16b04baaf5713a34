"""Plivo's V3 webhook signature, written by hand (the ``plivo`` SDK is not used): the
algorithm of ``plivo.utils.signature_v3`` in plivo 4.63.0, pinned by known-answer tests
(docs/protocols.md, "Plivo: REST and webhooks")."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from calls.telephony.base import form_values, header

__all__ = [
    "NONCE_HEADER",
    "SIGNATURE_HEADER",
    "signature_v3",
    "signature_v3_base",
    "signature_v3_valid",
]

SIGNATURE_HEADER = "X-Plivo-Signature-V3"
NONCE_HEADER = "X-Plivo-Signature-V3-Nonce"


def signature_v3_base(url: str, params: Mapping[str, Any]) -> str:
    """The string Plivo signs for a POST webhook (plivo.utils.signature_v3.construct_post_url).

    Scheme, host and path of the URL; then ``?`` + the query parameters sorted as ``k=v`` joined
    by ``&`` (with a ``.`` after them when form params follow); then each form param sorted by
    name as ``name`` + ``value`` (several values sorted), no separators. A GET webhook has no
    form params, and for it this is exactly the SDK's construct_get_url.
    """
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    query = parse_qs(parts.query, keep_blank_values=True)
    query_string = "&".join(
        f"{key}={value}" for key in sorted(query) for value in sorted(query[key])
    )
    form = "".join(
        f"{key}{value}" for key in sorted(params) for value in sorted(form_values(params, key))
    )
    if query_string or form:
        base += "?" + query_string
    if query_string and form:
        base += "."
    return base + form


def signature_v3(auth_token: str, url: str, params: Mapping[str, Any], nonce: str) -> str:
    message = f"{signature_v3_base(url, params)}.{nonce}".encode()
    digest = hmac.new(auth_token.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_v3_valid(
    auth_token: str, *, url: str, params: Mapping[str, Any], headers: Mapping[str, str]
) -> bool:
    """Whether the request's V3 signature header holds the signature of ``url`` + ``params``."""
    signatures = header(headers, SIGNATURE_HEADER)
    nonce = header(headers, NONCE_HEADER)
    if not signatures or not nonce:
        return False
    expected = signature_v3(auth_token, url, params, nonce)
    # The header may list several signatures (comma-separated), as the SDK accepts.
    return any(
        hmac.compare_digest(expected, candidate.strip()) for candidate in signatures.split(",")
    )
