"""Who did this: the person a request acts for, the same rule for the API and the admin.

A person signed in (JWT or session) acts for themselves. An API key is not a person: what it
changes is recorded against the person who created the key, and what only a person may do
(create an organization, accept an invitation) is refused to it.
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from organizations.models import ApiKey, User
from voiceagents.exceptions import PermissionDenied


def request_user(request: HttpRequest | Request) -> User | None:
    """The person to record as the author of a change: the user, an API key's creator, or
    None (anonymous, or a key whose creator is gone)."""
    user = request.user
    if isinstance(user, User):
        return user
    creator = getattr(user, "user", None)
    return creator if isinstance(creator, User) else None


def request_person(request: HttpRequest | Request) -> User:
    """The person behind the request; API keys cannot do what only people may."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("This action needs a user (JWT or session), not an API key.")
    return user


def request_api_key(request: HttpRequest | Request) -> ApiKey | None:
    """The API key that authenticated the request, if one did (for audit events)."""
    credential = getattr(request, "auth", None)
    api_key = getattr(credential, "api_key", None)
    return api_key if isinstance(api_key, ApiKey) else None
