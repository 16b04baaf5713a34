# Partial stubs: only ``django_tenants.models``; every other module stays untyped (Any) through
# the ignore_missing_imports override in pyproject.toml.
