from rest_framework.routers import SimpleRouter

from integrations.api import views

router = SimpleRouter()
router.register("credentials", views.CredentialViewSet, basename="credential")

urlpatterns = router.urls
