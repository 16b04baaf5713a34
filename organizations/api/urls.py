from django.urls import path
from rest_framework.routers import SimpleRouter

from organizations.api import views

router = SimpleRouter()
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("api-keys", views.ApiKeyViewSet, basename="api-key")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("invitations/accept/", views.InvitationAcceptView.as_view(), name="invitation-accept"),
    *router.urls,
]
