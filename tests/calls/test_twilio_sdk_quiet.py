"""The Twilio SDK logs every request at INFO (twelve lines of its headers each); at our
default level (INFO) a dial writes none of them: our carrier client logs what happened."""

import logging

import pytest
from django.conf import settings

from calls.telephony.twilio import TwilioClient
from tests.fakes.twilio_rest import FakeTwilioRest
from voiceagents.logging import configure_logging


@pytest.fixture
def info_logging():
    configure_logging(level="INFO")
    yield
    configure_logging(level=settings.LOG_LEVEL, fmt=settings.LOG_FORMAT)


def test_a_dial_at_info_writes_no_line_of_the_sdk(info_logging, caplog):
    fake = FakeTwilioRest()
    fake.start()
    try:
        client = TwilioClient(
            account_sid=fake.account_sid, auth_token=fake.auth_token, api_base_url=fake.base_url
        )
        with caplog.at_level(logging.INFO):  # the root's level: INFO records are kept
            client.place_call(
                to="+14155550000",
                from_="+14155550100",
                answer_url="https://voice.example.invalid/a",
                status_callback_url="https://voice.example.invalid/s",
            )
    finally:
        fake.stop()
    assert fake.dialed_numbers() == ["+14155550000"]
    assert not [record for record in caplog.records if record.name.startswith("twilio")]
