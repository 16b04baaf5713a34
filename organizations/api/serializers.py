from rest_framework import serializers

from organizations.models import ApiKey, AuditEvent, Invitation, Membership, Organization, Role


class OrganizationSerializer(serializers.ModelSerializer):
    domain = serializers.SerializerMethodField()

    class Meta:
        model = Organization
        fields = [
            "id",
            "name",
            "slug",
            "industry",
            "timezone",
            "domain",
            "default_caller_id",
            "max_concurrent_calls",
            "default_region",
            "calling_window_start",
            "calling_window_end",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "slug", "domain", "created_at", "updated_at"]

    def get_domain(self, obj: Organization) -> str | None:
        domain = obj.domains.filter(is_primary=True).first()
        return domain.domain if domain else None


class OrganizationCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=40, required=False)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    timezone = serializers.CharField(max_length=64, required=False, default="UTC")


class OrganizationUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False)
    default_caller_id = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="A phone number with its country code; stored in E.164 (+14155550100).",
    )
    max_concurrent_calls = serializers.IntegerField(min_value=1, max_value=10000, required=False)
    default_region = serializers.CharField(max_length=2, required=False)
    calling_window_start = serializers.TimeField(required=False)
    calling_window_end = serializers.TimeField(required=False)


class MembershipSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "full_name", "role", "created_at"]
        read_only_fields = ["id", "email", "full_name", "created_at"]


class MemberAddSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "created_at", "expires_at", "accepted_at"]


class InvitationSentSerializer(serializers.Serializer):
    invitation = InvitationSerializer(read_only=True)


class InvitationAcceptSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=128)


class ApiKeySerializer(serializers.ModelSerializer):
    created_by = serializers.EmailField(
        source="created_by.email", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "role",
            "created_by",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The secret. Shown once, never again.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.EmailField(
        source="actor.email", read_only=True, default=None, allow_null=True
    )
    api_key = serializers.CharField(
        source="api_key.prefix",
        read_only=True,
        default=None,
        allow_null=True,
        help_text="The visible prefix of the API key that made the change, if one did.",
    )
    # The serializer metaclass moves declared fields off the class, so ``.data`` still works;
    # the stubs cannot see that.
    data = serializers.DictField(  # type: ignore[assignment]
        read_only=True, help_text="What changed; never a secret."
    )

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "action",
            "target_type",
            "target_id",
            "actor",
            "api_key",
            "data",
            "created_at",
        ]
        read_only_fields = fields
