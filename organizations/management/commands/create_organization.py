"""manage.py create_organization --name "Acme" --slug acme --owner-email owner@acme.test [--api-key]

Prints one JSON object: the organization (id, slug, schema, domain) and, with --api-key, a new
owner-role key (shown only here)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from organizations.services import (
    api_key_create,
    domain_for,
    organization_create,
    user_get_or_create,
)
from voiceagents.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Create an organization (schema, domain, owner) and print it as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug")
        parser.add_argument("--industry", default="")
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--api-key", action="store_true", help="Also create an owner key.")

    def handle(self, *args, **options):
        owner = user_get_or_create(email=options["owner_email"])
        try:
            org = organization_create(
                name=options["name"],
                slug=options["slug"],
                industry=options["industry"],
                timezone_name=options["timezone"],
                owner=owner,
            )
        except ApplicationError as exc:
            raise CommandError(f"{exc.message} {json.dumps(exc.details)}") from exc
        result = {
            "organization": {
                "id": org.pk,
                "name": org.name,
                "slug": org.slug,
                "schema": org.schema_name,
                "domain": domain_for(org.slug),
            },
            "owner": owner.email,
        }
        if options["api_key"]:
            key, raw = api_key_create(
                organization=org,
                name="created by create_organization",
                role="owner",
                created_by=owner,
            )
            result["api_key"] = {"id": key.pk, "prefix": key.prefix, "role": key.role, "key": raw}
        self.stdout.write(json.dumps(result))
