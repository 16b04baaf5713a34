"""Carrier webhook routes, served on the main host under /telephony/ (carriers are configured
with these; see docs/api.md). Each route names its carrier; the views are the same for every
carrier. Media WebSockets live at /ws/<provider>/media/<token> (calls/routing.py)."""

from django.urls import path

from calls import views
from calls.telephony.base import Carrier

TWILIO = {"carrier": Carrier.TWILIO.value}
PLIVO = {"carrier": Carrier.PLIVO.value}

urlpatterns = [
    path("twilio/voice", views.answer_webhook, TWILIO, name="telephony-twilio-voice"),
    path("twilio/status", views.status_webhook, TWILIO, name="telephony-twilio-status"),
    path("twilio/recording", views.recording_webhook, TWILIO, name="telephony-twilio-recording"),
    path("twilio/sms", views.sms_webhook, TWILIO, name="telephony-twilio-sms"),
    path("plivo/answer", views.answer_webhook, PLIVO, name="telephony-plivo-answer"),
    path("plivo/hangup", views.status_webhook, PLIVO, name="telephony-plivo-hangup"),
    path("plivo/recording", views.recording_webhook, PLIVO, name="telephony-plivo-recording"),
    path("plivo/forward", views.plivo_forward, PLIVO, name="telephony-plivo-forward"),
    path("plivo/say", views.plivo_say, PLIVO, name="telephony-plivo-say"),
    path("plivo/sms", views.sms_webhook, PLIVO, name="telephony-plivo-sms"),
]
