"""Routes served on every host: health, metrics, the API and its documentation. The API is
the same on the main host and on an organization's own domain; the credential (or the domain)
selects the organization (organizations.authentication)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from voiceagents import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/", include("voiceagents.urls_api")),
    # Carrier webhooks (signed by the carrier; calls.webhooks finds the organization).
    path("telephony/", include("calls.urls")),
    # Anything else under /api/ answers the JSON error shape, never an HTML page.
    re_path(r"^api/(?P<path>.*)$", views.api_not_found),
]
