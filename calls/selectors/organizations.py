"""The organization whose schema is active: the one place the calls app asks for it."""

from __future__ import annotations

from django.db import connection

from organizations.models import Organization
from voiceagents.tenancy import current_schema_name

__all__ = ["current_organization"]


def current_organization() -> Organization:
    """The organization whose schema is active."""
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Organization):
        return tenant
    organization: Organization = Organization.objects.get(schema_name=current_schema_name())
    return organization
