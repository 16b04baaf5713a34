"""A loopback fake of Plivo's REST API (``/v1/Account/{auth_id}/...``, JSON bodies).

Serves, with HTTP basic auth checked (401 like Plivo):

- ``POST Call/``: make a call (201, ``request_uuid``); the call is queued until the test calls
  :meth:`FakePlivoRest.answer`, which gives it its CallUUID, as the real call gets one
- ``DELETE Call/{call_uuid}/``: hang up a live call (204; 404 if not live)
- ``DELETE Request/{request_uuid}/``: cancel a call not yet answered (204; 404 otherwise)
- ``POST Call/{call_uuid}/`` with ``legs``/``aleg_url``: transfer (202)
- ``GET Call/{call_uuid}/?status=live``: a live call (``call_status``); ``GET Call/{uuid}/``: a
  finished call's record (``hangup_cause_code``, ``call_duration``); ``GET
  Call/{request_uuid}/?status=queued``: a call not answered yet; 404 otherwise
- ``POST Message/``: send (202, ``message_uuid`` list)
- ``GET Number/?limit=&offset=``: paged by ``meta.next``; ``limit`` above 20 is a 400 as on Plivo
- ``GET Number/{number}/``: one number of the account (404 otherwise); ``POST Number/{number}/``
  with ``app_id``: attach it to an application
- ``GET Application/?app_name=``, ``POST Application/`` (create, 201 ``app_id``), ``POST
  Application/{app_id}/`` (update its URLs): the applications that hold numbers' URLs
- ``GET /v1/Account/{auth_id}/``: the account itself

Several accounts (``add_account``) may share one fake, each with its own numbers; a path
naming another account than the credentials' is a 404.

``fail_next("Call", status=400, message=...)`` answers the next request to that resource with
Plivo's error body ``{"api_id", "error"}``. Resources: ``Call``, ``Request``, ``Message``,
``Number``.

:func:`plivo_signature_v3` signs webhooks like Plivo's V3 scheme, written here from Plivo's
spec independently of ``calls.telephony.plivo``; :class:`PlivoCallbackDriver` builds the signed
callbacks Plivo would send for a placed call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.carrier_rest import Failure, FakeCarrierRest, RecordedRequest

AUTH_ID = "MAFAKEPLIVO0000000001"
AUTH_TOKEN = "fake-plivo-auth-token"

_PATH = re.compile(
    r"^/v1/Account/(?P<account>[^/]+)/(?P<resource>Call|Request|Message|Number|Application)/"
    r"(?:(?P<item>[^/]+)/)?$"
)


def plivo_signature_v3(
    auth_token: str, url: str, params: Mapping[str, str], nonce: str, *, method: str = "POST"
) -> str:
    """``X-Plivo-Signature-V3`` for a webhook: base64(HMAC-SHA256(token, signed_url + "." + nonce)).

    The signed URL is scheme://host/path, then ``?`` and the URL's query parameters sorted as
    ``k=v`` joined by ``&``; for a POST with form params a ``.`` (only if there was a query)
    and then every param sorted by name as ``name`` + ``value``.
    """
    parts = urlsplit(url)
    signed = f"{parts.scheme}://{parts.netloc}{parts.path}"
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    if method == "GET":
        query = sorted([*query, *params.items()])
        params = {}
    query_text = "&".join(f"{k}={v}" for k, v in query)
    form_text = "".join(f"{k}{params[k]}" for k in sorted(params))
    if query_text or form_text:
        signed += "?" + query_text
    if query_text and form_text:
        signed += "."
    signed += form_text
    digest = hmac.new(auth_token.encode(), f"{signed}.{nonce}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class FakePlivoCall:
    request_uuid: str
    params: dict[str, Any]
    state: str = "queued"  # queued -> in-progress -> completed | canceled
    call_uuid: str | None = None
    transfers: list[dict[str, Any]] = field(default_factory=list)
    hangup_cause_code: int = 4000
    duration: int = 0
    auth_id: str = AUTH_ID  # the account that placed it


@dataclass
class FakePlivoNumber:
    number: str  # Plivo style: country code + number, no "+"
    alias: str
    voice_enabled: bool
    sms_enabled: bool
    auth_id: str = AUTH_ID  # the account holding it
    app_id: str | None = None


class FakePlivoRest(FakeCarrierRest):
    """``with FakePlivoRest() as fake: PlivoClient(..., api_base_url=fake.base_url)``."""

    def __init__(self, *, auth_id: str = AUTH_ID, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.auth_id = auth_id
        self.auth_token = auth_token
        # Every account this fake serves, auth id -> auth token (the first one is auth_id).
        self.accounts: dict[str, str] = {auth_id: auth_token}
        self.calls: dict[str, FakePlivoCall] = {}  # by request_uuid
        self.numbers: list[FakePlivoNumber] = []
        self.messages: list[dict[str, Any]] = []
        # app_id -> the application (app_name, answer_url, hangup_url, message_url, auth_id).
        self.applications: dict[str, dict[str, Any]] = {}

    def add_account(
        self, auth_id: str | None = None, auth_token: str | None = None
    ) -> tuple[str, str]:
        """Another account on this fake: ``(auth id, auth token)``, generated unless given."""
        new_id = auth_id or "MA" + secrets.token_hex(9).upper()
        token = auth_token or secrets.token_hex(16)
        with self._lock:
            self.accounts[new_id] = token
        return new_id, token

    def add_number(
        self,
        number: str,
        *,
        alias: str = "",
        voice: bool = True,
        sms: bool = True,
        auth_id: str | None = None,
    ) -> None:
        self.numbers.append(
            FakePlivoNumber(
                number.removeprefix("+"), alias, voice, sms, auth_id=auth_id or self.auth_id
            )
        )

    def number(self, number: str) -> FakePlivoNumber | None:
        digits = number.removeprefix("+")
        return next((n for n in self.numbers if n.number == digits), None)

    def answer(self, request_uuid: str) -> str:
        """The callee picks up: the call goes live under a new CallUUID, which is returned."""
        with self._lock:
            call = self.calls[request_uuid]
            call.state = "in-progress"
            call.call_uuid = str(uuid.uuid4())
            return call.call_uuid

    def end(self, call_uuid: str, *, cause_code: int = 4000, duration: int = 0) -> None:
        """The live call ends (its record then carries ``cause_code`` and ``duration``)."""
        with self._lock:
            call = self.call_by_uuid(call_uuid)
            assert call is not None, call_uuid
            call.state, call.hangup_cause_code, call.duration = "completed", cause_code, duration

    def call_by_uuid(self, call_uuid: str) -> FakePlivoCall | None:
        return next((c for c in self.calls.values() if c.call_uuid == call_uuid), None)

    # --- FakeCarrierRest ------------------------------------------------------------------

    def resource_of(self, path: str) -> str | None:
        match = _PATH.match(path)
        return match["resource"] if match else None

    def error_body(self, failure: Failure) -> Any:
        return {"api_id": str(uuid.uuid4()), "error": failure.message}

    def _error(self, status: int, message: str) -> tuple[int, Any]:
        return status, self.error_body(Failure(status, None, message))

    def route(self, request: RecordedRequest) -> tuple[int, Any]:
        if request.auth is None or self.accounts.get(request.auth[0]) != request.auth[1]:
            return self._error(401, "Authentication failed")
        auth_id = request.auth[0]
        if request.path == f"/v1/Account/{auth_id}/" and request.method == "GET":
            return 200, {
                "api_id": str(uuid.uuid4()),
                "auth_id": auth_id,
                "name": f"Fake Plivo account {auth_id[-4:]}",
                "account_type": "standard",
                "resource_uri": f"/v1/Account/{auth_id}/",
            }
        match = _PATH.match(request.path)
        if match is None or match["account"] != auth_id:
            return self._error(404, "not found")
        if match["resource"] in ("Number", "Application") and (
            match["item"] or match["resource"] == "Application"
        ):
            return self._numbers_and_applications(
                match["resource"], match["item"], request, auth_id
            )
        resource, item, method = match["resource"], match["item"], request.method
        if resource == "Call" and method == "POST" and item is None:
            return self._create_call(request)
        if resource == "Call" and method == "DELETE" and item:
            return self._hangup(item)
        if resource == "Call" and method == "POST" and item:
            return self._transfer(item, request)
        if resource == "Call" and method == "GET" and item:
            return self._get_call(item, request)
        if resource == "Request" and method == "DELETE" and item:
            return self._cancel(item)
        if resource == "Message" and method == "POST" and item is None:
            return self._create_message(request)
        if resource == "Number" and method == "GET" and item is None:
            return self._list_numbers(request)
        return self._error(405, "Method not allowed")

    def _create_call(self, request: RecordedRequest) -> tuple[int, Any]:
        body = request.json or {}
        for required in ("from", "to", "answer_url"):
            if not body.get(required):
                return self._error(400, f"{required} parameter is required")
        call = FakePlivoCall(
            request_uuid=str(uuid.uuid4()),
            params=body,
            auth_id=request.auth[0] if request.auth else self.auth_id,
        )
        with self._lock:
            self.calls[call.request_uuid] = call
        return 201, {
            "api_id": str(uuid.uuid4()),
            "message": "call fired",
            "request_uuid": call.request_uuid,
        }

    def _get_call(self, item: str, request: RecordedRequest) -> tuple[int, Any]:
        status = (request.query.get("status") or [None])[0]
        with self._lock:
            if status == "queued":
                call = self.calls.get(item)
                if call is None or call.state != "queued":
                    return self._error(404, "not found")
                return 200, {
                    "api_id": str(uuid.uuid4()),
                    "call_status": "queued",
                    "request_uuid": call.request_uuid,
                }
            call = self.call_by_uuid(item)
            if status == "live":
                if call is None or call.state != "in-progress":
                    return self._error(404, "not found")
                return 200, {
                    "api_id": str(uuid.uuid4()),
                    "call_status": "in-progress",
                    "call_uuid": item,
                    "direction": "outbound",
                }
            if call is None or call.state != "completed":
                return self._error(404, "not found")
            return 200, {
                "api_id": str(uuid.uuid4()),
                "call_uuid": item,
                "call_duration": call.duration,
                "bill_duration": call.duration,
                "hangup_cause_code": call.hangup_cause_code,
                "hangup_cause_name": "Normal Hangup",
                "call_direction": "outbound",
            }

    def _hangup(self, call_uuid: str) -> tuple[int, Any]:
        with self._lock:
            call = self.call_by_uuid(call_uuid)
            if call is None or call.state != "in-progress":
                return self._error(404, "not found")
            call.state = "completed"
        return 204, None

    def _cancel(self, request_uuid: str) -> tuple[int, Any]:
        with self._lock:
            call = self.calls.get(request_uuid)
            if call is None or call.state != "queued":
                return self._error(404, "not found")
            call.state = "canceled"
        return 204, None

    def _transfer(self, call_uuid: str, request: RecordedRequest) -> tuple[int, Any]:
        body = request.json or {}
        if body.get("legs") not in ("aleg", "bleg", "both"):
            return self._error(400, "legs parameter is required")
        if body["legs"] in ("aleg", "both") and not body.get("aleg_url"):
            return self._error(400, "aleg_url is required to transfer aleg")
        with self._lock:
            call = self.call_by_uuid(call_uuid)
            if call is None or call.state != "in-progress":
                return self._error(404, "not found")
            call.transfers.append(body)
        return 202, {
            "api_id": str(uuid.uuid4()),
            "message": "call transferred",
            "call_uuids": [call_uuid],
        }

    def _create_message(self, request: RecordedRequest) -> tuple[int, Any]:
        body = request.json or {}
        for required in ("src", "dst", "text"):
            if not body.get(required):
                return self._error(400, f"{required} parameter is required")
        message_uuid = str(uuid.uuid4())
        with self._lock:
            self.messages.append({**body, "message_uuid": message_uuid})
        return 202, {
            "api_id": str(uuid.uuid4()),
            "message": "message(s) queued",
            "message_uuid": [message_uuid],
        }

    def _numbers_and_applications(
        self, resource: str, item: str | None, request: RecordedRequest, auth_id: str
    ) -> tuple[int, Any]:
        body = request.json or {}
        if resource == "Number":
            number = next(
                (n for n in self.numbers if n.number == item and n.auth_id == auth_id), None
            )
            if number is None:
                return self._error(404, "not found")
            if request.method == "POST":
                if body.get("app_id") not in self.applications:
                    return self._error(400, "invalid app_id")
                with self._lock:
                    number.app_id = body["app_id"]
                return 202, {"api_id": str(uuid.uuid4()), "message": "changed"}
            return 200, self._number_json(number)
        if request.method == "GET" and item is None:
            name = (request.query.get("app_name") or [None])[0]
            apps = [
                {"app_id": app_id, **app}
                for app_id, app in self.applications.items()
                if app["auth_id"] == auth_id and (name is None or app.get("app_name") == name)
            ]
            return 200, {
                "api_id": str(uuid.uuid4()),
                "meta": {"limit": 20, "offset": 0, "total_count": len(apps), "next": None},
                "objects": apps,
            }
        if request.method == "POST" and item is None:
            if not body.get("app_name"):
                return self._error(400, "app_name parameter is required")
            app_id = str(secrets.randbelow(10**17))
            with self._lock:
                self.applications[app_id] = {**body, "auth_id": auth_id}
            return 201, {"api_id": str(uuid.uuid4()), "message": "created", "app_id": app_id}
        if request.method == "POST" and item in self.applications:
            with self._lock:
                self.applications[item].update(body)
            return 202, {"api_id": str(uuid.uuid4()), "message": "changed"}
        return self._error(404, "not found")

    def _number_json(self, n: FakePlivoNumber) -> dict[str, Any]:
        base = f"/v1/Account/{n.auth_id}/Number/"
        return {
            "number": n.number,
            "alias": n.alias,
            "voice_enabled": n.voice_enabled,
            "sms_enabled": n.sms_enabled,
            "mms_enabled": False,
            "number_type": "local",
            "country": "United States",
            "active": True,
            "application": f"/v1/Account/{n.auth_id}/Application/{n.app_id}/" if n.app_id else None,
            "resource_uri": f"{base}{n.number}/",
        }

    def _list_numbers(self, request: RecordedRequest) -> tuple[int, Any]:
        limit = int(request.query.get("limit", ["20"])[0])
        offset = int(request.query.get("offset", ["0"])[0])
        if not 0 < limit <= 20:
            return self._error(400, "limit must be between 1 and 20")
        auth_id = request.auth[0] if request.auth else self.auth_id
        numbers = [n for n in self.numbers if n.auth_id == auth_id]
        chunk = numbers[offset : offset + limit]
        base = f"/v1/Account/{auth_id}/Number/"
        has_next = offset + limit < len(numbers)
        return 200, {
            "api_id": str(uuid.uuid4()),
            "meta": {
                "limit": limit,
                "offset": offset,
                "total_count": len(numbers),
                "next": f"{base}?limit={limit}&offset={offset + limit}" if has_next else None,
                "previous": (
                    f"{base}?limit={limit}&offset={max(0, offset - limit)}" if offset else None
                ),
            },
            "objects": [self._number_json(n) for n in chunk],
        }


class PlivoCallbackDriver:
    """The signed webhooks Plivo sends for one placed call, as ``(url, params, headers)``.

    Plivo posts to three URLs given at dial time: ``ring_url``, ``answer_url`` and
    ``hangup_url`` (plus ``machine_detection_url``). Posting is the caller's job.
    """

    def __init__(
        self, *, auth_token: str, call: FakePlivoCall, call_uuid: str | None = None
    ) -> None:
        self.auth_token = auth_token
        self.call = call
        self.call_uuid = call_uuid or call.call_uuid or str(uuid.uuid4())

    @classmethod
    def for_call(cls, fake: FakePlivoRest, request_uuid: str) -> PlivoCallbackDriver:
        """Signed by the account that placed the call, with that account's token."""
        call = fake.calls[request_uuid]
        return cls(auth_token=fake.accounts[call.auth_id], call=call)

    def _signed(
        self, url: str | None, params: dict[str, str]
    ) -> tuple[str, dict[str, str], dict[str, str]]:
        if not url:
            raise ValueError("the call was placed without this callback URL")
        nonce = str(secrets.randbelow(10**20))
        headers = {
            "X-Plivo-Signature-V3": plivo_signature_v3(self.auth_token, url, params, nonce),
            "X-Plivo-Signature-V3-Nonce": nonce,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return url, params, headers

    def _params(self, call_status: str, event: str) -> dict[str, str]:
        return {
            "CallUUID": self.call_uuid,
            "RequestUUID": self.call.request_uuid,
            "ALegUUID": self.call_uuid,
            "ALegRequestUUID": self.call.request_uuid,
            "From": self.call.params["from"],
            "To": self.call.params["to"],
            "Direction": "outbound",
            "CallStatus": call_status,
            "Event": event,
        }

    def ring(self) -> tuple[str, dict[str, str], dict[str, str]]:
        return self._signed(self.call.params.get("ring_url"), self._params("ringing", "Ring"))

    def answer(self) -> tuple[str, dict[str, str], dict[str, str]]:
        return self._signed(
            self.call.params.get("answer_url"), self._params("in-progress", "StartApp")
        )

    def machine_detection(self, machine: bool) -> tuple[str, dict[str, str], dict[str, str]]:
        params = self._params("in-progress", "MachineDetection")
        params.update(Machine="true" if machine else "false", IfMachine="continue")
        return self._signed(self.call.params.get("machine_detection_url"), params)

    def hangup(
        self,
        call_status: str = "completed",
        *,
        duration: int = 0,
        hangup_cause_code: int = 4000,
        hangup_cause_name: str = "Normal Hangup",
        hangup_source: str = "Callee",
    ) -> tuple[str, dict[str, str], dict[str, str]]:
        params = self._params(call_status, "Hangup")
        params.update(
            Duration=str(duration),
            BillDuration=str(((duration + 59) // 60) * 60),
            HangupCauseCode=str(hangup_cause_code),
            HangupCauseName=hangup_cause_name,
            HangupSource=hangup_source,
        )
        return self._signed(self.call.params.get("hangup_url"), params)
