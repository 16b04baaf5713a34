"""Twilio, on the official ``twilio`` SDK (REST client, RequestValidator, TwiML builders), and
its media-stream protocol (docs/protocols.md, "Twilio: REST and webhooks" and "Twilio: media
streams")."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.rest import Client
from twilio.twiml.voice_response import Connect, Dial, Start, VoiceResponse

from calls.telephony.base import (
    CallState,
    CallStatus,
    Carrier,
    CarrierClient,
    CarrierError,
    CarrierErrorKind,
    CarrierNumber,
    CarrierSpec,
    PlacedCall,
    SentMessage,
    StatusUpdate,
    header,
)
from calls.telephony.media import (
    Frame,
    MediaProtocol,
    StreamStart,
    frame_id,
    frame_object,
    media_format,
)

__all__ = ["CARRIER", "TwilioClient", "TwilioMediaProtocol", "error_kind"]

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_API_BASE_URL = "https://api.twilio.com"

STATUS_CALLBACK_EVENTS = ["initiated", "ringing", "answered", "completed"]

# Twilio error codes: https://www.twilio.com/docs/api/errors
INVALID_NUMBER_CODES = frozenset(
    {
        13223,  # Dial: invalid phone number format
        13224,  # Dial: invalid phone number
        21211,  # invalid 'To' phone number
        21214,  # 'To' phone number cannot be reached
        21217,  # phone number does not appear to be valid
        21401,  # invalid phone number
        21421,  # PhoneNumber is invalid
        21614,  # 'To' number is not a valid mobile number (SMS)
    }
)
RATE_LIMIT_CODES = frozenset({20429, 14107})
AUTH_CODES = frozenset({20003, 20005})

STATUS_MAP: dict[str, CallStatus] = {
    "queued": CallStatus.QUEUED,
    "initiated": CallStatus.QUEUED,
    "ringing": CallStatus.RINGING,
    "in-progress": CallStatus.IN_PROGRESS,
    "answered": CallStatus.IN_PROGRESS,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "canceled": CallStatus.CANCELED,
    "failed": CallStatus.FAILED,
}

# AnsweredBy values; "unknown" is deliberately absent: Twilio could not decide.
ANSWERED_BY_MACHINE: dict[str, bool] = {
    "human": False,
    "machine_start": True,
    "machine_end_beep": True,
    "machine_end_silence": True,
    "machine_end_other": True,
    "fax": True,
}


def error_kind(code: int | None, http_status: int | None) -> CarrierErrorKind:
    if code in INVALID_NUMBER_CODES:
        return CarrierErrorKind.INVALID_NUMBER
    if code in RATE_LIMIT_CODES or http_status == 429:
        return CarrierErrorKind.RATE_LIMITED
    if code in AUTH_CODES or http_status == 401:
        return CarrierErrorKind.AUTH_FAILED
    return CarrierErrorKind.OTHER


def _carrier_error(exc: Exception) -> CarrierError:
    """Translate whatever the SDK raised into a CarrierError."""
    code: int | None = None
    status: int | None = None
    message = str(exc)
    if isinstance(exc, TwilioRestException):
        code, status, message = exc.code, exc.status, exc.msg
    elif isinstance(exc, TwilioServiceException):
        code, status, message = exc.code, exc.status, exc.detail or exc.title
    elif isinstance(exc, TwilioException) and len(exc.args) == 2:
        # Paging raises TwilioException("Unable to fetch page", response) with the raw response.
        response = exc.args[1]
        status = getattr(response, "status_code", None)
        try:
            payload = json.loads(response.text)
            code, message = payload.get("code"), payload.get("message", message)
        except (AttributeError, ValueError):
            pass
    return CarrierError(
        code="" if code is None else str(code),
        message=message,
        http_status=status,
        kind=error_kind(code, status),
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _http_client(api_base_url: str, timeout: float) -> TwilioHttpClient:
    """The SDK's HTTP client with the environment's proxy and CA bundle read once, here.
    requests otherwise reads them again on every request (it scans every environment
    variable and looks for ~/.netrc), about a millisecond of CPU per dial, which a claim of
    thousands of scheduled calls pays thousands of times (docs/benchmarks.md, "Schedules").
    The same settings apply: the proxy for the API host unless ``no_proxy`` names it, and
    ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``."""
    http = TwilioHttpClient(
        timeout=timeout, proxy=requests.utils.get_environ_proxies(api_base_url) or None
    )
    if http.session is not None:
        http.session.trust_env = False
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            http.session.verify = bundle
    return http


class TwilioClient(CarrierClient):
    provider = Carrier.TWILIO.value
    numbers_page_size = 100

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        api_base_url: str = DEFAULT_API_BASE_URL,
        timeout: float = 15.0,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._client = Client(
            account_sid, auth_token, http_client=_http_client(api_base_url, timeout)
        )
        # Domain.base_url is the SDK's one switch for the API host (docs/protocols.md, "Twilio:
        # REST and webhooks"); paging follows next_page_uri relative to it too.
        self._client.api.base_url = api_base_url.rstrip("/")

    # --- REST -----------------------------------------------------------------------------

    def _call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (TwilioException, requests.RequestException) as exc:
            raise _carrier_error(exc) from exc

    def place_call(
        self,
        *,
        to: str,
        from_: str,
        answer_url: str,
        status_callback_url: str,
        machine_detection: bool = False,
        time_limit_seconds: int | None = None,
        record: bool = False,
        recording_callback_url: str | None = None,
    ) -> PlacedCall:
        options: dict[str, Any] = {}
        if machine_detection:
            # Asynchronous AMD: the caller hears the agent at once instead of waiting for the
            # detector (seconds of dead air for every human); the verdict (AnsweredBy) is posted
            # to the status callback URL while the call goes on. DetectMessageEnd waits for the
            # beep, so a machine verdict arrives just when a voicemail can be left.
            options.update(
                machine_detection="DetectMessageEnd",
                async_amd="true",
                async_amd_status_callback=status_callback_url,
                async_amd_status_callback_method="POST",
            )
        if time_limit_seconds is not None:
            options["time_limit"] = time_limit_seconds
        if record:
            options["record"] = True
            if recording_callback_url:
                options["recording_status_callback"] = recording_callback_url
                options["recording_status_callback_method"] = "POST"
        call = self._call(
            self._client.calls.create,
            to=to,
            from_=from_,
            url=answer_url,
            method="POST",
            status_callback=status_callback_url,
            status_callback_method="POST",
            status_callback_event=STATUS_CALLBACK_EVENTS,
            **options,
        )
        return PlacedCall(provider_call_id=call.sid, status=call.status)

    def hangup(self, provider_call_id: str) -> None:
        # "completed" ends the call in any state; "canceled" would leave an answered call up.
        self._call(self._client.calls(provider_call_id).update, status="completed")

    def transfer(
        self, provider_call_id: str, *, to_number: str, forward_url: str | None = None
    ) -> None:
        # New TwiML ends the <Connect><Stream> (the bridge sees "stop") and dials the human.
        self._call(
            self._client.calls(provider_call_id).update, twiml=self.forward_answer(to_number)
        )

    def say_and_hangup_live(
        self, provider_call_id: str, *, message: str, document_url: str | None = None
    ) -> None:
        self._call(self._client.calls(provider_call_id).update, twiml=self.say_and_hangup(message))

    def fetch_call_status(self, provider_call_id: str) -> CallState | None:
        try:
            call = self._call(self._client.calls(provider_call_id).fetch)
        except CarrierError as exc:
            if exc.http_status == 404:
                return None
            raise
        raw_status = str(call.status or "")
        return CallState(
            provider_call_id=provider_call_id,
            status=self.normalize_status(raw_status),
            raw_status=raw_status,
            duration_seconds=_int_or_none(call.duration),
        )

    def send_sms(
        self, *, to: str, from_: str, body: str, status_callback_url: str | None = None
    ) -> SentMessage:
        options = {"status_callback": status_callback_url} if status_callback_url else {}
        message = self._call(self._client.messages.create, to=to, from_=from_, body=body, **options)
        return SentMessage(provider_message_id=message.sid, status=message.status)

    def list_numbers(self) -> list[CarrierNumber]:
        def read() -> list[CarrierNumber]:
            return [
                _carrier_number(item)
                for item in self._client.incoming_phone_numbers.stream(
                    page_size=self.numbers_page_size
                )
            ]

        return self._call(read)

    def find_number(self, number: str) -> CarrierNumber | None:
        items = self._call(self._client.incoming_phone_numbers.list, phone_number=number, limit=1)
        return _carrier_number(items[0]) if items else None

    def configure_number(
        self, number: CarrierNumber, *, voice_url: str, status_url: str, sms_url: str
    ) -> None:
        """The IncomingPhoneNumber's voice URL, status callback and SMS URL, all POST."""
        self._call(
            self._client.incoming_phone_numbers(number.provider_id).update,
            voice_url=voice_url,
            voice_method="POST",
            status_callback=status_url,
            status_callback_method="POST",
            sms_url=sms_url,
            sms_method="POST",
        )

    # --- webhooks -------------------------------------------------------------------------

    def validate_signature(
        self,
        *,
        url: str,
        params: Mapping[str, Any],
        headers: Mapping[str, str],
        body: bytes = b"",
    ) -> bool:
        signature = header(headers, SIGNATURE_HEADER)
        if not signature:
            return False
        algorithm = get_signature_algorithm(header(headers, SIGNATURE_SETTINGS_HEADER))
        validator = RequestValidator(self.auth_token)
        signed: Mapping[str, Any] | str = params
        if "bodySHA256" in parse_qs(urlsplit(url).query):
            # JSON webhooks: Twilio signs the URL (which carries the body's hash) and no params.
            signed = body.decode("utf-8")
        for candidate in _url_forms(url):
            if validator.validate(candidate, signed, signature, algorithm):
                return True
        return False

    def stream_answer(
        self,
        *,
        stream_url: str,
        parameters: Mapping[str, str],
        status_callback_url: str | None = None,
        record_callback_url: str | None = None,
    ) -> str:
        if urlsplit(stream_url).query:
            # Twilio rejects query strings on <Stream url> (errors 31920/31922).
            raise ValueError("Twilio stream URLs take no query string: use parameters")
        response = VoiceResponse()
        if record_callback_url:
            start = Start()
            start.recording(
                recording_status_callback=record_callback_url,
                recording_status_callback_method="POST",
                recording_status_callback_event="completed",
            )
            response.append(start)
        connect = Connect()
        stream_options = {"status_callback": status_callback_url} if status_callback_url else {}
        if status_callback_url:
            stream_options["status_callback_method"] = "POST"
        stream = connect.stream(url=stream_url, **stream_options)
        for name, value in parameters.items():
            stream.parameter(name=name, value=value)
        response.append(connect)
        xml: str = response.to_xml()  # the twilio SDK has no type information
        return xml

    def say_and_hangup(self, message: str, *, language: str = "en-US") -> str:
        response = VoiceResponse()
        response.say(message, language=language)
        response.hangup()
        xml: str = response.to_xml()  # the twilio SDK has no type information
        return xml

    def forward_answer(self, number: str, *, caller_id: str | None = None) -> str:
        response = VoiceResponse()
        dial = Dial(caller_id=caller_id) if caller_id else Dial()
        dial.number(number)
        response.append(dial)
        xml: str = response.to_xml()  # the twilio SDK has no type information
        return xml

    @classmethod
    def normalize_status(
        cls, raw_status: str, *, hangup_cause: str | None = None
    ) -> CallStatus | None:
        return STATUS_MAP.get((raw_status or "").strip().lower())

    @classmethod
    def is_machine(cls, value: str | None) -> bool | None:
        return ANSWERED_BY_MACHINE.get((value or "").strip().lower())

    @classmethod
    def parse_status_callback(cls, params: Mapping[str, Any]) -> StatusUpdate:
        call_sid = params.get("CallSid", "")
        raw_status = params.get("CallStatus", "")
        return StatusUpdate(
            provider_call_id=call_sid,
            placed_call_id=call_sid,
            status=cls.normalize_status(raw_status) if raw_status else None,
            raw_status=raw_status,
            duration_seconds=_int_or_none(params.get("CallDuration")),
            is_machine=cls.is_machine(params.get("AnsweredBy")),
            sequence=_int_or_none(params.get("SequenceNumber")),
            recording_url=params.get("RecordingUrl") or None,
        )


