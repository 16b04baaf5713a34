from rest_framework.routers import SimpleRouter

from integrations.api import tool_views, views, webhook_views

router = SimpleRouter()
router.register("credentials", views.CredentialViewSet, basename="credential")
router.register("integrations", tool_views.IntegrationViewSet, basename="integration")
router.register("custom-tools", tool_views.CustomToolViewSet, basename="custom-tool")
router.register("tool-executions", tool_views.ToolExecutionViewSet, basename="tool-execution")
router.register("webhooks", webhook_views.WebhookEndpointViewSet, basename="webhook")
router.register(
    "webhook-deliveries", webhook_views.WebhookDeliveryViewSet, basename="webhook-delivery"
)

urlpatterns = router.urls
