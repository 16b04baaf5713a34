"""A loopback fake of Twilio's REST API (2010-04-01), driven by the real ``twilio`` SDK.

Serves one account, or several (``add_account``: each with its own auth token, calls and
numbers, as organizations bring their own), with HTTP basic auth checked like Twilio (401 +
error 20003) and a path naming another account than the credentials' refused (404 20404):

- ``GET /2010-04-01/Accounts/{sid}.json``: the account (its friendly name and status)
- ``POST /2010-04-01/Accounts/{sid}/Calls.json``: create (201, a ``CA...`` call resource)
- ``POST .../Calls/{CallSid}.json``: update (``Status``, ``Twiml``, ``Url``)
- ``GET .../Calls/{CallSid}.json``: fetch (its ``status``, which a test may set, and
  ``duration``; 404 with error 20404 for a sid the account does not have)
- ``GET .../IncomingPhoneNumbers.json``: paged like Twilio (``PageSize``, ``Page``,
  ``next_page_uri``, which the SDK follows), filtered by ``PhoneNumber`` when given
- ``POST .../IncomingPhoneNumbers/{PN sid}.json``: update (``VoiceUrl``, ``SmsUrl``,
  ``StatusCallback`` and their methods), recorded on the number's ``config``
- ``POST .../Messages.json``: create (201, ``SM...``)

Every call keeps when it was dialed and when it ended (``time.monotonic()``): ``end_call``
ends one and gives the signed final status callback Twilio would send, and ``max_in_flight``
is the most calls that were ever up at once, from that log alone.

``fail_next("Calls", status=400, code=21211, message=...)`` answers the next request to that
resource with Twilio's JSON error body, so the SDK raises ``TwilioRestException`` with the
code. Resources are ``Calls``, ``Messages`` and ``IncomingPhoneNumbers``.

:func:`twilio_signature` signs webhooks as Twilio does (the SDK's own RequestValidator), and
:class:`TwilioCallbackDriver` builds the signed callbacks Twilio would send for a placed call.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from twilio.request_validator import RequestValidator

from tests.fakes.carrier_rest import Failure, FakeCarrierRest, RecordedRequest

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "fake-twilio-auth-token"
API_VERSION = "2010-04-01"

_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/"
    r"(?P<resource>Calls|Messages|IncomingPhoneNumbers)(?:/(?P<item>[^/.]+))?\.json$"
)
_ACCOUNT_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/.]+)\.json$")


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _now() -> str:
    return format_datetime(datetime.now(UTC))


def twilio_signature(auth_token: str, url: str, params: Mapping[str, Any]) -> str:
    """``X-Twilio-Signature`` for a request to ``url`` with form ``params``, as Twilio signs."""
    return RequestValidator(auth_token).compute_signature(url, params)


@dataclass
class FakeCall:
    sid: str
    to: str
    from_: str
    status: str
    params: dict[str, list[str]]  # the create request's form
    updates: list[dict[str, list[str]]] = field(default_factory=list)
    account_sid: str = ACCOUNT_SID  # the account that placed it
    dialed_at: float = field(default_factory=time.monotonic)
    ended_at: float | None = None
    duration: int | None = None  # seconds, once the call ended

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None


@dataclass
class FakeNumber:
    sid: str
    phone_number: str
    friendly_name: str
    voice: bool
    sms: bool
    account_sid: str = ACCOUNT_SID
    # What an update set: voice_url, sms_url, status_callback (and their *_method).
    config: dict[str, str] = field(default_factory=dict)


class FakeTwilioRest(FakeCarrierRest):
    """``with FakeTwilioRest() as fake: TwilioClient(..., api_base_url=fake.base_url)``."""

    def __init__(self, *, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        # Every account this fake serves, sid -> auth token (the first one is account_sid).
        self.accounts: dict[str, str] = {account_sid: auth_token}
        self.friendly_names: dict[str, str] = {account_sid: "Fake Twilio account"}
        self.calls: dict[str, FakeCall] = {}
        self._live: dict[str, FakeCall] = {}  # calls not ended, so a poll need not scan all
        self.numbers: list[FakeNumber] = []
        self.messages: list[dict[str, Any]] = []

    def add_account(
        self, account_sid: str | None = None, auth_token: str | None = None, *, name: str = ""
    ) -> tuple[str, str]:
        """Another account on this fake: ``(sid, auth token)``, generated unless given."""
        sid = account_sid or _sid("AC")
        token = auth_token or secrets.token_hex(16)
        with self._lock:
            self.accounts[sid] = token
            self.friendly_names[sid] = name or f"Fake Twilio account {sid[-4:]}"
        return sid, token

    def add_number(
        self,
        phone_number: str,
        *,
        friendly_name: str = "",
        voice: bool = True,
        sms: bool = True,
        account_sid: str | None = None,
    ) -> str:
        number = FakeNumber(
            _sid("PN"),
            phone_number,
            friendly_name or phone_number,
            voice,
            sms,
            account_sid=account_sid or self.account_sid,
        )
        self.numbers.append(number)
        return number.sid

    def calls_of(self, account_sid: str) -> list[FakeCall]:
        """The calls one account placed."""
        with self._lock:
            return [call for call in self.calls.values() if call.account_sid == account_sid]

    def number(self, phone_number: str) -> FakeNumber | None:
        return next((n for n in self.numbers if n.phone_number == phone_number), None)

    # --- the call log -------------------------------------------------------------------

    def end_call(
        self, call_sid: str, call_status: str = "completed", **status_fields: Any
    ) -> tuple[str, dict[str, str], dict[str, str]]:
        """End a call on the carrier's side now, and give the signed final status callback
        for it (``TwilioCallbackDriver.status`` fields: ``duration``, ``answered_by``...)."""
        with self._lock:
            call = self.calls[call_sid]
            call.status = call_status
            if call.ended_at is None:
                call.ended_at = time.monotonic()
            self._live.pop(call_sid, None)
        return TwilioCallbackDriver.for_call(self, call_sid).status(call_status, **status_fields)

    def live_calls(self) -> list[FakeCall]:
        """Calls dialed and not ended yet, oldest first."""
        with self._lock:
            live = list(self._live.values())
        return sorted(live, key=lambda call: call.dialed_at)

    def max_in_flight(self) -> int:
        """The most calls up at the same moment, from the dial and end times alone (a call
        still up counts until now)."""
        with self._lock:
            spans = [(c.dialed_at, c.ended_at) for c in self.calls.values()]
        moments = sorted(
            [(start, 1) for start, _ in spans]
            # An end at the very moment of a dial frees its slot first.
            + [(end, -1) for _, end in spans if end is not None],
            key=lambda moment: (moment[0], moment[1]),
        )
        most = current = 0
        for _, step in moments:
            current += step
            most = max(most, current)
        return most

    def dialed_numbers(self) -> list[str]:
        """Every number dialed, once per dial, in dial order."""
        with self._lock:
            calls = sorted(self.calls.values(), key=lambda call: call.dialed_at)
        return [call.to for call in calls]

    # --- FakeCarrierRest ------------------------------------------------------------------

    def resource_of(self, path: str) -> str | None:
        match = _PATH.match(path)
        return match["resource"] if match else None

    def error_body(self, failure: Failure) -> Any:
        code = failure.code if failure.code is not None else failure.status
        return {
            "code": code,
            "message": failure.message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": failure.status,
        }

    def _error(self, status: int, code: int, message: str) -> tuple[int, Any]:
        return status, self.error_body(Failure(status, code, message))

    def route(self, request: RecordedRequest) -> tuple[int, Any]:
        if request.auth is None or self.accounts.get(request.auth[0]) != request.auth[1]:
            return self._error(401, 20003, "Authenticate")
        auth_sid = request.auth[0]
        account = _ACCOUNT_PATH.match(request.path)
        if account is not None and account["account"] == auth_sid and request.method == "GET":
            return 200, self._account_json(auth_sid)
        match = _PATH.match(request.path)
        if match is None or match["account"] != auth_sid:
            return self._error(404, 20404, f"The requested resource {request.path} was not found")
        resource, item = match["resource"], match["item"]
        if resource == "Calls" and request.method == "POST" and item is None:
            return self._create_call(request)
        if resource == "Calls" and request.method == "POST":
            return self._update_call(item, request)
        if resource == "Calls" and request.method == "GET" and item is not None:
            return self._fetch_call(item, request)
        if resource == "Messages" and request.method == "POST" and item is None:
            return self._create_message(request)
        if resource == "IncomingPhoneNumbers" and request.method == "GET" and item is None:
            return self._list_numbers(request)
        if resource == "IncomingPhoneNumbers" and request.method == "POST" and item:
            return self._update_number(item, request)
        return self._error(405, 20004, "Method not allowed")

    def _account_json(self, sid: str) -> dict[str, Any]:
        return {
            "sid": sid,
            "friendly_name": self.friendly_names.get(sid, sid),
            "status": "active",
            "type": "Full",
            "date_created": _now(),
            "date_updated": _now(),
            "uri": f"/{API_VERSION}/Accounts/{sid}.json",
        }

    # --- Calls ----------------------------------------------------------------------------

    def _call_json(self, call: FakeCall) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{call.account_sid}/Calls/{call.sid}.json"
        return {
            "sid": call.sid,
            "account_sid": call.account_sid,
            "api_version": API_VERSION,
            "to": call.to,
            "to_formatted": call.to,
            "from": call.from_,
            "from_formatted": call.from_,
            "status": call.status,
            "direction": "outbound-api",
            "date_created": _now(),
            "date_updated": _now(),
            "start_time": None,
            "end_time": None,
            "duration": None if call.duration is None else str(call.duration),
            "price": None,
            "price_unit": "USD",
            "parent_call_sid": None,
            "answered_by": None,
            "caller_name": None,
            "uri": uri,
            "subresource_uris": {
                "recordings": uri.replace(".json", "/Recordings.json"),
                "notifications": uri.replace(".json", "/Notifications.json"),
            },
        }

    def _create_call(self, request: RecordedRequest) -> tuple[int, Any]:
        form = request.form
        for required in ("To", "From"):
            if not form.get(required):
                return self._error(400, 21201, f"No '{required}' number is specified")
        if sum(1 for name in ("Url", "Twiml", "ApplicationSid") if form.get(name)) != 1:
            return self._error(400, 21205, "Url parameter is required.")
        call = FakeCall(
            sid=_sid("CA"),
            to=form["To"][0],
            from_=form["From"][0],
            status="queued",
            params=form,
            account_sid=request.auth[0] if request.auth else self.account_sid,
        )
        with self._lock:
            self.calls[call.sid] = call
            self._live[call.sid] = call
        return 201, self._call_json(call)

    def _fetch_call(self, call_sid: str, request: RecordedRequest) -> tuple[int, Any]:
        call = self.calls.get(call_sid)
        if call is None:
            return self._error(404, 20404, f"The requested resource {request.path} was not found")
        return 200, self._call_json(call)

    def _update_call(self, call_sid: str, request: RecordedRequest) -> tuple[int, Any]:
        call = self.calls.get(call_sid)
        if call is None:
            return self._error(404, 20404, f"The requested resource {request.path} was not found")
        with self._lock:
            call.updates.append(request.form)
            status = request.field("Status")
            if status in ("completed", "canceled"):
                call.status = status
                if call.ended_at is None:
                    call.ended_at = time.monotonic()
                self._live.pop(call.sid, None)
        return 200, self._call_json(call)

    # --- Messages -------------------------------------------------------------------------

    def _create_message(self, request: RecordedRequest) -> tuple[int, Any]:
        if not request.field("To"):
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not request.field("Body") and not request.field("MediaUrl"):
            return self._error(400, 21602, "Message body is required.")
        message = {
            "sid": _sid("SM"),
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "to": request.field("To"),
            "from": request.field("From"),
            "body": request.field("Body"),
            "status": "queued",
            "direction": "outbound-api",
            "num_segments": "1",
            "num_media": "0",
            "date_created": _now(),
            "date_updated": _now(),
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "price": None,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json",
        }
        with self._lock:
            self.messages.append({**message, "status_callback": request.field("StatusCallback")})
        return 201, message

    # --- IncomingPhoneNumbers -------------------------------------------------------------

    def _list_numbers(self, request: RecordedRequest) -> tuple[int, Any]:
        page_size = int(request.query.get("PageSize", ["50"])[0])
        page = int(request.query.get("Page", ["0"])[0])
        account_sid = request.auth[0] if request.auth else self.account_sid
        wanted = request.query.get("PhoneNumber", [None])[0]
        numbers = [
            n
            for n in self.numbers
            if n.account_sid == account_sid and (wanted is None or n.phone_number == wanted)
        ]
        start = page * page_size
        chunk = numbers[start : start + page_size]
        base = f"/{API_VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers.json"
        next_page_uri = None
        if start + page_size < len(numbers):
            token = f"PA{numbers[start + page_size - 1].sid}"
            next_page_uri = f"{base}?PageSize={page_size}&Page={page + 1}&PageToken={token}"
        return 200, {
            "incoming_phone_numbers": [self._number_json(n) for n in chunk],
            "start": start,
            "end": start + len(chunk) - 1,
            "page": page,
            "page_size": page_size,
            "uri": f"{base}?PageSize={page_size}&Page={page}",
            "first_page_uri": f"{base}?PageSize={page_size}&Page=0",
            "next_page_uri": next_page_uri,
            "previous_page_uri": (
                f"{base}?PageSize={page_size}&Page={page - 1}" if page > 0 else None
            ),
        }

    def _number_json(self, number: FakeNumber) -> dict[str, Any]:
        return {
            "sid": number.sid,
            "account_sid": number.account_sid,
            "phone_number": number.phone_number,
            "friendly_name": number.friendly_name,
            "capabilities": {"voice": number.voice, "sms": number.sms, "mms": False, "fax": False},
            "status": "in-use",
            "origin": "twilio",
            "voice_url": number.config.get("voice_url"),
            "voice_method": number.config.get("voice_method"),
            "sms_url": number.config.get("sms_url"),
            "sms_method": number.config.get("sms_method"),
            "status_callback": number.config.get("status_callback"),
            "status_callback_method": number.config.get("status_callback_method"),
            "date_created": _now(),
            "date_updated": _now(),
            "uri": f"/{API_VERSION}/Accounts/{number.account_sid}/IncomingPhoneNumbers/{number.sid}.json",
        }

    _NUMBER_SETTINGS = {
        "VoiceUrl": "voice_url",
        "VoiceMethod": "voice_method",
        "SmsUrl": "sms_url",
        "SmsMethod": "sms_method",
        "StatusCallback": "status_callback",
        "StatusCallbackMethod": "status_callback_method",
    }

    def _update_number(self, number_sid: str, request: RecordedRequest) -> tuple[int, Any]:
        account_sid = request.auth[0] if request.auth else self.account_sid
        number = next(
            (n for n in self.numbers if n.sid == number_sid and n.account_sid == account_sid), None
        )
        if number is None:
            return self._error(404, 20404, f"The requested resource {request.path} was not found")
        with self._lock:
            for form_name, name in self._NUMBER_SETTINGS.items():
                value = request.field(form_name)
                if value is not None:
                    number.config[name] = value
        return 200, self._number_json(number)


class TwilioCallbackDriver:
    """The signed webhooks Twilio sends for one placed call, as ``(url, params, headers)``.

    Posting them (to Django's test client, say) is the caller's job. ``SequenceNumber`` counts
    from 0 across status callbacks, as Twilio's does.
    """

    def __init__(
        self,
        *,
        auth_token: str,
        account_sid: str,
        call_sid: str,
        to: str,
        from_: str,
        answer_url: str | None,
        status_callback_url: str | None,
        amd_callback_url: str | None = None,
    ) -> None:
        self.auth_token = auth_token
        self.account_sid = account_sid
        self.call_sid = call_sid
        self.to = to
        self.from_ = from_
        self.answer_url = answer_url
        self.status_callback_url = status_callback_url
        self.amd_callback_url = amd_callback_url
        self._sequence = 0

    @classmethod
    def for_call(cls, fake: FakeTwilioRest, call_sid: str) -> TwilioCallbackDriver:
        """Signed by the account that placed the call, with that account's token."""
        call = fake.calls[call_sid]
        return cls(
            auth_token=fake.accounts[call.account_sid],
            account_sid=call.account_sid,
            call_sid=call.sid,
            to=call.to,
            from_=call.from_,
            answer_url=call.param("Url"),
            status_callback_url=call.param("StatusCallback"),
            amd_callback_url=call.param("AsyncAmdStatusCallback"),
        )

    def _signed(
        self, url: str | None, params: dict[str, str]
    ) -> tuple[str, dict[str, str], dict[str, str]]:
        if not url:
            raise ValueError("the call was placed without this callback URL")
        headers = {
            "X-Twilio-Signature": twilio_signature(self.auth_token, url, params),
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
        }
        return url, params, headers

    def _voice_params(self, call_status: str) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.call_sid,
            "CallStatus": call_status,
            "Direction": "outbound-api",
            "From": self.from_,
            "To": self.to,
            "Caller": self.from_,
            "Called": self.to,
        }

    def status(
        self,
        call_status: str,
        *,
        duration: int | None = None,
        answered_by: str | None = None,
        recording_url: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> tuple[str, dict[str, str], dict[str, str]]:
        """A call-progress callback (``initiated``, ``ringing``, ``in-progress``, ``completed``,
        ``busy``, ``no-answer``, ``canceled``, ``failed``)."""
        params = self._voice_params(call_status)
        params.update(
            CallbackSource="call-progress-events",
            SequenceNumber=str(self._sequence),
            Timestamp=_now(),
        )
        self._sequence += 1
        if duration is not None:
            params["CallDuration"] = str(duration)
            params["Duration"] = str(max(1, (duration + 59) // 60))
        if answered_by is not None:
            params["AnsweredBy"] = answered_by
        if recording_url is not None:
            params.update(
                RecordingUrl=recording_url,
                RecordingSid=_sid("RE"),
                RecordingDuration=str(duration or 0),
            )
        params.update(extra or {})
        return self._signed(self.status_callback_url, params)

    def answer(self) -> tuple[str, dict[str, str], dict[str, str]]:
        """The request Twilio makes to the call's voice URL when it is answered."""
        return self._signed(self.answer_url, self._voice_params("in-progress"))

    def machine_detection(
        self, answered_by: str, *, duration_ms: int = 3200
    ) -> tuple[str, dict[str, str], dict[str, str]]:
        """The asynchronous answering-machine verdict (no CallStatus in it)."""
        params = {
            "AccountSid": self.account_sid,
            "CallSid": self.call_sid,
            "AnsweredBy": answered_by,
            "MachineDetectionDuration": str(duration_ms),
        }
        return self._signed(self.amd_callback_url, params)
