"""The do-not-call list: entries (add, read, change, remove) and a CSV import."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from calls import selectors, services
from calls.api.parsers import body_limited_parsers
from calls.api.serializers import (
    DncEntryCreateSerializer,
    DncEntrySerializer,
    DncEntryUpdateSerializer,
    DncImportResultSerializer,
    DncImportSerializer,
)
from calls.api.views._common import _valid
from calls.filtersets import DncEntryFilterSet
from organizations.actors import request_user
from organizations.api.base import OrganizationModelViewSet
from organizations.models import Role
from voiceagents.api.schema import error_response

__all__ = ["DncEntryViewSet"]


_EXISTS = error_response("`dnc_entry_exists`: the number is on the list already (`details.id`).")


@extend_schema_view(
    list=extend_schema(
        summary="List the do-not-call list",
        description="The organization's numbers never to call, by number.",
    )
)
class DncEntryViewSet(OrganizationModelViewSet):
    """Viewers read the list; members add numbers (one by one or from a CSV) and change
    reasons; removing a number, which lets it be called again, is for admins."""

    serializer_class = DncEntrySerializer
    filterset_class = DncEntryFilterSet
    ordering_fields = ["number", "created_at"]
    write_role = Role.MEMBER
    action_roles = {"destroy": Role.ADMIN}
    parser_classes = body_limited_parsers()

    def get_queryset(self):
        return selectors.dnc_entry_list()

    @extend_schema(summary="Get a do-not-call entry", description="One listed number.")
    def retrieve(self, request, pk=None):
        return Response(DncEntrySerializer(selectors.dnc_entry_get(entry_id=pk)).data)

    @extend_schema(
        summary="Add a number to the do-not-call list",
        description="Members. Stored in E.164; a number without its country code is read in "
        "the organization's `default_region`. Batches skip listed numbers.",
        request=DncEntryCreateSerializer,
        responses={201: DncEntrySerializer, 409: _EXISTS},
    )
    def create(self, request):
        """Add a number (409 ``dnc_entry_exists`` when it is listed already)."""
        data = _valid(DncEntryCreateSerializer, request.data).validated_data
        entry = services.dnc_entry_create(
            number=data["number"],
            reason=data.get("reason", ""),
            source="api",
            created_by=request_user(request),
        )
        return Response(DncEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a do-not-call entry",
        description="Members: its number or reason.",
        request=DncEntryUpdateSerializer,
        responses={200: DncEntrySerializer, 409: _EXISTS},
    )
    def partial_update(self, request, pk=None):
        entry = selectors.dnc_entry_get(entry_id=pk)
        data = _valid(DncEntryUpdateSerializer, request.data).validated_data
        return Response(DncEntrySerializer(services.dnc_entry_update(entry=entry, data=data)).data)

    @extend_schema(
        summary="Remove a number from the do-not-call list",
        description="Admins only: the number may be called again.",
        responses={204: None},
    )
    def destroy(self, request, pk=None):
        services.dnc_entry_delete(entry=selectors.dnc_entry_get(entry_id=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Import numbers to the do-not-call list",
        description="Members. A CSV with a number column (named like a phone column, else "
        "the first) and an optional `reason`, or a plain list of numbers. Numbers listed "
        "already are counted; invalid lines are reported with their line numbers.",
        request={"multipart/form-data": DncImportSerializer},
        responses=DncImportResultSerializer,
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_csv(self, request):
        """Add every number of a CSV; numbers already listed are counted, invalid lines
        reported with their line numbers."""
        upload = _valid(DncImportSerializer, request.data).validated_data["file"]
        result = services.dnc_import(
            file=upload.file if hasattr(upload, "file") else upload,
            source="csv",
            created_by=request_user(request),
        )
        return Response(DncImportResultSerializer(result).data)
