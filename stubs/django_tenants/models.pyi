# The two abstract models our Organization and Domain extend, so that the django-stubs plugin
# sees them as models and types their fields and managers. Only what this project uses.
from typing import Any, ClassVar

from django.db import models

class TenantMixin(models.Model):
    auto_drop_schema: ClassVar[bool]
    auto_create_schema: ClassVar[bool]
    schema_name = models.CharField(max_length=63, unique=True)

    class Meta:
        abstract = True

    def save(self, verbosity: int = 1, *args: Any, **kwargs: Any) -> None: ...

class DomainMixin(models.Model):
    domain = models.CharField(max_length=253, unique=True)
    tenant: models.ForeignKey[Any, Any]  # to settings.TENANT_MODEL
    is_primary = models.BooleanField(default=True)

    class Meta:
        abstract = True
