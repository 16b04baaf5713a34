"""Carrier webhooks (plain Django views answering XML). Each one: the organization is found
and activated and the signature checked with its account's token (``carrier_webhook``, in
``calls.webhooks``), one service does the work, and the view renders what it returns.

The views are the same for every carrier: calls/urls.py names the carrier of each route, and
the carrier's form field names come from its ``CarrierSpec`` (calls.telephony.registry).
"""

from __future__ import annotations

import structlog
from django.http import HttpRequest, HttpResponse

from calls import services
from calls.telephony.credentials import carrier_client
from calls.telephony.registry import carrier_class, carrier_spec
from calls.webhooks import WebhookTarget, carrier_webhook

__all__ = [
    "answer_webhook",
    "plivo_forward",
    "plivo_say",
    "recording_webhook",
    "sms_webhook",
    "status_webhook",
]

logger = structlog.get_logger(__name__)

NO_CONTENT = 204


def _xml(provider: str, document: str) -> HttpResponse:
    return HttpResponse(document, content_type=carrier_class(provider).content_type)


def _empty_reply(provider: str) -> HttpResponse:
    return _xml(provider, '<?xml version="1.0" encoding="UTF-8"?><Response/>')


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


# Each view runs inside its organization's schema (``target``), or in the public schema with
# ``target`` None when the webhook leads to no organization.


@carrier_webhook(numbers=("To",))
def answer_webhook(
    request: HttpRequest, carrier: str, target: WebhookTarget | None
) -> HttpResponse:
    """Inbound calls (the number's voice URL, Plivo's application answer URL) and answered
    outbound calls (``?c=``)."""
    params = request.POST
    call_id_field = carrier_spec(carrier).call_id_field
    if target is None:
        logger.info("webhook_unknown_number", provider=carrier, to=params.get("To"))
        return _xml(
            carrier, carrier_client(carrier).say_and_hangup(services.UNKNOWN_NUMBER_MESSAGE)
        )
    if target.call_id is not None:
        document = services.call_outbound_answer(
            provider=carrier,
            call_id=target.call_id,
            provider_call_id=params.get(call_id_field, ""),
            payload=params,
        )
    else:
        document = services.call_inbound_answer(
            provider=carrier,
            provider_call_id=params.get(call_id_field, ""),
            from_number=params.get("From", ""),
            to_number=params.get("To", ""),
            payload=params,
        )
    return _xml(carrier, document)


@carrier_webhook(numbers=("To", "From"))
def status_webhook(
    request: HttpRequest, carrier: str, target: WebhookTarget | None
) -> HttpResponse:
    """Call progress: ringing, answered, machine verdicts, the final status (Plivo posts its
    ring, hangup and machine-detection events all to its hangup URL)."""
    if target is None:
        logger.warning("status_callback_without_organization", provider=carrier)
        return HttpResponse(status=NO_CONTENT)
    services.call_status_callback(provider=carrier, params=request.POST, call_id=target.call_id)
    return HttpResponse(status=NO_CONTENT)


@carrier_webhook()
def recording_webhook(
    request: HttpRequest, carrier: str, target: WebhookTarget | None
) -> HttpResponse:
    params = request.POST
    if target is None or target.call_id is None:
        logger.warning("recording_callback_without_call", provider=carrier)
        return HttpResponse(status=NO_CONTENT)
    if params.get("RecordingStatus", "completed") != "completed":
        return HttpResponse(status=NO_CONTENT)  # in-progress/absent: only the final one counts
    services.call_recording_store(
        call_id=target.call_id,
        url=params.get(carrier_spec(carrier).recording_url_field, ""),
        duration_seconds=_int(params.get("RecordingDuration")),
        payload=params,
        provider=carrier,
    )
    return HttpResponse(status=NO_CONTENT)


@carrier_webhook(numbers=("To",))
def sms_webhook(request: HttpRequest, carrier: str, target: WebhookTarget | None) -> HttpResponse:
    params = request.POST
    spec = carrier_spec(carrier)
    if target is None:
        logger.warning("sms_to_unknown_number", provider=carrier, to=params.get("To"))
        return _empty_reply(carrier)
    services.message_receive(
        provider=carrier,
        provider_message_id=params.get(spec.message_id_field, ""),
        from_number=params.get("From", ""),
        to_number=params.get("To", ""),
        body=params.get(spec.message_body_field, ""),
    )
    return _empty_reply(carrier)


# --- Plivo only: the documents a live call is redirected to (Twilio takes them inline) ---------


@carrier_webhook()
def plivo_forward(request: HttpRequest, carrier: str, target: WebhookTarget | None) -> HttpResponse:
    """What a transferred call is redirected to: dial the human named in our reference."""
    if target is None or target.call_id is None or not target.ref.get("n"):
        return HttpResponse(status=404)
    document = services.call_forward_answer(
        provider=carrier, call_id=target.call_id, to_number=target.ref["n"]
    )
    return _xml(carrier, document)


@carrier_webhook()
def plivo_say(request: HttpRequest, carrier: str, target: WebhookTarget | None) -> HttpResponse:
    """What a call is redirected to when it must say something and hang up."""
    if target is None or not target.ref.get("m"):
        return HttpResponse(status=404)
    return _xml(carrier, services.call_message_answer(provider=carrier, message=target.ref["m"]))
