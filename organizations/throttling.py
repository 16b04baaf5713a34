"""Rate limits per credential (API key, or user for JWT and sessions), counted in Redis."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class CredentialRateThrottle(SimpleRateThrottle):
    scope = "credential"

    def get_rate(self):
        # Read at request time (not import time) so a changed setting takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        credential = getattr(request, "auth", None)
        api_key = getattr(credential, "api_key", None)
        if api_key is not None:
            ident = f"key:{api_key.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        # Cache keys are not tenant-prefixed here on purpose: one key, one budget, whatever
        # host it is used on.
        return f"throttle:{self.scope}:{ident}"
