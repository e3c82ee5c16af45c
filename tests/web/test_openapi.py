"""The committed OpenAPI document (web-ui/openapi.json, the source of the UI's API types) is the app's own."""

from __future__ import annotations

from routewatch.web.openapi import DEFAULT_PATH, document, text


def test_the_committed_openapi_document_is_current() -> None:
    committed = DEFAULT_PATH.read_text(encoding="utf-8")
    assert text() == committed, (
        "web-ui/openapi.json is stale: run `.venv/bin/python -m routewatch.web.openapi` and "
        "`(cd web-ui && npm run gen:api)`, and commit both"
    )


def test_every_json_route_declares_its_response() -> None:
    for path, methods in document()["paths"].items():  # type: ignore[union-attr]
        for method, op in methods.items():  # type: ignore[union-attr]
            for status, answer in op["responses"].items():  # type: ignore[index]
                schema = answer.get("content", {}).get("application/json", {}).get("schema")  # type: ignore[union-attr]
                if status.startswith("2") and schema is not None:
                    assert schema, f"{method.upper()} {path} answers {status} without a response model"
