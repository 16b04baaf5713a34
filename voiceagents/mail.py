"""The development email backend (EMAIL_BACKEND's default): Django's console backend, with
secrets taken out of what it prints.

The console is a log, and no secret may reach a log: an invitation's link carries the token
that joins an organization. What the backend writes goes straight to stdout, past the logging
filters, so it applies the same masking itself (``voiceagents.logging.redact``): a link keeps
its address and loses its secret (``?token=[redacted]``). Real delivery (SMTP) sends the
message unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends import console
from django.core.mail.message import EmailAlternative

from voiceagents.logging import redact


class ConsoleEmailBackend(console.EmailBackend):
    def write_message(self, message: Any) -> None:
        if isinstance(message, EmailMessage):
            message = copy.copy(message)  # the caller's message stays as it was
            message.subject = redact(str(message.subject))
            message.body = redact(message.body)
            if isinstance(message, EmailMultiAlternatives):
                message.alternatives = [
                    EmailAlternative(redact(str(content)), mimetype)
                    for content, mimetype in message.alternatives
                ]
        super().write_message(message)