def _carrier_number(item: Any) -> CarrierNumber:
    """An IncomingPhoneNumber of the SDK as our CarrierNumber."""
    capabilities = {k.lower(): v for k, v in (item.capabilities or {}).items()}
    return CarrierNumber(
        number=item.phone_number,
        provider_id=item.sid,
        friendly_name=item.friendly_name or "",
        voice=bool(capabilities.get("voice")),
        sms=bool(capabilities.get("sms")),
    )


def _url_forms(url: str) -> list[str]:
    """The URL as given, plus its https twin for a WebSocket URL.

    Twilio signs the media-stream upgrade too; which form it signs (wss:// or https://) is not
    documented clearly, so both are accepted.
    """
    parts = urlsplit(url)
    twin = {"wss": "https", "ws": "http"}.get(parts.scheme)
    if twin is None:
        return [url]
    return [url, urlunsplit(parts._replace(scheme=twin))]


# --- media streams ------------------------------------------------------------------------------
# Frames we send are built by string concatenation: calls.telephony.media says why.


class TwilioMediaProtocol(MediaProtocol):
    name = "twilio"
    MARK = "mark"
    IGNORED = frozenset({"connected"})

    def parse_start(self, message: Frame) -> StreamStart:
        start = frame_object(message.get("start"), "start")
        stream_id = frame_id(start.get("streamSid") or message.get("streamSid"), "streamSid")
        call_sid = frame_id(start.get("callSid"), "start.callSid")
        parameters = frame_object(
            start.get("customParameters"), "start.customParameters", optional=True
        )
        encoding, sample_rate = media_format(start.get("mediaFormat"), "start.mediaFormat")
        self.stream_id = stream_id
        self._media_head = (
            '{"event":"media","streamSid":"' + self.stream_id + '","media":{"payload":"'
        )
        return StreamStart(
            stream_id=stream_id,
            carrier_call_id=call_sid,
            parameters={str(k): str(v) for k, v in parameters.items()},
            encoding=encoding,
            sample_rate=sample_rate,
        )

    def mark_name(self, message: Frame) -> str:
        name: str = message["mark"]["name"]
        return name

    def media(self, payload_b64: str) -> str:
        return self._media_head + payload_b64 + '"}}'

    def mark(self, name: str) -> str:
        return (
            '{"event":"mark","streamSid":"' + self.stream_id + '","mark":{"name":"' + name + '"}}'
        )

    def clear(self) -> str:
        return '{"event":"clear","streamSid":"' + self.stream_id + '"}'


CARRIER = CarrierSpec(
    name=TwilioClient.provider,
    client_class=TwilioClient,
    media_protocol_class=TwilioMediaProtocol,
    call_id_field="CallSid",
    recording_url_field="RecordingUrl",
    message_id_field="MessageSid",
    message_body_field="Body",
    signature_header_prefix=SIGNATURE_HEADER,
    answer_route="telephony-twilio-voice",
    status_route="telephony-twilio-status",
    recording_route="telephony-twilio-recording",
    sms_route="telephony-twilio-sms",
)
