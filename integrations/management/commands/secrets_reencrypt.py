"""``python manage.py secrets_reencrypt``: rewrite every stored secret with the newest key of
SECRETS_ENCRYPTION_KEYS, in every schema. Rotation: put the new key first, run this, then
drop the old key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from integrations.services import secrets_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the newest key of SECRETS_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        report = secrets_reencrypt()
        for schema, model in sorted(report.rotated):
            key = (schema, model)
            self.stdout.write(
                f"{schema} {model}: {report.rotated[key]} re-encrypted, "
                f"{report.current[key]} already current, {report.unreadable[key]} unreadable"
            )
        self.stdout.write(
            f"Re-encrypted {report.total_rotated} secret(s); "
            f"{report.total_unreadable} could not be decrypted with any configured key."
        )
        if report.total_unreadable:
            raise CommandError(
                "Some secrets cannot be decrypted with SECRETS_ENCRYPTION_KEYS: keep the key "
                "they were written with until they are re-entered."
            )
