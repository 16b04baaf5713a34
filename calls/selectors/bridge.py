"""What the media bridge reads when a call's stream connects: the call and its agent's
resolved configuration, with the prompts rendered for this call. Read-only: what the bridge
learns here (missing prompt variables) is written by a service, not by this read."""

from __future__ import annotations

from dataclasses import dataclass

from agents.config import ResolvedAgentConfig
from agents.selectors import agent_config_resolve
from calls.models import Call

__all__ = ["BridgeContext", "bridge_context_get"]


@dataclass(frozen=True, slots=True)
class BridgeContext:
    call_id: int
    provider: str
    direction: str
    is_final: bool
    config: ResolvedAgentConfig
    system_prompt: str
    first_message: str
    voicemail_message: str
    missing_variables: tuple[str, ...]


def bridge_context_get(*, call_id: int) -> BridgeContext | None:
    """The call's bridge context; None for a missing call or one without an agent."""
    call = (
        Call.objects.filter(pk=call_id)
        .only("id", "provider", "direction", "status", "agent_id", "variables")
        .first()
    )
    if call is None or call.agent_id is None:
        return None
    config = agent_config_resolve(agent_id=call.agent_id)
    rendered = config.render(variables=call.variables)
    return BridgeContext(
        call_id=call.pk,
        provider=call.provider,
        direction=call.direction,
        is_final=call.is_final,
        config=config,
        system_prompt=rendered.system_prompt,
        first_message=rendered.first_message,
        voicemail_message=rendered.voicemail_message,
        missing_variables=rendered.missing,
    )
