"""Post-call analysis: a text model reads a completed call's transcript and answers a summary,
the caller's sentiment, whether the call reached the agent's goal, and the agent's own fields
(its ``analysis_schema``). The answer is checked against that schema before it is stored on
the call; an answer that does not fit is an analysis error, never stored as valid. Then the
call's ``call.ended`` webhook is sent, with the analysis or with why there is none.

The model is the agent's provider's, through its SDK, with the organization's credential
(``agents.realtime.registry.provider_credentials``: its own key, else the platform's where
allowed): OpenAI chat completions with a JSON-schema response format, Gemini
``generateContent`` with a JSON response schema. Hume has no text model of its own here: a
Hume agent's calls are analysed with the organization's OpenAI credential, and skipped (with
that reason recorded) when there is none.
"""

from __future__ import annotations

from typing import Any

import openai
import orjson
import structlog
from django.conf import settings
from django.utils import timezone
from google import genai
from google.genai import errors, types
from jsonschema import validators

from agents.realtime.registry import provider_credentials
from calls.models import AnalysisStatus, Call, CallStatus, TranscriptTurn
from calls.services.webhook_events import call_ended_send
from voiceagents.exceptions import ApplicationError

__all__ = ["SENTIMENTS", "analysis_response_schema", "call_analyze"]

logger = structlog.get_logger(__name__)

SENTIMENTS = ("positive", "neutral", "negative")
_TRANSCRIPT_MAX_CHARS = 60_000
_GOAL_MAX_CHARS = 4_000


class AnalysisFailed(Exception):
    """The model could not be asked, or its answer could not be read."""


def analysis_response_schema(fields_schema: dict[str, Any]) -> dict[str, Any]:
    """What the model must answer: the analysis every call has, and the agent's fields."""
    fields = fields_schema or {"type": "object", "properties": {}}
    return {
        "type": "object",
        "properties": {
            "summary": {"type": "string", "description": "Two or three sentences."},
            "sentiment": {"type": "string", "enum": list(SENTIMENTS)},
            "goal_reached": {"type": "boolean"},
            "fields": fields,
        },
        "required": ["summary", "sentiment", "goal_reached", "fields"],
    }


def _prompt(call: Call, turns: list[TranscriptTurn], goal: str) -> tuple[str, str]:
    system = (
        "You analyse a phone call between an AI voice agent and a caller. Answer only with "
        "JSON matching the schema: a short summary, the caller's sentiment (positive, neutral "
        "or negative), whether the call reached the agent's goal, and the requested fields "
        "(leave out a field the call does not tell)."
    )
    lines = "\n".join(f"{turn.speaker}: {turn.text}" for turn in turns)[-_TRANSCRIPT_MAX_CHARS:]
    user = f"The agent's instructions (its goal):\n{goal[:_GOAL_MAX_CHARS]}\n\nTranscript:\n{lines}"
    return system, user


def _ask_openai(
    *, api_key: str, base_url: str, system: str, user: str, schema: dict[str, Any]
) -> Any:
    client = openai.OpenAI(
        api_key=api_key,
        base_url=base_url or None,
        timeout=float(settings.CALL_ANALYSIS_TIMEOUT_SECONDS),
        max_retries=1,
    )
    try:
        response = client.chat.completions.create(
            model=settings.CALL_ANALYSIS_OPENAI_MODEL,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "call_analysis", "schema": schema, "strict": False},
            },
        )
    except openai.OpenAIError as exc:
        raise AnalysisFailed(f"OpenAI: {type(exc).__name__}: {str(exc)[:200]}") from None
    finally:
        client.close()
    content = response.choices[0].message.content if response.choices else None
    return _json(content)


