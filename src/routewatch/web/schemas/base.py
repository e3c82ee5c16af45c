"""The base of every response model."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# ISO 8601 text with a time zone, exactly as the route wrote it.
Time = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Out(BaseModel):
    """A response body: unknown keys are refused (a route must not send what its model does not show)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
