"""OpenAPI description of the two bearer credentials (either one is enough)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "organizations.authentication.BearerAuthentication"
    name = ["ApiKeyAuth", "SupabaseJWT"]

    def get_security_requirement(self, auto_schema):
        return [{"ApiKeyAuth": []}, {"SupabaseJWT": []}]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": "An organization API key (va_live_...), created by an admin. "
                "It selects its organization on any host and acts with the key's role.",
            },
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "A Supabase access token (HS256 or RS256/ES256 via JWKS). The "
                "organization comes from the org_id claim (top level or app_metadata) or from "
                "the organization's domain; the user must be a member.",
            },
        ]
