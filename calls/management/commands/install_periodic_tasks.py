"""manage.py install_periodic_tasks: put the calls app's periodic tasks in Celery beat's
schedule (idempotent; entries an operator changed in the admin are left alone)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from calls.services.periodic_tasks import PERIODIC_TASKS, periodic_tasks_install


class Command(BaseCommand):
    help = "Install the calls app's periodic tasks in Celery beat's database schedule."

    def handle(self, *args, **options):
        created = periodic_tasks_install()
        for spec in PERIODIC_TASKS:
            state = "created" if spec.name in created else "already there"
            self.stdout.write(f"{spec.name} ({spec.task}, every {spec.every_seconds} s): {state}")
