"""Carrier webhooks (plain Django views answering XML). Each one: the carrier's signature is
checked (``carrier_webhook``), the organization is found and activated
(``calls.webhooks``), one service does the work, and the view renders what it returns."""

from __future__ import annotations

import structlog
from django.http import HttpRequest, HttpResponse

from calls import services
from calls.carriers import carrier_client
from calls.models import Provider
from calls.telephony.registry import carrier_class
from calls.webhooks import carrier_webhook, tenant_activated, webhook_target

logger = structlog.get_logger(__name__)

NO_CONTENT = 204


def _xml(provider: str, document: str) -> HttpResponse:
    return HttpResponse(document, content_type=carrier_class(provider).content_type)


def _empty_reply(provider: str) -> HttpResponse:
    return _xml(provider, '<?xml version="1.0" encoding="UTF-8"?><Response/>')


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except ValueError:
        return None


def _answer(request: HttpRequest, provider: str, call_id_field: str) -> HttpResponse:
    params = request.POST
    target = webhook_target(request, numbers=[params.get("To", "")])
    if target is None:
        logger.info("webhook_unknown_number", provider=provider, to=params.get("To"))
        return _xml(
            provider, carrier_client(provider).say_and_hangup(services.UNKNOWN_NUMBER_MESSAGE)
        )
    with tenant_activated(target):
        if target.call_id is not None:
            document = services.call_outbound_answer(
                provider=provider,
                call_id=target.call_id,
                provider_call_id=params.get(call_id_field, ""),
                payload=params,
            )
        else:
            document = services.call_inbound_answer(
                provider=provider,
                provider_call_id=params.get(call_id_field, ""),
                from_number=params.get("From", ""),
                to_number=params.get("To", ""),
                payload=params,
            )
    return _xml(provider, document)


def _status(request: HttpRequest, provider: str) -> HttpResponse:
    params = request.POST
    target = webhook_target(request, numbers=[params.get("To", ""), params.get("From", "")])
    if target is None:
        logger.warning("status_callback_without_organization", provider=provider)
        return HttpResponse(status=NO_CONTENT)
    with tenant_activated(target):
        services.call_status_callback(provider=provider, params=params, call_id=target.call_id)
    return HttpResponse(status=NO_CONTENT)


def _recording(request: HttpRequest, provider: str, url_field: str) -> HttpResponse:
    params = request.POST
    target = webhook_target(request)
    if target is None or target.call_id is None:
        logger.warning("recording_callback_without_call", provider=provider)
        return HttpResponse(status=NO_CONTENT)
    if params.get("RecordingStatus", "completed") != "completed":
        return HttpResponse(status=NO_CONTENT)  # in-progress/absent: only the final one counts
    with tenant_activated(target):
        services.call_recording_store(
            call_id=target.call_id,
            url=params.get(url_field, ""),
            duration_seconds=_int(params.get("RecordingDuration")),
            payload=params,
            provider=provider,
        )
    return HttpResponse(status=NO_CONTENT)


def _sms(request: HttpRequest, provider: str, id_field: str, body_field: str) -> HttpResponse:
    params = request.POST
    target = webhook_target(request, numbers=[params.get("To", "")])
    if target is None:
        logger.warning("sms_to_unknown_number", provider=provider, to=params.get("To"))
        return _empty_reply(provider)
    with tenant_activated(target):
        services.message_receive(
            provider=provider,
            provider_message_id=params.get(id_field, ""),
            from_number=params.get("From", ""),
            to_number=params.get("To", ""),
            body=params.get(body_field, ""),
        )
    return _empty_reply(provider)


# --- Twilio ------------------------------------------------------------------------------------


@carrier_webhook(Provider.TWILIO)
def twilio_voice(request: HttpRequest) -> HttpResponse:
    """Inbound calls (the number's voice URL) and answered outbound calls (``?c=``)."""
    return _answer(request, Provider.TWILIO, "CallSid")


@carrier_webhook(Provider.TWILIO)
def twilio_status(request: HttpRequest) -> HttpResponse:
    return _status(request, Provider.TWILIO)


@carrier_webhook(Provider.TWILIO)
def twilio_recording(request: HttpRequest) -> HttpResponse:
    return _recording(request, Provider.TWILIO, "RecordingUrl")


@carrier_webhook(Provider.TWILIO)
def twilio_sms(request: HttpRequest) -> HttpResponse:
    return _sms(request, Provider.TWILIO, "MessageSid", "Body")


# --- Plivo -------------------------------------------------------------------------------------


@carrier_webhook(Provider.PLIVO)
def plivo_answer(request: HttpRequest) -> HttpResponse:
    """Inbound calls (the application's answer URL) and answered outbound calls (``?c=``)."""
    return _answer(request, Provider.PLIVO, "CallUUID")


@carrier_webhook(Provider.PLIVO)
def plivo_hangup(request: HttpRequest) -> HttpResponse:
    """Ring, hangup and machine-detection events (Plivo posts them all to this one URL)."""
    return _status(request, Provider.PLIVO)


@carrier_webhook(Provider.PLIVO)
def plivo_recording(request: HttpRequest) -> HttpResponse:
    return _recording(request, Provider.PLIVO, "RecordUrl")


@carrier_webhook(Provider.PLIVO)
def plivo_forward(request: HttpRequest) -> HttpResponse:
    """What a transferred call is redirected to: dial the human named in our reference."""
    target = webhook_target(request)
    if target is None or target.call_id is None or not target.ref.get("n"):
        return HttpResponse(status=404)
    with tenant_activated(target):
        document = services.call_forward_answer(
            provider=Provider.PLIVO, call_id=target.call_id, to_number=target.ref["n"]
        )
    return _xml(Provider.PLIVO, document)


@carrier_webhook(Provider.PLIVO)
def plivo_say(request: HttpRequest) -> HttpResponse:
    """What a call is redirected to when it must say something and hang up."""
    target = webhook_target(request)
    if target is None or not target.ref.get("m"):
        return HttpResponse(status=404)
    return _xml(
        Provider.PLIVO,
        services.call_message_answer(provider=Provider.PLIVO, message=target.ref["m"]),
    )


@carrier_webhook(Provider.PLIVO)
def plivo_sms(request: HttpRequest) -> HttpResponse:
    return _sms(request, Provider.PLIVO, "MessageUUID", "Text")
