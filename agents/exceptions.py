"""Errors of the agents app, and every error code it answers with."""

from enum import StrEnum

from voiceagents.exceptions import NotFound


class AgentsErrorCode(StrEnum):
    AGENT_NOT_FOUND = "agent_not_found"
    AGENT_VERSION_NOT_FOUND = "agent_version_not_found"


class AgentNotFound(NotFound):
    """A missing, soft-deleted or other organization's agent: the three look alike."""

    code = AgentsErrorCode.AGENT_NOT_FOUND
    default_message = "Agent not found."


class AgentVersionNotFound(NotFound):
    code = AgentsErrorCode.AGENT_VERSION_NOT_FOUND
    default_message = "This agent has no such version."
