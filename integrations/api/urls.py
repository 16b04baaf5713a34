from rest_framework.routers import SimpleRouter

from integrations.api import tool_views, views

router = SimpleRouter()
router.register("credentials", views.CredentialViewSet, basename="credential")
router.register("integrations", tool_views.IntegrationViewSet, basename="integration")
router.register("custom-tools", tool_views.CustomToolViewSet, basename="custom-tool")
router.register("tool-executions", tool_views.ToolExecutionViewSet, basename="tool-execution")

urlpatterns = router.urls
