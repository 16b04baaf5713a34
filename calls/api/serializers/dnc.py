"""API shapes of the do-not-call list: an entry, adding and changing one, a CSV import and
what it did."""

from __future__ import annotations

from rest_framework import serializers

from calls.models import DoNotCallEntry

__all__ = [
    "DncEntryCreateSerializer",
    "DncEntrySerializer",
    "DncEntryUpdateSerializer",
    "DncImportProblemSerializer",
    "DncImportResultSerializer",
    "DncImportSerializer",
]


class DncEntrySerializer(serializers.ModelSerializer):
    created_by = serializers.EmailField(
        source="created_by.email", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = DoNotCallEntry
        fields = ["id", "number", "reason", "source", "created_by", "created_at"]
        read_only_fields = fields


class DncEntryCreateSerializer(serializers.Serializer):
    number = serializers.CharField(
        max_length=32,
        help_text="E.164, or a national number of the organization's default_region.",
    )
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class DncEntryUpdateSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=32, required=False)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class DncImportSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A CSV with a number column (number, phone, ...; else the first) and an "
        "optional reason column; a plain list of numbers works too."
    )


class DncImportProblemSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    value = serializers.CharField()
    reason = serializers.CharField()


class DncImportResultSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    already_listed = serializers.IntegerField()
    invalid = serializers.IntegerField()
    problems = DncImportProblemSerializer(many=True, help_text="The first 100 problems.")
