"""Provider sessions for realtime speech-to-speech models (OpenAI Realtime, Gemini Live, Hume EVI).

Each provider module implements :class:`agents.realtime.base.RealtimeSession`; the call bridge
only talks to that interface. :func:`agents.realtime.registry.session_for` picks the class.
"""
