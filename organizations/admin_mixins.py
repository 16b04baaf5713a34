"""What every app's ModelAdmin in the tenant admin shares: service errors shown, never a
server error (ServiceErrorAdminMixin), and role-based rights (RoleAdminMixin, which includes
it)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from organizations.admin_site import membership_role
from organizations.models import Role
from voiceagents.exceptions import ApplicationError

# Where a service error of a form's first submission waits for the second (see below).
_PENDING_ERROR = "_admin_service_error"


def _form_with_error(
    form_class: type[ModelForm[Any]], error: ApplicationError
) -> type[ModelForm[Any]]:
    """``form_class`` whose validation ends with ``error``: on the fields it names (its
    ``details["fields"]``, the API's shape) when the form has them, else on the form."""

    class ServiceErrorForm(form_class):  # type: ignore[valid-type, misc]
        def clean(self) -> dict[str, Any]:
            cleaned: dict[str, Any] = super().clean()
            placed = False
            for name, problems in ((error.details or {}).get("fields") or {}).items():
                if name in self.fields and name not in self.errors:
                    self.add_error(name, problems)
                    placed = True
            if not placed:
                self.add_error(None, error.message)
            return cleaned

    ServiceErrorForm.__name__ = ServiceErrorForm.__qualname__ = form_class.__name__
    return ServiceErrorForm


class ServiceErrorAdminMixin:
    """ApplicationErrors raised by the services an admin calls come back to the user, never as
    a server error: from a form's save (``save_model``, ``save_related``) as errors on the very
    form, its input kept (the submission is rolled back and validated again with the error
    added); from a delete, an action or a list edit as a message."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            # Django runs the view in a transaction: an error rolls back all it wrote.
            return super().changeform_view(  # type: ignore[misc]
                request, object_id, form_url, extra_context
            )
        except ApplicationError as exc:
            if request.method == "POST" and not hasattr(request, _PENDING_ERROR):
                setattr(request, _PENDING_ERROR, exc)
                return super().changeform_view(  # type: ignore[misc]
                    request, object_id, form_url, extra_context
                )
            return self._service_error(request, exc)

    def get_form(
        self, request: HttpRequest, obj: Any | None = None, change: bool = False, **kwargs: Any
    ) -> type[ModelForm[Any]]:
        # ``change`` by name: django.contrib.auth's UserAdmin takes it in **kwargs.
        form: type[ModelForm[Any]] = super().get_form(  # type: ignore[misc]
            request, obj, change=change, **kwargs
        )
        error = getattr(request, _PENDING_ERROR, None)
        return form if error is None else _form_with_error(form, error)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)  # type: ignore[misc]
        except ApplicationError as exc:
            return self._service_error(request, exc)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Actions and list edits are posted here.
        try:
            return super().changelist_view(request, extra_context)  # type: ignore[misc]
        except ApplicationError as exc:
            return self._service_error(request, exc)

    def _service_error(self, request: HttpRequest, error: ApplicationError) -> HttpResponse:
        self.message_user(request, error.message, messages.ERROR)  # type: ignore[attr-defined]
        opts = self.model._meta  # type: ignore[attr-defined]
        url = reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist")  # type: ignore[attr-defined]
        return HttpResponseRedirect(url)


class RoleAdminMixin(ServiceErrorAdminMixin):
    """Viewers read; ``change_role`` (admin by default) adds, changes and deletes.
    Apps whose data members may create (calls, batches, schedules) lower ``change_role``.
    Service errors are shown, never a server error (ServiceErrorAdminMixin)."""

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
