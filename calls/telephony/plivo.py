"""Plivo, over its REST API with httpx (JSON bodies, basic auth) and hand-built Plivo XML.

The ``plivo`` SDK is not used: what we need is a handful of requests, the XML below and the
V3 signature (``plivo.utils.signature_v3`` in plivo 4.63.0, reproduced in
``calls.telephony.plivo_signature`` and pinned by known-answer tests). The media-stream
protocol is here too (docs/protocols.md, "Plivo: REST and webhooks" and "Plivo: media
streams").

Plivo quirks the rest of the code must know:

- ``place_call`` returns a ``request_uuid``; the live call has another id, ``CallUUID``, sent
  with every callback (``StatusUpdate.provider_call_id``, while ``placed_call_id`` is the
  RequestUUID). ``hangup`` accepts either; ``transfer`` needs the CallUUID.
- Plivo has no recording flag on the call request: record with ``stream_answer(...,
  record_callback_url=...)``.
- ``transfer`` needs ``forward_url``: Plivo fetches the new XML, it cannot take it inline.
- Stream parameters travel as ``extraHeaders``, letters and digits only; the bridge finds them
  in the start message's ``extra_headers`` (``k=v;k=v``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin
from xml.etree import ElementTree as ET

import httpx

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
)
from calls.telephony.media import (
    Frame,
    InvalidStartFrame,
    MediaProtocol,
    StreamStart,
    frame_id,
    frame_object,
    media_format,
)
from calls.telephony.plivo_signature import signature_v3, signature_v3_valid

__all__ = [
    "CARRIER",
    "PlivoClient",
    "PlivoMediaProtocol",
    "error_kind",
    "hangup_cause_status",
    "signature_v3",
]

DEFAULT_API_BASE_URL = "https://api.plivo.com"
NUMBERS_PAGE_SIZE = 20  # Plivo's maximum
EXTRA_HEADERS_MAX_BYTES = 512
# The Plivo Application that holds our answer, hangup and message URLs (configure_number).
APPLICATION_NAME = "voiceagents"
# Longest recording Plivo takes for a whole session; <Record> defaults to 60 s otherwise.
RECORD_MAX_SECONDS = 86400

STATUS_MAP: dict[str, CallStatus] = {
    "queued": CallStatus.QUEUED,
    "ringing": CallStatus.RINGING,
    "in-progress": CallStatus.IN_PROGRESS,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "cancel": CallStatus.CANCELED,
    "canceled": CallStatus.CANCELED,
    # "timeout" is a carrier or network timeout while connecting, not an unanswered phone
    # (that one is "no-answer").
    "timeout": CallStatus.FAILED,
    "failed": CallStatus.FAILED,
}

_ALPHANUMERIC = re.compile(r"^[A-Za-z0-9]+$")
_INVALID_NUMBER_TEXT = re.compile(
    r"invalid.*\b(number|destination|to|dst)\b|\b(number|destination)\b.*\b(invalid|not valid)\b",
    re.IGNORECASE,
)


def hangup_cause_status(cause: str) -> CallStatus | None:
    """What a Plivo hangup cause (numeric HangupCauseCode or its name) says about the call.

    Codes from Plivo's "Standard Plivo Hangup Causes" page: 1000 canceled by API before answer,
    1010/1020 canceled by Plivo (credits, dial limit), 2000-2999 destination problems, 4000-4999
    normal completion. Busy, rejected and unanswered calls are recognized by name.
    """
    cause = cause.strip()
    if cause.isdigit():
        code = int(cause)
        if code == 1000:
            return CallStatus.CANCELED
        if 1000 < code < 3000:
            return CallStatus.FAILED
        if 4000 <= code < 5000:
            return CallStatus.COMPLETED
        return None
    name = cause.lower().replace("_", " ")
    if "busy" in name or "reject" in name:
        return CallStatus.BUSY
    if "no answer" in name or "no user response" in name or "ring timeout" in name:
        return CallStatus.NO_ANSWER
    if "cancel" in name:
        return CallStatus.CANCELED
    if "invalid" in name or "unallocated" in name:
        return CallStatus.FAILED
    return None


def error_kind(http_status: int | None, message: str) -> CarrierErrorKind:
    if http_status == 401:
        return CarrierErrorKind.AUTH_FAILED
    if http_status == 429:
        return CarrierErrorKind.RATE_LIMITED
    if http_status == 400 and _INVALID_NUMBER_TEXT.search(message):
        return CarrierErrorKind.INVALID_NUMBER
    return CarrierErrorKind.OTHER


def _plivo_number(number: str) -> str:
    """Plivo takes numbers as country code + number, without the ``+``."""
    return number.removeprefix("+")


def _e164(number: str) -> str:
    return number if number.startswith("+") else f"+{number}"


def _carrier_number(item: dict[str, Any]) -> CarrierNumber:
    """A number object of Plivo's API as our CarrierNumber."""
    return CarrierNumber(
        number=_e164(item["number"]),
        provider_id=item["number"],
        friendly_name=item.get("alias") or "",
        voice=bool(item.get("voice_enabled")),
        sms=bool(item.get("sms_enabled")),
    )


