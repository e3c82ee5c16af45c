"""Request bodies read with a size limit (a declared length and chunked uploads alike) and validated."""

from __future__ import annotations

from typing import TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, JsonValue, ValidationError

M = TypeVar("M", bound=BaseModel)


async def read_limited(request: Request, limit: int, *, what: str = "request") -> bytes:
    """The body's bytes; 413 as soon as it is known to be over `limit` (before reading it, when declared)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"{what} is {declared} bytes; the limit is {limit}")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise HTTPException(413, f"{what} is over the limit of {limit} bytes")
    return bytes(data)


async def read_model(request: Request, model: type[M], limit: int) -> M:
    """The body as `model` (JSON); 413 past `limit`, 422 like any bad request when it does not validate."""
    data = await read_limited(request, limit)
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None


def body_schema(model: type[BaseModel]) -> dict[str, JsonValue]:
    """OpenAPI `openapi_extra` declaring `model` as the JSON body of a route that reads it with `read_model`."""
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)  # JsonValue, the only one, is in the document's components already
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
