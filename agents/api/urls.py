from rest_framework.routers import SimpleRouter

from agents.api import views

router = SimpleRouter()
router.register("agents", views.AgentViewSet, basename="agent")
router.register(
    r"organizations/(?P<pk>[^/.]+)/agents",
    views.OrganizationAgentViewSet,
    basename="organization-agents",
)

urlpatterns = router.urls
