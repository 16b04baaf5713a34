"""The public tenant (schema ``public``) and its domain exist from the first migrate, so the
main host serves the landing page, platform admin and API straight away."""

from django.conf import settings
from django.db import migrations


def create_public_tenant(apps, schema_editor):
    Organization = apps.get_model("organizations", "Organization")
    Domain = apps.get_model("organizations", "Domain")
    public, _ = Organization.objects.get_or_create(
        schema_name="public", defaults={"name": "Platform", "slug": "public"}
    )
    Domain.objects.get_or_create(
        domain=settings.BASE_DOMAIN, defaults={"tenant": public, "is_primary": True}
    )


def remove_public_tenant(apps, schema_editor):
    apps.get_model("organizations", "Organization").objects.filter(schema_name="public").delete()


class Migration(migrations.Migration):
    dependencies = [("organizations", "0001_initial")]

    operations = [migrations.RunPython(create_public_tenant, remove_public_tenant)]
