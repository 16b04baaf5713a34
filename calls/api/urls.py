from django.urls import re_path
from rest_framework.routers import SimpleRouter

from calls.api import views

router = SimpleRouter()
router.register("phone-numbers", views.PhoneNumberViewSet, basename="phone-number")
router.register("calls", views.CallViewSet, basename="call")
router.register("messages", views.MessageViewSet, basename="message")
router.register("batches", views.BatchViewSet, basename="batch")
router.register("dnc", views.DncEntryViewSet, basename="dnc-entry")
router.register("schedules", views.ScheduleViewSet, basename="schedule")

urlpatterns = [
    # A file's name, without the router's trailing slash.
    re_path(
        r"^batches/(?P<pk>[0-9]+)/report\.csv$",
        views.BatchViewSet.as_view({"get": "report"}),
        name="batch-report",
    ),
    *router.urls,
]
