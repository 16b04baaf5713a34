"""The organization whose schema is active: the one place the calls app asks for it."""

from __future__ import annotations

from django.db import connection

from organizations.models import Organization

__all__ = ["current_organization"]


def current_organization() -> Organization:
    """The organization whose schema is active."""
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Organization):
        return tenant
    return Organization.objects.get(schema_name=connection.schema_name)
