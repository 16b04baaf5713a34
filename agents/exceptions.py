from voiceagents.exceptions import NotFound


class AgentNotFound(NotFound):
    """A missing, soft-deleted or other organization's agent: the three look alike."""

    code = "agent_not_found"
    default_message = "Agent not found."


class AgentVersionNotFound(NotFound):
    code = "agent_version_not_found"
    default_message = "This agent has no such version."
