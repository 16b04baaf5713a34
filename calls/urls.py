"""Carrier webhook routes, served on the main host under /telephony/ (carriers are configured
with these; see docs/api.md). Media WebSockets live at /ws/<provider>/media/<token>."""

from django.urls import path

from calls import views

urlpatterns = [
    path("twilio/voice", views.twilio_voice, name="telephony-twilio-voice"),
    path("twilio/status", views.twilio_status, name="telephony-twilio-status"),
    path("twilio/recording", views.twilio_recording, name="telephony-twilio-recording"),
    path("twilio/sms", views.twilio_sms, name="telephony-twilio-sms"),
    path("plivo/answer", views.plivo_answer, name="telephony-plivo-answer"),
    path("plivo/hangup", views.plivo_hangup, name="telephony-plivo-hangup"),
    path("plivo/recording", views.plivo_recording, name="telephony-plivo-recording"),
    path("plivo/forward", views.plivo_forward, name="telephony-plivo-forward"),
    path("plivo/say", views.plivo_say, name="telephony-plivo-say"),
    path("plivo/sms", views.plivo_sms, name="telephony-plivo-sms"),
]
