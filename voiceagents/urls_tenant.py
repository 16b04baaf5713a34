"""URLs of an organization's own domain (<slug>.<BASE_DOMAIN>): its admin and pages, and the
shared API/health routes."""

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from voiceagents.urls_common import urlpatterns as common

handler400 = "voiceagents.views.handler400"
handler403 = "voiceagents.views.handler403"
handler404 = "voiceagents.views.handler404"
handler500 = "voiceagents.views.handler500"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    *common,
]
