"""Whether a credential works: one cheap read call to its provider, through the provider's
own SDK where we use one (Twilio, OpenAI, google-genai) and plain HTTP otherwise (Plivo,
Hume), against the platform's base URL settings (tests point them at loopback fakes).

- Twilio: fetch the account (``GET /2010-04-01/Accounts/{sid}.json``);
- Plivo: fetch the account (``GET /v1/Account/{auth_id}/``);
- OpenAI and Gemini: list models (``GET /v1/models``);
- Hume: read the EVI config the credential names (``GET /v0/evi/configs/{id}``), or the first
  page of configs (``GET /v0/evi/configs``).

Messages are ours, built from status codes and the provider's error codes, never from the
provider's text (OpenAI echoes part of a wrong key back), and the secret is scrubbed from
them all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import requests
from django.conf import settings
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioRestClient

from integrations.kinds import kind_spec
from integrations.models import CredentialKind
from integrations.selectors import ResolvedCredential

__all__ = ["VerificationResult", "credential_check"]

TIMEOUT_SECONDS = 10.0
HUME_DEFAULT_API_URL = "https://api.hume.ai"
MESSAGE_MAX_LENGTH = 300


@dataclass(frozen=True, slots=True)
class VerificationResult:
    ok: bool
    message: str


def _refused(
    label: str, status: int | None, code: object = None, *, bad_credentials: bool = False
) -> VerificationResult:
    if bad_credentials or status in (401, 403):
        what = "refused the credentials"
    elif status == 404:
        what = "does not know this account or config"
    elif status == 429:
        what = "is rate limiting this account; try again shortly"
    else:
        what = "answered with an error"
    suffix = f" (HTTP {status}" + (f", error {code}" if code not in (None, "") else "") + ")"
    return VerificationResult(ok=False, message=f"{label} {what}{suffix if status else ''}.")


def _unreachable(label: str, exc: BaseException) -> VerificationResult:
    return VerificationResult(
        ok=False, message=f"{label} could not be reached ({type(exc).__name__})."
    )


def _twilio(credential: ResolvedCredential) -> VerificationResult:
    sid = credential.identifier("account_sid")
    client = TwilioRestClient(
        sid, credential.secret, http_client=TwilioHttpClient(timeout=TIMEOUT_SECONDS)
    )
    # The SDK's one switch for the API host, as calls.telephony.twilio sets it.
    client.api.base_url = str(settings.TWILIO_API_BASE_URL).rstrip("/")
    try:
        account = client.api.v2010.accounts(sid).fetch()
    except TwilioRestException as exc:
        return _refused("Twilio", exc.status, exc.code)
    except (TwilioException, requests.RequestException) as exc:
        return _unreachable("Twilio", exc)
    name = account.friendly_name or sid
    return VerificationResult(ok=True, message=f"Twilio account {name!r} is {account.status}.")


def _plivo(credential: ResolvedCredential) -> VerificationResult:
    auth_id = credential.identifier("auth_id")
    url = str(settings.PLIVO_API_BASE_URL).rstrip("/") + f"/v1/Account/{auth_id}/"
    try:
        response = httpx.get(
            url,
            auth=(auth_id, credential.secret),
            timeout=TIMEOUT_SECONDS,
            headers={"User-Agent": "voiceagents", "Accept": "application/json"},
        )
    except httpx.HTTPError as exc:
        return _unreachable("Plivo", exc)
    if not response.is_success:
        return _refused("Plivo", response.status_code)
    data = _json(response)
    name = data.get("name") or auth_id
    return VerificationResult(ok=True, message=f"Plivo account {name!r} answered.")


def _openai(credential: ResolvedCredential) -> VerificationResult:
    client = openai.OpenAI(
        api_key=credential.secret,
        base_url=str(settings.OPENAI_BASE_URL) or None,
        timeout=TIMEOUT_SECONDS,
        max_retries=0,
    )
    try:
        page = client.models.list()
    except openai.APIStatusError as exc:
        return _refused("OpenAI", exc.status_code, exc.code)
    except openai.APIConnectionError as exc:
        return _unreachable("OpenAI", exc)
    return VerificationResult(ok=True, message=f"OpenAI lists {len(page.data)} models.")


def _gemini(credential: ResolvedCredential) -> VerificationResult:
    client = genai.Client(
        vertexai=False,
        api_key=credential.secret,
        http_options=genai_types.HttpOptions(
            base_url=str(settings.GEMINI_BASE_URL) or None, timeout=int(TIMEOUT_SECONDS * 1000)
        ),
    )
    try:
        pager = client.models.list(config=genai_types.ListModelsConfig(page_size=5))
    except genai_errors.APIError as exc:
        # Google answers a wrong key with 400 INVALID_ARGUMENT ("API key not valid").
        bad_key = exc.code == 400 and "api key" in (exc.message or "").lower()
        return _refused("Gemini", exc.code, exc.status, bad_credentials=bad_key)
    except httpx.HTTPError as exc:
        return _unreachable("Gemini", exc)
    return VerificationResult(ok=True, message=f"Gemini lists {len(pager.page)} models.")


def _hume_api_url() -> str:
    """Hume's REST host: HUME_BASE_URL names the EVI socket's (wss://), the same host."""
    base = str(settings.HUME_BASE_URL or HUME_DEFAULT_API_URL).rstrip("/")
    for socket_scheme, http_scheme in (("wss://", "https://"), ("ws://", "http://")):
        if base.startswith(socket_scheme):
            return http_scheme + base[len(socket_scheme) :]
    return base


def _hume(credential: ResolvedCredential) -> VerificationResult:
    config_id = credential.identifier("config_id")
    path = f"/v0/evi/configs/{config_id}" if config_id else "/v0/evi/configs"
    params = {} if config_id else {"page_number": 0, "page_size": 1}
    try:
        response = httpx.get(
            _hume_api_url() + path,
            params=params,
            headers={"X-Hume-Api-Key": credential.secret, "Accept": "application/json"},
            timeout=TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        return _unreachable("Hume", exc)
    if not response.is_success:
        return _refused("Hume", response.status_code)
    if config_id:
        return VerificationResult(ok=True, message=f"Hume EVI config {config_id} is readable.")
    return VerificationResult(ok=True, message="Hume lists the account's EVI configs.")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


_CHECKS: dict[str, Callable[[ResolvedCredential], VerificationResult]] = {
    CredentialKind.TWILIO: _twilio,
    CredentialKind.PLIVO: _plivo,
    CredentialKind.OPENAI: _openai,
    CredentialKind.GEMINI: _gemini,
    CredentialKind.HUME: _hume,
}


def credential_check(credential: ResolvedCredential) -> VerificationResult:
    """One read call to the provider with ``credential``; never raises for the provider's
    answers or for an unreachable provider."""
    kind_spec(credential.kind)
    result = _CHECKS[credential.kind](credential)
    message = result.message
    if credential.secret:
        message = message.replace(credential.secret, "••••")
    return VerificationResult(ok=result.ok, message=message[:MESSAGE_MAX_LENGTH])
