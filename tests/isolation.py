"""The tenant-isolation contract, applied to every API resource.

Each resource registers how to create one of its rows inside an organization and which URLs
address it. tests/test_isolation.py then proves, for every registered resource, that a
credential of organization A:
- on the main host (the credential selects A) never lists B's row and gets the same 404 for
  B's row as for an id that does not exist, for read, change and delete;
- on B's own domain is refused with 403 before any tenant data is touched, with the same
  answer whether the row exists or not;
- as a JWT naming B while its user is not B's member, is refused with 403;
and that B's row is unchanged afterwards.

Each app's resources are registered by ``tests/<app>/isolation.py``, listed in
:data:`REGISTRATION_MODULES`; :func:`load_registrations` imports them all. A module that cannot
be imported is an error, never skipped: a registration that silently went missing would leave
the isolation tests green while they test less.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from organizations.models import Organization

MISSING_ID = 987654321


@dataclass(frozen=True)
class Resource:
    name: str
    # Creates a row in ``org`` (called with org's schema active); returns its id.
    create: Callable[[Organization], object]
    # list URL (None when the resource has no list) and detail URL for an id
    list_url: Callable[[Organization], str] | None
    detail_url: Callable[[Organization, object], str]
    update_payload: dict = field(default_factory=dict)
    can_delete: bool = True
    # Reads the row back (org's schema active) to prove nothing changed; None = skip.
    snapshot: Callable[[Organization, object], object] | None = None
    # Extra workflow URLs that take the row (method, url, payload), e.g. POST .../end/.
    actions: Callable[[Organization, object], list[tuple[str, str, dict]]] = lambda o, i: []


RESOURCES: list[Resource] = []
# Resource name -> the module that registered it.
REGISTERED_BY: dict[str, str] = {}

# One per app with API resources; the organizations' own are registered below, in this module.
REGISTRATION_MODULES = (
    "tests.agents.isolation",
    "tests.calls.isolation",
    "tests.knowledge.isolation",
    "tests.integrations.isolation",
)


def register(resource: Resource) -> Resource:
    if resource.name in REGISTERED_BY:
        raise ValueError(f"isolation resource {resource.name!r} is registered twice")
    frame = inspect.currentframe()
    caller = frame.f_back if frame else None
    REGISTERED_BY[resource.name] = caller.f_globals["__name__"] if caller else ""
    RESOURCES.append(resource)
    return resource


def load_registrations(modules: Iterable[str] = REGISTRATION_MODULES) -> list[Resource]:
    """Import every registration module (each registers its resources once) and return
    :data:`RESOURCES`. Any ImportError, a missing module included, propagates."""
    for module in modules:
        importlib.import_module(module)
    return RESOURCES


# --- organizations' own resources --------------------------------------------------------------


def _org_create(org: Organization) -> object:
    return org.pk


def _api_key_create(org: Organization) -> object:
    from organizations.services import api_key_create

    key, _raw = api_key_create(organization=org, name="isolation", role="viewer")
    return key.pk


def _api_key_snapshot(org: Organization, pk: object) -> object:
    from organizations.models import ApiKey

    return ApiKey.objects.filter(pk=pk).values("name", "revoked_at").first()


def _membership_create(org: Organization) -> object:
    from organizations.models import Membership
    from tests.organizations.factories import UserFactory

    return Membership.objects.create(organization=org, user=UserFactory(), role="viewer").pk


def _membership_snapshot(org: Organization, pk: object) -> object:
    from organizations.models import Membership

    return Membership.objects.filter(pk=pk).values("role").first()


register(
    Resource(
        name="organization",
        create=_org_create,
        list_url=lambda org: "/api/v1/organizations/",
        detail_url=lambda org, pk: f"/api/v1/organizations/{pk}/",
        update_payload={"name": "Taken over"},
        can_delete=False,
        snapshot=lambda org, pk: Organization.objects.filter(pk=pk).values("name").first(),
    )
)
register(
    Resource(
        name="api_key",
        create=_api_key_create,
        list_url=lambda org: "/api/v1/api-keys/",
        detail_url=lambda org, pk: f"/api/v1/api-keys/{pk}/",
        snapshot=_api_key_snapshot,
    )
)
register(
    Resource(
        name="membership",
        create=_membership_create,
        list_url=None,
        detail_url=lambda org, pk: f"/api/v1/organizations/{org.pk}/members/{pk}/",
        update_payload={"role": "owner"},
        snapshot=_membership_snapshot,
    )
)
