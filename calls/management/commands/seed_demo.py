"""Fill an organization with the demo's sample data (calls.demo): an agent, a knowledge base,
a phone number, a finished batch with its calls, schedules. Idempotent; ``bootstrap_demo``
runs it on every ``make run`` unless told not to."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from calls.demo import demo_data_seed
from organizations.models import Organization, User


class Command(BaseCommand):
    help = "Seed an organization with clearly labelled demo sample data (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", required=True, help="The organization's slug.")
        parser.add_argument("--actor", default="", help="The email recorded as the creator.")

    def handle(self, *args: Any, organization: str, actor: str, **options: Any) -> None:
        org = Organization.objects.filter(slug=organization).first()
        if org is None:
            raise CommandError(f"No organization with the slug {organization!r}.")
        user = User.objects.filter(email__iexact=actor).first() if actor else None
        with tenant_context(org):
            result = demo_data_seed(actor=user)
        if result.created:
            self.stdout.write(
                f"[demo] sample data added to {org.name}: {', '.join(result.created)}"
            )
        else:
            self.stdout.write(f"[demo] sample data already in {org.name}")
