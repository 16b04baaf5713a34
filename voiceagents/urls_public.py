"""URLs of the public schema (the main host): the landing page, the platform admin for
superusers (organizations, users), the invitation page, and the shared API/health routes."""

from django.urls import include, path

from organizations.admin_site import platform_admin
from voiceagents import views
from voiceagents.urls_common import urlpatterns as common

handler400 = "voiceagents.views.handler400"
handler403 = "voiceagents.views.handler403"
handler404 = "voiceagents.views.handler404"
handler500 = "voiceagents.views.handler500"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("admin/", platform_admin.urls),
    path("", include("organizations.urls")),
    *common,
]
