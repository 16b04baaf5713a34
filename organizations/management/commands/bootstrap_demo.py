"""Create (or refresh) the demo organization and its admin user, and print how to log in.

Idempotent: `make run` calls it on every start. The password is generated once and kept in
var/demo-credentials.json (git-ignored) so it stays the same across restarts; DEMO_PASSWORD
overrides it.

It then adds the demo's sample data (the ``seed_demo`` command of calls, run by name: this app
may not import the apps the data belongs to) unless ``--no-sample-data`` is given.
The login is printed last, after anything the seeding prints."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from organizations.models import Organization, Role
from organizations.services import member_add, organization_create, user_get_or_create


class Command(BaseCommand):
    help = "Create the demo organization with an admin user and print the login."

    def add_arguments(self, parser):
        parser.add_argument("--slug", default="demo")
        parser.add_argument("--email", default="admin@demo.localhost")
        parser.add_argument("--port", default="8000")
        parser.add_argument(
            "--no-sample-data",
            action="store_false",
            dest="sample_data",
            help="Create the organization and its admin only, without the demo's sample data.",
        )

    def handle(self, *args, slug: str, email: str, port: str, sample_data: bool = True, **options):
        store = Path(settings.BASE_DIR) / "var" / "demo-credentials.json"
        store.parent.mkdir(parents=True, exist_ok=True)
        saved = json.loads(store.read_text()) if store.exists() else {}
        password = (
            os.environ.get("DEMO_PASSWORD") or saved.get("password") or secrets.token_urlsafe(12)
        )

        user = user_get_or_create(email=email, full_name="Demo Admin")
        user.set_password(password)
        user.save(update_fields=["password"])
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            org = organization_create(name="Demo", slug=slug, industry="demo", owner=user)
        else:
            member_add(organization=org, user=user, role=Role.OWNER)
        store.write_text(json.dumps({"email": email, "password": password}))
        if sample_data:
            call_command("seed_demo", organization=org.slug, actor=email, stdout=self.stdout)

        host = f"{slug}.{settings.BASE_DOMAIN}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "=" * 64,
                    f"  Demo organization ready: {org.name} (schema {org.schema_name})",
                    f"  Admin:    http://{host}:{port}/admin/",
                    f"  Email:    {email}",
                    f"  Password: {password}",
                    f"  API docs: http://{settings.BASE_DOMAIN}:{port}/api/docs/",
                    f"  Ready:    http://{settings.BASE_DOMAIN}:{port}/readyz",
                    "=" * 64,
                    "",
                ]
            )
        )
