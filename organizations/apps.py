from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class OrganizationsConfig(AppConfig):
    default = True
    name = "organizations"
    verbose_name = "Organizations"
    default_auto_field = "django.db.models.BigAutoField"


class TenantAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin whose default site grants access by organization membership."""

    default = False
    default_site = "organizations.admin_site.TenantAdminSite"
