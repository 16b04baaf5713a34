"""Every /api/v1/ route. Each app contributes its own api/urls.py."""

from django.urls import include, path

urlpatterns = [
    path("", include("organizations.api.urls")),
    path("", include("knowledge.api.urls")),
    path("", include("agents.api.urls")),
    path("", include("calls.api.urls")),
    path("", include("integrations.api.urls")),
]
