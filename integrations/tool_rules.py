"""The rules every tool obeys, wherever it is used (the API, the admin, a call): how tools are
named on an agent and for a model, how arguments are checked against a tool's JSON schema,
what is redacted from arguments before they are kept, and which URLs may be reached.

Names on an agent: ``integration:<server>.<tool>`` (``<server>`` is the integration's slug)
and ``custom:<name>``. The model sees names every provider accepts (OpenAI allows
``[A-Za-z0-9_-]{1,64}``, Gemini wants a letter or ``_`` first): ``<server>__<tool>`` and
``custom__<name>``, shortened with a hash when longer than 64.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from django.conf import settings
from jsonschema import exceptions as jsonschema_exceptions
from jsonschema import validators

from integrations.exceptions import ToolArgumentsInvalid
from voiceagents.netguard import AddressPolicy, networks_parse
from voiceagents.secrets import MASK

__all__ = [
    "CUSTOM_PREFIX",
    "CUSTOM_SERVER",
    "INTEGRATION_PREFIX",
    "SERVER_SLUG_RE",
    "TOOL_NAME_RE",
    "ToolName",
    "address_policy",
    "arguments_check",
    "arguments_redact",
    "model_tool_name",
    "parameters_schema_problem",
    "tool_name_parse",
    "url_problem",
]

INTEGRATION_PREFIX = "integration:"
CUSTOM_PREFIX = "custom:"
# What an execution of a custom tool names as its server.
CUSTOM_SERVER = "custom"
SERVER_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
_MODEL_NAME_MAX = 64
# Argument names whose values are kept as "••••" in executions.
_SECRET_KEY_RE = re.compile(
    r"pass(word)?|secret|token|api[-_]?key|auth|credential|cookie|session|signature|"
    r"card[-_]?number|cvv|cvc|pin\b|ssn|iban",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ToolName:
    """A parsed agent tool name: ``kind`` is "integration" or "custom"."""

    kind: str
    server: str
    tool: str

    @property
    def model_name(self) -> str:
        return model_tool_name(self.server, self.tool)


def tool_name_parse(name: str) -> ToolName | None:
    """``integration:<server>.<tool>`` or ``custom:<name>``; None for anything else."""
    if name.startswith(INTEGRATION_PREFIX):
        server, dot, tool = name[len(INTEGRATION_PREFIX) :].partition(".")
        if dot and SERVER_SLUG_RE.match(server) and TOOL_NAME_RE.match(tool):
            return ToolName("integration", server, tool)
        return None
    if name.startswith(CUSTOM_PREFIX):
        tool = name[len(CUSTOM_PREFIX) :]
        if TOOL_NAME_RE.match(tool):
            return ToolName("custom", CUSTOM_SERVER, tool)
    return None


def model_tool_name(server: str, tool: str) -> str:
    """The name the model calls a tool by: valid for OpenAI, Gemini and Hume alike."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", f"{server}__{tool}")
    if not re.match(r"[A-Za-z_]", name):
        name = f"t_{name}"
    if len(name) > _MODEL_NAME_MAX:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[: _MODEL_NAME_MAX - 9]}_{digest}"
    return name


# --- arguments -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _validator(schema_json: bytes) -> Any:
    schema = orjson.loads(schema_json)
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    return cls(schema)


def parameters_schema_problem(schema: Any) -> str | None:
    """Why ``schema`` cannot be a tool's parameters (None when it can): a JSON schema whose
    root is an object."""
    if not isinstance(schema, Mapping):
        return "Give a JSON schema object."
    if schema.get("type", "object") != "object":
        return 'The root of a tool\'s parameters must be {"type": "object", ...}.'
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema_exceptions.SchemaError as exc:
        return f"Not a valid JSON schema: {exc.message}"
    return None


def arguments_check(*, schema: Mapping[str, Any], arguments: Any, tool: str) -> dict[str, Any]:
    """``arguments`` if they satisfy ``schema``, else ToolArgumentsInvalid listing each
    problem by its path (at most ten)."""
    if not isinstance(arguments, dict):
        raise ToolArgumentsInvalid(
            f"The arguments of {tool} must be a JSON object.", details={"tool": tool}
        )
    validator = _validator(orjson.dumps(dict(schema), option=orjson.OPT_SORT_KEYS))
    problems = []
    for error in validator.iter_errors(arguments):
        path = ".".join(str(part) for part in error.absolute_path) or "(arguments)"
        problems.append({"path": path, "message": error.message[:300]})
        if len(problems) == 10:
            break
    if problems:
        summary = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:3])
        raise ToolArgumentsInvalid(
            f"The arguments do not match the input schema of {tool}: {summary}",
            details={"tool": tool, "errors": problems},
        )
    return arguments


def arguments_redact(arguments: Any, *, secrets: Iterable[str] = (), by_name: bool = True) -> Any:
    """A copy of ``arguments`` to keep: values under secret-looking names (unless
    ``by_name`` is false), and any string holding one of ``secrets`` (the integration's own
    credentials), become ``••••``."""
    known = [secret for secret in secrets if secret and len(secret) >= 4]

    def walk(value: Any, key: str = "") -> Any:
        if by_name and key and _SECRET_KEY_RE.search(key) and value not in (None, "", [], {}):
            return MASK
        if isinstance(value, Mapping):
            return {str(k): walk(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, str):
            for secret in known:
                value = value.replace(secret, MASK)
        return value

    return walk(arguments)


# --- URLs ----------------------------------------------------------------------------------------


def address_policy() -> AddressPolicy:
    """The policy for URLs organizations give (INTEGRATION_URLS_* settings)."""
    return AddressPolicy(
        allow_private=bool(settings.INTEGRATION_URLS_ALLOW_PRIVATE),
        allowed_networks=networks_parse(settings.INTEGRATION_URLS_ALLOWED_NETWORKS),
    )


def url_problem(url: str) -> str | None:
    """Why an organization's URL cannot be used (None when it can): https:// (http:// only
    where INTEGRATION_URLS_ALLOW_HTTP), a host, no credentials in it. Where its host
    resolves is checked at each connection (voiceagents.netguard)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return "Not a valid URL."
    schemes = ("https", "http") if settings.INTEGRATION_URLS_ALLOW_HTTP else ("https",)
    if parts.scheme.lower() not in schemes:
        return "Use an https:// URL."
    if not parts.hostname:
        return "The URL names no host."
    if parts.username or parts.password:
        return "Put credentials in the headers or the token, not in the URL."
    return None
