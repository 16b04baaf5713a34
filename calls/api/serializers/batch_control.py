"""API shapes of the batch control actions (start, pause, resume, cancel, retry-failed)."""

from __future__ import annotations

from rest_framework import serializers

__all__ = ["BatchControlSerializer"]


class BatchControlSerializer(serializers.Serializer):
    """Pause and cancel take an optional reason, shown as the batch's ``status_reason`` and
    kept on its timeline."""

    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
