"""Role-based rights in the tenant admin, shared by every app's ModelAdmin there."""

from __future__ import annotations

from organizations.admin_site import membership_role
from organizations.models import Role


class RoleAdminMixin:
    """Viewers read; ``change_role`` (admin by default) adds, changes and deletes.
    Apps whose data members may create (calls, batches, schedules) lower ``change_role``."""

    view_role: str = Role.VIEWER
    change_role: str = Role.ADMIN

    def _role_at_least(self, request, minimum: str) -> bool:
        role = membership_role(request.user)
        return role is not None and Role.at_least(role, minimum)

    def has_module_permission(self, request) -> bool:
        return self._role_at_least(request, self.view_role)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._role_at_least(request, self.view_role)

    def has_add_permission(self, request, *args) -> bool:
        return self._role_at_least(request, self.change_role)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._role_at_least(request, self.change_role)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._role_at_least(request, self.change_role)
