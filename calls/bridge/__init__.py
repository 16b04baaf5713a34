"""The realtime media bridge: a carrier's audio stream on one side, the agent's realtime model
on the other (calls.bridge.core), served by Channels consumers (calls.consumers)."""
