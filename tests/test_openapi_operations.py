"""The API's route contract: every operation of the OpenAPI schema, as checked in.

``tests/openapi_operations.txt`` lists one ``METHOD path operationId`` per line, sorted. A
route that appears or disappears (a viewset that inherits actions it should not, a renamed
action, a router line lost in a refactor) fails here with a diff. When the change is meant,
regenerate the list and commit it with the change, so the review shows both:

    OPENAPI_OPERATIONS_UPDATE=1 bash scripts/test.sh tests/test_openapi_operations.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from drf_spectacular.generators import SchemaGenerator

OPERATIONS_FILE = Path(__file__).with_name("openapi_operations.txt")
_HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def schema_operations() -> list[str]:
    """``METHOD path operationId`` of every operation the API's schema describes, sorted."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        f"{method.upper()} {path} {operation['operationId']}"
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in _HTTP_METHODS
    )


def test_the_api_has_exactly_the_checked_in_operations():
    current = schema_operations()
    if os.environ.get("OPENAPI_OPERATIONS_UPDATE"):
        OPERATIONS_FILE.write_text("\n".join(current) + "\n")

    expected = OPERATIONS_FILE.read_text().splitlines()

    diff = "\n".join(
        difflib.unified_diff(
            expected, current, "tests/openapi_operations.txt", "/api/schema/", lineterm=""
        )
    )
    assert not diff, (
        "The API's operations differ from tests/openapi_operations.txt "
        "(- checked in, + served now):\n"
        f"{diff}\n"
        "If the change is meant, regenerate the list (see this module's docstring)."
    )


def test_the_checked_in_operations_are_sorted_and_unique():
    lines = OPERATIONS_FILE.read_text().splitlines()

    assert lines == sorted(set(lines))
