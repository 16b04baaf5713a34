from rest_framework.routers import SimpleRouter

from calls.api import views

router = SimpleRouter()
router.register("phone-numbers", views.PhoneNumberViewSet, basename="phone-number")
router.register("calls", views.CallViewSet, basename="call")
router.register("messages", views.MessageViewSet, basename="message")

urlpatterns = router.urls