def _xml(root: ET.Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class PlivoClient(CarrierClient):
    provider = Carrier.PLIVO.value

    def __init__(
        self,
        *,
        auth_id: str,
        auth_token: str,
        api_base_url: str = DEFAULT_API_BASE_URL,
        timeout: float = 15.0,
    ) -> None:
        self.auth_id = auth_id
        self.auth_token = auth_token
        self.api_base_url = api_base_url.rstrip("/")
        self.timeout = timeout

    # --- REST -----------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_base_url,
            auth=(self.auth_id, self.auth_token),
            timeout=self.timeout,
            headers={"User-Agent": "voiceagents", "Accept": "application/json"},
        )

    def _path(self, *parts: str) -> str:
        return "/".join(["/v1/Account", self.auth_id, *parts]) + "/"

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        http: httpx.Client | None = None,
    ) -> dict[str, Any]:
        try:
            if http is None:
                with self._http() as own:
                    response = own.request(method, path, json=json, params=params)
            else:
                response = http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise CarrierError(
                code="", message=str(exc), http_status=None, kind=CarrierErrorKind.OTHER
            ) from exc
        if response.is_success:
            return response.json() if response.content else {}
        raise self._error(response)

    @staticmethod
    def _error(response: httpx.Response) -> CarrierError:
        message, code = response.reason_phrase, str(response.status_code)
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):
            code = str(error.get("error_code") or error.get("code") or code)
            message = str(error.get("message") or error)
        elif error:
            message = str(error)
        return CarrierError(
            code=code,
            message=message,
            http_status=response.status_code,
            kind=error_kind(response.status_code, message),
        )

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
        if record:
            raise ValueError(
                "Plivo cannot record from the call request: "
                "pass record_callback_url to stream_answer instead"
            )
        payload: dict[str, Any] = {
            "from": _plivo_number(from_),
            "to": _plivo_number(to),
            "answer_url": answer_url,
            "answer_method": "POST",
            # Plivo has no single status callback: ring and hangup each get their own URL.
            "ring_url": status_callback_url,
            "ring_method": "POST",
            "hangup_url": status_callback_url,
            "hangup_method": "POST",
        }
        if machine_detection:
            # Asynchronous detection (same reasoning as Twilio): the call is bridged at once and
            # the verdict (Machine=true/false) is posted to the status URL.
            payload.update(
                machine_detection="true",
                machine_detection_url=status_callback_url,
                machine_detection_method="POST",
            )
        if time_limit_seconds is not None:
            payload["time_limit"] = time_limit_seconds
        data = self._request("POST", self._path("Call"), json=payload)
        # Plivo answers "call fired"/"call queued" with no status: the call is queued with us.
        return PlacedCall(provider_call_id=data["request_uuid"], status="queued")

    def hangup(self, provider_call_id: str) -> None:
        try:
            self._request("DELETE", self._path("Call", provider_call_id))
        except CarrierError as exc:
            if exc.http_status != 404:
                raise
            # Not a live CallUUID: a RequestUUID of a call still queued or ringing is canceled.
            self._request("DELETE", self._path("Request", provider_call_id))

    def transfer(
        self, provider_call_id: str, *, to_number: str, forward_url: str | None = None
    ) -> None:
        if not forward_url:
            raise ValueError("Plivo transfers fetch their XML: forward_url is required")
        self._request(
            "POST",
            self._path("Call", provider_call_id),
            json={"legs": "aleg", "aleg_url": forward_url, "aleg_method": "POST"},
        )

    def say_and_hangup_live(
        self, provider_call_id: str, *, message: str, document_url: str | None = None
    ) -> None:
        if not document_url:
            raise ValueError("Plivo fetches the message document: document_url is required")
        # A redirect of the A leg to our document, the same request as a transfer.
        self.transfer(provider_call_id, to_number="", forward_url=document_url)

    def fetch_call_status(self, provider_call_id: str) -> CallState | None:
        """Plivo keeps live calls, queued calls and finished calls (their records) apart: ask
        for a live call first, then the record of a finished one, then a queued request (our
        id may still be the RequestUUID of a call never answered)."""
        path = self._path("Call", provider_call_id)
        with self._http() as http:
            for params in ({"status": "live"}, None, {"status": "queued"}):
                try:
                    data = self._request("GET", path, params=params, http=http)
                except CarrierError as exc:
                    if exc.http_status == 404:
                        continue
                    raise
                if params is None:  # a finished call's record: its hangup cause says how
                    cause = str(
                        data.get("hangup_cause_code") or data.get("hangup_cause_name") or ""
                    )
                    status = hangup_cause_status(cause) if cause else None
                    return CallState(
                        provider_call_id=provider_call_id,
                        status=status or CallStatus.COMPLETED,
                        raw_status=str(data.get("call_state") or cause or "completed"),
                        duration_seconds=_int_or_none(data.get("call_duration")),
                    )
                default = "in-progress" if params["status"] == "live" else "queued"
                raw_status = str(data.get("call_status") or default)
                return CallState(
                    provider_call_id=provider_call_id,
                    status=STATUS_MAP.get(raw_status.strip().lower()),
                    raw_status=raw_status,
                )
        return None

    def send_sms(
        self, *, to: str, from_: str, body: str, status_callback_url: str | None = None
    ) -> SentMessage:
        payload: dict[str, Any] = {
            "src": _plivo_number(from_),
            "dst": _plivo_number(to),
            "text": body,
        }
        if status_callback_url:
            payload.update(url=status_callback_url, method="POST")
        data = self._request("POST", self._path("Message"), json=payload)
        return SentMessage(provider_message_id=data["message_uuid"][0], status="queued")

    def list_numbers(self) -> list[CarrierNumber]:
        numbers: list[CarrierNumber] = []
        path: str | None = self._path("Number")
        params: dict[str, Any] | None = {"limit": NUMBERS_PAGE_SIZE, "offset": 0}
        with self._http() as http:
            while path:
                data = self._request("GET", path, params=params, http=http)
                numbers.extend(_carrier_number(item) for item in data.get("objects", []))
                # meta.next is a path with its own limit/offset query, relative to the host.
                path = (data.get("meta") or {}).get("next")
                if path:
                    path = urljoin(self.api_base_url + "/", path)
                params = None
        return numbers

    def find_number(self, number: str) -> CarrierNumber | None:
        try:
            item = self._request("GET", self._path("Number", _plivo_number(number)))
        except CarrierError as exc:
            if exc.http_status == 404:
                return None
            raise
        return _carrier_number(item)

    def configure_number(
        self, number: CarrierNumber, *, voice_url: str, status_url: str, sms_url: str
    ) -> None:
        """Plivo numbers take their URLs from an Application: ours (``APPLICATION_NAME``,
        created once per account, its URLs refreshed) gets answer = ``voice_url``, hangup =
        ``status_url``, message = ``sms_url``, and the number is attached to it."""
        urls = {
            "answer_url": voice_url,
            "answer_method": "POST",
            "hangup_url": status_url,
            "hangup_method": "POST",
            "message_url": sms_url,
            "message_method": "POST",
        }
        with self._http() as http:
            found = self._request(
                "GET", self._path("Application"), params={"app_name": APPLICATION_NAME}, http=http
            )
            existing = [
                app for app in found.get("objects", []) if app.get("app_name") == APPLICATION_NAME
            ]
            if existing:
                app_id = str(existing[0]["app_id"])
                self._request("POST", self._path("Application", app_id), json=urls, http=http)
            else:
                created = self._request(
                    "POST",
                    self._path("Application"),
                    json={"app_name": APPLICATION_NAME, **urls},
                    http=http,
                )
                app_id = str(created["app_id"])
            self._request(
                "POST", self._path("Number", number.provider_id), json={"app_id": app_id}, http=http
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
        return signature_v3_valid(self.auth_token, url=url, params=params, headers=headers)

    def stream_answer(
        self,
        *,
        stream_url: str,
        parameters: Mapping[str, str],
        status_callback_url: str | None = None,
        record_callback_url: str | None = None,
    ) -> str:
        response = ET.Element("Response")
        if record_callback_url:
            ET.SubElement(
                response,
                "Record",
                recordSession="true",
                redirect="false",
                maxLength=str(RECORD_MAX_SECONDS),
                callbackUrl=record_callback_url,
                callbackMethod="POST",
            )
        attributes = {
            "bidirectional": "true",
            "keepCallAlive": "true",
            "contentType": "audio/x-mulaw;rate=8000",
        }
        if status_callback_url:
            attributes.update(statusCallbackUrl=status_callback_url, statusCallbackMethod="POST")
        if parameters:
            attributes["extraHeaders"] = _extra_headers(parameters)
        stream = ET.SubElement(response, "Stream", attributes)
        stream.text = stream_url
        return _xml(response)

    def say_and_hangup(self, message: str, *, language: str = "en-US") -> str:
        response = ET.Element("Response")
        speak = ET.SubElement(response, "Speak", language=language)
        speak.text = message
        ET.SubElement(response, "Hangup")
        return _xml(response)

    def forward_answer(self, number: str, *, caller_id: str | None = None) -> str:
        response = ET.Element("Response")
        dial = ET.SubElement(response, "Dial")
        if caller_id:
            dial.set("callerId", _plivo_number(caller_id))
        ET.SubElement(dial, "Number").text = _plivo_number(number)
        return _xml(response)

    @classmethod
    def normalize_status(
        cls, raw_status: str, *, hangup_cause: str | None = None
    ) -> CallStatus | None:
        return _refine(STATUS_MAP.get((raw_status or "").strip().lower()), [hangup_cause])

    @classmethod
    def is_machine(cls, value: str | None) -> bool | None:
        return {"true": True, "false": False}.get((value or "").strip().lower())

    @classmethod
    def parse_status_callback(cls, params: Mapping[str, Any]) -> StatusUpdate:
        raw_status = params.get("CallStatus", "")
        causes = [
            params.get(name) for name in ("HangupCauseCode", "HangupCauseName", "HangupCause")
        ]
        status = _refine(STATUS_MAP.get(raw_status.strip().lower()), causes)
        if params.get("Event") == "MachineDetection":
            # Its CallStatus is always "in-progress": it is a verdict, not a transition.
            status = None
        call_uuid = params.get("CallUUID", "")
        return StatusUpdate(
            provider_call_id=call_uuid,
            placed_call_id=params.get("RequestUUID") or params.get("ALegRequestUUID") or call_uuid,
            status=status,
            raw_status=raw_status,
            duration_seconds=_int_or_none(params.get("Duration")),
            is_machine=cls.is_machine(params.get("Machine")),
            sequence=None,
            recording_url=params.get("RecordUrl") or params.get("RecordingUrl") or None,
        )


def _refine(status: CallStatus | None, causes: list[str | None]) -> CallStatus | None:
    """A hung-up call may report "completed" with the real outcome only in its hangup cause."""
    if status is not CallStatus.COMPLETED:
        return status
    for cause in causes:
        refined = hangup_cause_status(cause) if cause else None
        if refined is not None:
            return refined
    return status


def _extra_headers(parameters: Mapping[str, str]) -> str:
    for name, value in parameters.items():
        if not (_ALPHANUMERIC.match(name) and _ALPHANUMERIC.match(str(value))):
            # Plivo accepts only [A-Za-z0-9] in extraHeaders (pass a UUID as uuid.hex).
            raise ValueError(f"Plivo stream parameters must be alphanumeric: {name}={value!r}")
    joined = ",".join(f"{name}={value}" for name, value in parameters.items())
    if len(joined.encode()) > EXTRA_HEADERS_MAX_BYTES:
        raise ValueError(f"Plivo extraHeaders are limited to {EXTRA_HEADERS_MAX_BYTES} bytes")
    return joined


# --- media streams ------------------------------------------------------------------------------
# Frames we send are built by string concatenation: calls.telephony.media says why.


class PlivoMediaProtocol(MediaProtocol):
    name = "plivo"
    MARK = "playedStream"
    IGNORED = frozenset({"clearedAudio"})
    _MEDIA_HEAD = (
        '{"event":"playAudio","media":{"contentType":"audio/x-mulaw","sampleRate":8000,"payload":"'
    )

    def parse_start(self, message: Frame) -> StreamStart:
        start = frame_object(message.get("start"), "start")
        stream_id = frame_id(start.get("streamId"), "start.streamId")
        call_id = frame_id(start.get("callId"), "start.callId")
        # Plivo passes our stream parameters as extraHeaders: "k=v;k=v" (or "k=v,k=v").
        raw = message.get("extra_headers") or start.get("extra_headers") or ""
        if not isinstance(raw, str):
            raise InvalidStartFrame("extra_headers is not a string")
        parameters: dict[str, str] = {}
        for part in raw.replace(",", ";").split(";"):
            key, sep, value = part.partition("=")
            if sep and key.strip():
                parameters[key.strip()] = value.strip()
        encoding, sample_rate = media_format(start.get("mediaFormat"), "start.mediaFormat")
        self.stream_id = stream_id
        return StreamStart(
            stream_id=stream_id,
            carrier_call_id=call_id,
            parameters=parameters,
            encoding=encoding,
            sample_rate=sample_rate,
        )

    def mark_name(self, message: Frame) -> str:
        name: str = message["name"]
        return name

    def media(self, payload_b64: str) -> str:
        return self._MEDIA_HEAD + payload_b64 + '"}}'

    def mark(self, name: str) -> str:
        return '{"event":"checkpoint","streamId":"' + self.stream_id + '","name":"' + name + '"}'

    def clear(self) -> str:
        return '{"event":"clearAudio","streamId":"' + self.stream_id + '"}'


CARRIER = CarrierSpec(
    name=PlivoClient.provider,
    client_class=PlivoClient,
    media_protocol_class=PlivoMediaProtocol,
    call_id_field="CallUUID",
    recording_url_field="RecordUrl",
    message_id_field="MessageUUID",
    message_body_field="Text",
    signature_header_prefix="X-Plivo-Signature",
    answer_route="telephony-plivo-answer",
    # Plivo posts ring, hangup and machine-detection events to the one URL it is given.
    status_route="telephony-plivo-hangup",
    recording_route="telephony-plivo-recording",
    sms_route="telephony-plivo-sms",
    forward_route="telephony-plivo-forward",
    say_route="telephony-plivo-say",
)
