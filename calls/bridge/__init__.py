"""The realtime media bridge: a carrier's audio stream on one side, the agent's realtime model
on the other, served by Channels consumers (calls.consumers).

``core`` is the CallBridge; ``interface`` what it is given and hands back (settings, hooks,
records); ``timers`` and ``tool_calls`` its timers and tool runs; ``hooks`` the hooks over the
calls services; ``build`` puts one call's bridge together; ``middleware`` selects the tenant
of a media WebSocket."""