def _ask_gemini(
    *, api_key: str, base_url: str, system: str, user: str, schema: dict[str, Any]
) -> Any:
    options = types.HttpOptions(
        base_url=base_url or None, timeout=int(settings.CALL_ANALYSIS_TIMEOUT_SECONDS * 1000)
    )
    client = genai.Client(api_key=api_key, http_options=options)
    try:
        response = client.models.generate_content(
            model=settings.CALL_ANALYSIS_GEMINI_MODEL,
            contents=user,
            config=types.GenerateContentConfig(
                system_instruction=system,
                response_mime_type="application/json",
                response_json_schema=schema,
            ),
        )
    except errors.APIError as exc:
        raise AnalysisFailed(f"Gemini: {exc.code}: {str(exc.message)[:200]}") from None
    except Exception as exc:  # the SDK's transport errors (httpx) have no common base here
        raise AnalysisFailed(f"Gemini: {type(exc).__name__}") from None
    return _json(response.text)


def _json(content: str | None) -> Any:
    try:
        return orjson.loads(content or "")
    except orjson.JSONDecodeError:
        raise AnalysisFailed("The model's answer is not JSON.") from None


def _model_for(provider: str) -> str:
    # Hume (EVI) has no text model here: its agents are analysed with OpenAI.
    return "gemini" if provider == "gemini" else "openai"


def _problems(answer: Any, schema: dict[str, Any]) -> list[str]:
    validator = validators.Draft202012Validator(schema)
    return [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(answer)'}: {error.message[:200]}"
        for error in list(validator.iter_errors(answer))[:5]
    ]


def _record(call: Call, status: str, *, analysis: Any = None, error: str = "") -> None:
    call.analysis = analysis
    call.analysis_status = status
    call.analysis_error = error[:500]
    call.analyzed_at = timezone.now()
    call.save(
        update_fields=["analysis", "analysis_status", "analysis_error", "analyzed_at", "updated_at"]
    )


def _analyse(call: Call) -> None:
    turns = list(TranscriptTurn.objects.filter(call=call).order_by("start_ms", "id"))
    if not turns:
        _record(call, AnalysisStatus.SKIPPED, error="The call has no transcript.")
        return
    agent = call.agent
    version_config = call.agent_version.config if call.agent_version else {}
    fields_schema = version_config.get("analysis_schema", agent.analysis_schema if agent else {})
    goal = version_config.get("system_prompt", agent.system_prompt if agent else "")
    schema = analysis_response_schema(fields_schema or {})
    model = _model_for(agent.ai_provider if agent else "openai")
    try:
        api_key, base_url = provider_credentials(model)
    except ApplicationError as exc:
        _record(call, AnalysisStatus.SKIPPED, error=f"No {model} credential: {exc.message}")
        return
    system, user = _prompt(call, turns, goal or "")
    ask = _ask_gemini if model == "gemini" else _ask_openai
    try:
        answer = ask(api_key=api_key, base_url=base_url, system=system, user=user, schema=schema)
    except AnalysisFailed as exc:
        _record(call, AnalysisStatus.FAILED, error=str(exc))
        return
    problems = _problems(answer, schema)
    if problems:
        _record(
            call,
            AnalysisStatus.FAILED,
            error="The model's answer does not fit the analysis schema: " + "; ".join(problems),
        )
        return
    _record(call, AnalysisStatus.COMPLETED, analysis=answer)


def call_analyze(*, call_id: int) -> Call | None:
    """Analyse a completed call once, then send its ``call.ended`` (whatever came of the
    analysis: a model that fails or times out, CALL_ANALYSIS_TIMEOUT_SECONDS, leaves the call
    without analysis and the event is sent without it). Safe to run twice: an analysed call
    is not analysed again, and the event is sent once (its dedupe key)."""
    call = Call.objects.select_related("agent", "agent_version").filter(pk=call_id).first()
    if call is None or call.status != CallStatus.COMPLETED:
        return call
    if call.analysis_status in ("", AnalysisStatus.PENDING):
        try:
            _analyse(call)
        except Exception as exc:  # never leave the call pending and its event unsent
            logger.exception("call_analysis_failed", call_id=call.pk)
            _record(
                call, AnalysisStatus.FAILED, error=f"The analysis failed ({type(exc).__name__})."
            )
    logger.info("call_analyzed", call_id=call.pk, status=call.analysis_status)
    call_ended_send(call)
    return call
