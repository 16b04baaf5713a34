"""Who is calling, and for which organization.

Both credentials travel as ``Authorization: Bearer <token>``:
- an API key (``va_live_...``): one indexed lookup of its hash in the public schema finds the
  key, its organization and its role;
- a Supabase-style JWT (anything shaped like one): verified with HS256 and
  SUPABASE_JWT_SECRET, or RS256/ES256 against the JWKS URL (keys cached); ``sub``/``email``
  map to a user, created on first sight; the organization comes from an ``org_id`` claim (top
  level or in ``app_metadata``) or from the tenant domain the request came to.

Authentication only establishes the credential. ``organizations.api.base`` then activates the
organization's schema (or refuses a credential of another organization) in one place, before
any view code runs.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from organizations.models import ApiKey, Organization, User
from organizations.services import api_key_hash, user_get_or_create

# last_used_at is a hint, not an audit log: write it at most once a minute per key so a busy
# integration does not turn every read into a write.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)
_JWT_ALGORITHMS_ASYMMETRIC = ["RS256", "ES256"]


@dataclass(frozen=True, slots=True)
class Credential:
    """What authenticated the request. ``organization`` is None for a JWT without an org claim
    (the request's domain decides) and for browser sessions."""

    kind: str  # "api_key" | "jwt" | "session"
    organization: Organization | None
    role: str | None = None  # fixed for API keys; from the membership otherwise
    api_key: ApiKey | None = None


class ApiKeyPrincipal:
    """request.user for API-key requests: authenticated, but not a person. ``user`` is the
    person who created the key, recorded as the author of what the key creates."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_superuser = False
    is_staff = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.user: User | None = api_key.created_by
        self.pk = None
        self.id = None
        self.email = ""

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


def _looks_like_jwt(token: str) -> bool:
    parts = token.split(".")
    return len(parts) == 3 and all(parts)


@functools.lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    # PyJWKClient caches the key set and refetches on an unknown kid.
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=5)


def decode_supabase_jwt(token: str) -> dict:
    """Verify signature, expiry, audience and (when configured) issuer; return the claims."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise exceptions.AuthenticationFailed("Malformed token.") from exc
    algorithm = header.get("alg", "")
    options = {"require": ["exp", "sub"]}
    kwargs: dict[str, Any] = {
        "audience": settings.SUPABASE_JWT_AUDIENCE or None,
        "issuer": settings.SUPABASE_JWT_ISSUER or None,
        "options": options,
        "leeway": 10,
    }
    try:
        if algorithm == "HS256":
            if not settings.SUPABASE_JWT_SECRET:
                raise exceptions.AuthenticationFailed("HS256 tokens are not accepted here.")
            return jwt.decode(token, settings.SUPABASE_JWT_SECRET, algorithms=["HS256"], **kwargs)
        if algorithm in _JWT_ALGORITHMS_ASYMMETRIC:
            if not settings.SUPABASE_JWKS_URL:
                raise exceptions.AuthenticationFailed(f"{algorithm} tokens are not accepted here.")
            key = _jwks_client(settings.SUPABASE_JWKS_URL).get_signing_key_from_jwt(token)
            return jwt.decode(token, key.key, algorithms=[algorithm], **kwargs)
    except jwt.ExpiredSignatureError as exc:
        raise exceptions.AuthenticationFailed("Token has expired.") from exc
    except jwt.InvalidAudienceError as exc:
        raise exceptions.AuthenticationFailed("Token audience is not accepted.") from exc
    except jwt.InvalidIssuerError as exc:
        raise exceptions.AuthenticationFailed("Token issuer is not accepted.") from exc
    except jwt.exceptions.InvalidSubjectError as exc:
        raise _bad_claim("sub", "must be a string") from exc
    except jwt.PyJWKClientError as exc:
        raise exceptions.AuthenticationFailed("Token signing key could not be verified.") from exc
    except jwt.PyJWTError as exc:
        raise exceptions.AuthenticationFailed("Invalid token.") from exc
    raise exceptions.AuthenticationFailed(f"Token algorithm {algorithm!r} is not accepted.")


# Claims are signed, not trusted: an issuer may put anything in them (a number for an email, a
# 500-character name). Each claim we use is checked for type and size against where it goes;
# a wrong one is a 401 naming the claim, never a database error.
_SUB_MAX = 64  # User.external_id
_EMAIL_MAX = 254  # User.email
_FULL_NAME_MAX = 200  # User.full_name, display only: shortened rather than refused
_ORG_REF = re.compile(r"^[-a-zA-Z0-9_]{1,63}$")  # an organization's id or slug


def _bad_claim(claim: str, problem: str) -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(f"Token claim {claim!r} {problem}.")


def _identity_from_claims(claims: dict[str, Any]) -> tuple[str, str, str]:
    """The person the token names: (subject, email or "", full name or "")."""
    subject = claims.get("sub")
    if (
        not isinstance(subject, str)
        or not subject
        or len(subject) > _SUB_MAX
        or not subject.isprintable()
    ):
        raise _bad_claim("sub", f"must be a non-empty string of at most {_SUB_MAX} characters")
    email = claims.get("email")
    if email is None:
        email = ""
    if not isinstance(email, str) or not (email == "" or _is_email(email.strip())):
        raise _bad_claim("email", f"must be an email address of at most {_EMAIL_MAX} characters")
    email = email.strip()
    metadata = claims.get("user_metadata")
    name = metadata.get("full_name") if isinstance(metadata, dict) else None
    full_name = name.replace("\x00", "").strip()[:_FULL_NAME_MAX] if isinstance(name, str) else ""
    return subject, email, full_name


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return len(value) <= _EMAIL_MAX


def _organization_from_claims(claims: dict) -> Organization | None:
    app_metadata = claims.get("app_metadata") or {}
    org_ref = claims.get("org_id") or (
        app_metadata.get("org_id") if isinstance(app_metadata, dict) else None
    )
    if org_ref in (None, ""):
        return None
    if isinstance(org_ref, bool) or not isinstance(org_ref, int | str):
        raise _bad_claim("org_id", "must be an organization's id or slug")
    org_ref = str(org_ref)
    if not _ORG_REF.match(org_ref):
        raise _bad_claim("org_id", "must be an organization's id or slug")
    query = Organization.objects.exclude(schema_name="public")
    org = (
        query.filter(pk=int(org_ref)).first()
        if org_ref.isdigit()
        else query.filter(slug=org_ref).first()
    )
    if org is None:
        # Same answer as "not a member": a token cannot probe which organizations exist.
        raise exceptions.PermissionDenied("This credential is not valid for this organization.")
    return org


class BearerAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: use 'Bearer <api key or JWT>'."
            )
        try:
            token = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Malformed token.") from exc

        if token.startswith(settings.API_KEY_PREFIX):
            return self._authenticate_api_key(token)
        if _looks_like_jwt(token):
            return self._authenticate_jwt(token)
        raise exceptions.AuthenticationFailed(
            f"Unrecognised token: expected an API key ({settings.API_KEY_PREFIX}...) or a JWT."
        )

    def _authenticate_api_key(self, token: str):
        key = (
            ApiKey.objects.select_related("organization", "created_by")
            .filter(key_hash=api_key_hash(token))
            .first()
        )
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        now = timezone.now()
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if key.expires_at is not None and key.expires_at <= now:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        credential = Credential(
            kind="api_key", organization=key.organization, role=key.role, api_key=key
        )
        return ApiKeyPrincipal(key), credential

    def _authenticate_jwt(self, token: str):
        claims = decode_supabase_jwt(token)
        # Every claim is checked before anything is written (a new user, on first sight).
        subject, email, full_name = _identity_from_claims(claims)
        organization = _organization_from_claims(claims)
        user = User.objects.filter(external_id=subject).first()
        if user is None:
            if not email:
                raise exceptions.AuthenticationFailed("Token carries no email for a new user.")
            user = user_get_or_create(email=email, external_id=subject, full_name=full_name)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("This user is inactive.")
        return user, Credential(kind="jwt", organization=organization)
