"""The small interface between the call services and a telephony carrier (Twilio, Plivo).

Nothing here knows about our Django models: services pass plain strings in and get plain
dataclasses back, so one call flow works with any carrier. The shared vocabulary (``Carrier``,
``CallStatus``) is defined here as Django choices, so the models use these very enums for
their fields and nothing in this package imports the models. Two directions:

- REST, us -> carrier: ``place_call``, ``hangup``, ``transfer``, ``send_sms``, ``list_numbers``,
  ``fetch_call_status`` (what the carrier says a call is doing now), ``find_number`` and
  ``configure_number`` (one number of the account, and pointing its webhooks at us).
  Every carrier failure (HTTP error or transport error) is raised as :class:`CarrierError`.
- Webhooks, carrier -> us: ``validate_signature`` on every request, the answer documents
  (``stream_answer``, ``say_and_hangup``, ``forward_answer``, served with ``content_type``) and
  ``parse_status_callback``, which turns each carrier's callback form into one
  :class:`StatusUpdate` with a normalized :class:`CallStatus`.

Signatures are computed by the carrier over the *public* URL it requested. Behind a proxy,
``request.build_absolute_uri()`` names the internal host or ``http://`` and never validates:
build the URL with :func:`public_url` from the configured public base URL instead.

Each carrier's module ends with a :class:`CarrierSpec` (its client, its media protocol, its
webhook field names and our routes for it), which ``registry.CARRIERS`` lists.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.db import models

from calls.telephony.media import MediaProtocol


class Carrier(models.TextChoices):
    """The carriers we talk to; each has a module here and an entry in ``registry.CARRIERS``."""

    TWILIO = "twilio", "Twilio"
    PLIVO = "plivo", "Plivo"


class CallStatus(models.TextChoices):
    """Our call statuses (the ``Call.status`` choices, and the state machine of
    ``calls.lifecycle``); each carrier maps its own vocabulary onto these."""

    QUEUED = "queued", "Queued"
    RINGING = "ringing", "Ringing"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    BUSY = "busy", "Busy"
    NO_ANSWER = "no_answer", "No answer"
    CANCELED = "canceled", "Canceled"
    FAILED = "failed", "Failed"


FINAL_STATUSES = frozenset(
    {
        CallStatus.COMPLETED,
        CallStatus.BUSY,
        CallStatus.NO_ANSWER,
        CallStatus.CANCELED,
        CallStatus.FAILED,
    }
)
ACTIVE_STATUSES = frozenset({CallStatus.QUEUED, CallStatus.RINGING, CallStatus.IN_PROGRESS})


class CarrierErrorKind(enum.StrEnum):
    INVALID_NUMBER = "invalid_number"
    RATE_LIMITED = "rate_limited"
    AUTH_FAILED = "auth_failed"
    OTHER = "other"


class CarrierError(Exception):
    """A carrier refused a request or could not be reached.

    ``code`` is the carrier's own error code as a string (Twilio: ``"21211"``; Plivo sends no
    codes, so its HTTP status), empty for transport errors. ``http_status`` is ``None`` when no
    HTTP answer came back. ``kind`` is what callers branch on.
    """

    def __init__(
        self,
        *,
        code: str,
        message: str,
        http_status: int | None,
        kind: CarrierErrorKind,
    ) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.kind = kind


@dataclass(frozen=True, slots=True)
class PlacedCall:
    """The carrier accepted an outbound call.

    ``provider_call_id`` is what the carrier returned: a Twilio CallSid, or a Plivo
    ``request_uuid`` (Plivo names the live call by a different CallUUID, which arrives with the
    first callback: see :attr:`StatusUpdate.placed_call_id`). ``status`` is the carrier's raw
    status word.
    """

    provider_call_id: str
    status: str


@dataclass(frozen=True, slots=True)
class SentMessage:
    provider_message_id: str
    status: str


@dataclass(frozen=True, slots=True)
class CarrierNumber:
    """A phone number owned by the carrier account. ``number`` is E.164 with the ``+``."""

    number: str
    provider_id: str
    friendly_name: str
    voice: bool
    sms: bool


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One call callback, whatever the carrier.

    ``status`` is ``None`` when the callback carries no call status we know (Twilio's async
    answering-machine result, a recording callback) or one we do not recognize; ``raw_status``
    keeps the carrier's word. ``placed_call_id`` is the id :meth:`CarrierClient.place_call`
    returned for this call (Plivo: the RequestUUID; Twilio: the CallSid again), so a service can
    find the call row and then store ``provider_call_id``, the id the carrier uses for the live
    call from now on. ``sequence`` orders Twilio callbacks, which may arrive out of order;
    Plivo sends none. ``is_machine`` is ``None`` when there is no verdict.
    """

    provider_call_id: str
    placed_call_id: str
    status: CallStatus | None
    raw_status: str
    duration_seconds: int | None = None
    is_machine: bool | None = None
    sequence: int | None = None
    recording_url: str | None = None


