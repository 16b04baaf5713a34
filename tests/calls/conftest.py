"""Fixtures of the calls tests. They live in support modules (one per feature) and are
registered here by importing them."""

from tests.calls.analysis_support import hooks, text_model  # noqa: F401
from tests.calls.batch_input_support import batch_agent  # noqa: F401
from tests.calls.batch_support import batch_org, dialer  # noqa: F401
from tests.calls.bridge_support import (  # noqa: F401
    _channel_layer_namespace,
    _server_env,
    daphne,
    fake_gemini,
    fake_hume,
    fake_openai,
    fake_twilio_rest,
    script,
    uvicorn_server,
)
from tests.calls.telephony_support import (  # noqa: F401
    alpha,
    dial,
    make_agent,
    make_number,
    plivo,
    telephony_settings,
    twilio,
)
