import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voiceagents.settings")
application = get_wsgi_application()

from voiceagents.secrets import encryption_keys_check  # noqa: E402

# Organizations' secrets are stored encrypted: no server without SECRETS_ENCRYPTION_KEYS.
encryption_keys_check()