@dataclass(frozen=True, slots=True)
class CallState:
    """What the carrier says about one call when asked (``fetch_call_status``): ``status`` in
    our vocabulary (``None`` for a word we do not know, kept in ``raw_status``), and the
    billed duration once it ended."""

    provider_call_id: str
    status: CallStatus | None
    raw_status: str
    duration_seconds: int | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


def public_url(public_base_url: str, full_path: str) -> str:
    """The URL a carrier signed: our public scheme and host + the request's path and query.

    Pass ``request.get_full_path()`` (it keeps the query string and any script prefix). Only
    the scheme and host of ``public_base_url`` are used.
    """
    base = urlsplit(public_base_url)
    if not base.scheme or not base.netloc:
        raise ValueError(f"public base URL must be absolute, got {public_base_url!r}")
    if not full_path.startswith("/"):
        full_path = "/" + full_path
    return f"{base.scheme}://{base.netloc}{full_path}"


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for plain dicts and Django's request.headers."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def form_values(params: Mapping[str, Any], name: str) -> list[str]:
    """All values of a form field: Django's QueryDict keeps repeated keys, a dict has one."""
    getlist = getattr(params, "getlist", None)
    if getlist is not None:
        return [str(v) for v in getlist(name)]
    value = params[name]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


class CarrierClient(abc.ABC):
    """One carrier account. Instances are cheap; build one per use with ``carrier_for``."""

    provider: ClassVar[str]
    # The Content-Type to serve the answer documents with.
    content_type: ClassVar[str] = "text/xml; charset=utf-8"

    # --- REST: us -> carrier ------------------------------------------------------------------

    @abc.abstractmethod
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
        """Dial ``to`` from our number ``from_`` (both E.164). The carrier fetches
        ``answer_url`` when the call is answered and posts progress to ``status_callback_url``
        (machine-detection results too, when ``machine_detection`` is on)."""

    @abc.abstractmethod
    def hangup(self, provider_call_id: str) -> None:
        """End the call, whether it is still ringing or already answered."""

    @abc.abstractmethod
    def transfer(
        self, provider_call_id: str, *, to_number: str, forward_url: str | None = None
    ) -> None:
        """Redirect the live call to dial ``to_number`` (a human).

        ``forward_url`` must answer with ``forward_answer(to_number)``; carriers that cannot
        take the document inline (Plivo) require it, Twilio sends the TwiML inline and does not
        use it.
        """

    @abc.abstractmethod
    def say_and_hangup_live(
        self, provider_call_id: str, *, message: str, document_url: str | None = None
    ) -> None:
        """Replace whatever the live call is doing with: say ``message``, hang up.

        ``document_url`` must answer with ``say_and_hangup(message)``; like ``transfer``,
        carriers that cannot take the document inline (Plivo) require it.
        """

    @abc.abstractmethod
    def send_sms(
        self, *, to: str, from_: str, body: str, status_callback_url: str | None = None
    ) -> SentMessage: ...

    @abc.abstractmethod
    def list_numbers(self) -> list[CarrierNumber]:
        """Every number on the account, all pages."""

    @abc.abstractmethod
    def find_number(self, number: str) -> CarrierNumber | None:
        """The account's number ``number`` (E.164), or None when the account has no such
        number: one cheap lookup, not a listing."""

    @abc.abstractmethod
    def configure_number(
        self, number: CarrierNumber, *, voice_url: str, status_url: str, sms_url: str
    ) -> None:
        """Point the number's webhooks at us: calls to ``voice_url``, call progress to
        ``status_url``, messages to ``sms_url`` (each carrier in its own words; see its
        client)."""

    @abc.abstractmethod
    def fetch_call_status(self, provider_call_id: str) -> CallState | None:
        """The call's status as the carrier knows it now; ``None`` when the carrier does not
        know the id (CarrierError when it cannot be asked)."""

    # --- webhooks: carrier -> us --------------------------------------------------------------

    @abc.abstractmethod
    def validate_signature(
        self,
        *,
        url: str,
        params: Mapping[str, Any],
        headers: Mapping[str, str],
        body: bytes = b"",
    ) -> bool:
        """Whether the request really comes from the carrier.

        ``url`` is the full public URL the carrier requested (see :func:`public_url`),
        ``params`` the form body (``request.POST``; empty for GET, whose data is in the URL),
        ``body`` the raw body (used for Twilio's JSON webhooks).
        """

    @abc.abstractmethod
    def stream_answer(
        self,
        *,
        stream_url: str,
        parameters: Mapping[str, str],
        status_callback_url: str | None = None,
        record_callback_url: str | None = None,
    ) -> str:
        """Answer document that connects the call to our bidirectional media WebSocket.

        ``parameters`` reach the bridge in the stream's start message. With
        ``record_callback_url`` the whole call is recorded from here on and the recording is
        announced at that URL (the one way to record on Plivo, and on inbound calls).
        """

    @abc.abstractmethod
    def say_and_hangup(self, message: str, *, language: str = "en-US") -> str: ...

    @abc.abstractmethod
    def forward_answer(self, number: str, *, caller_id: str | None = None) -> str:
        """Answer document that dials ``number`` and bridges the caller to it."""

    @classmethod
    @abc.abstractmethod
    def normalize_status(
        cls, raw_status: str, *, hangup_cause: str | None = None
    ) -> CallStatus | None:
        """Map the carrier's call status (refined by a hangup cause where the carrier sends
        one) to ours; ``None`` for a word we do not know."""

    @classmethod
    @abc.abstractmethod
    def is_machine(cls, value: str | None) -> bool | None:
        """The carrier's answering-machine verdict; ``None`` when absent or undecided."""

    @classmethod
    @abc.abstractmethod
    def parse_status_callback(cls, params: Mapping[str, Any]) -> StatusUpdate: ...


@dataclass(frozen=True, slots=True)
class CarrierSpec:
    """Everything carrier-specific the rest of the code reads, declared at the end of the
    carrier's module and listed in ``registry.CARRIERS``.

    The ``*_field`` names are the carrier's form fields in its webhooks; the ``*_route`` names
    are our views for those webhooks (calls/urls.py), which the services turn into the
    callback URLs they hand the carrier.
    """

    name: str
    client_class: type[CarrierClient]
    media_protocol_class: type[MediaProtocol]
    call_id_field: str  # the live call's id (Twilio CallSid, Plivo CallUUID)
    recording_url_field: str
    message_id_field: str
    message_body_field: str
    # Our signature header names start with this (only logged when a signature is refused).
    signature_header_prefix: str
    answer_route: str
    status_route: str
    recording_route: str
    sms_route: str
    # Carriers that fetch a live call's new document by URL (Plivo) are given these for
    # transfers and spoken goodbyes; None for those that take the document inline (Twilio).
    forward_route: str | None = None
    say_route: str | None = None
