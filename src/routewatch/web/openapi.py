"""The API's OpenAPI document, written deterministically: `python -m routewatch.web.openapi [PATH]`.

The UI's TypeScript types (web-ui/src/api-types.ts) are generated from the committed copy
(web-ui/openapi.json); a test and `npm run check:api` fail when either is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import JsonValue

from routewatch.store import Store
from routewatch.web.app import create_app

DEFAULT_PATH = Path(__file__).resolve().parents[3] / "web-ui" / "openapi.json"


def document() -> dict[str, JsonValue]:
    """The OpenAPI document of `create_app` (an in-memory store that is never connected to: the schema needs none)."""
    with Store("sqlite://") as store:
        openapi: dict[str, JsonValue] = create_app(store).openapi()
    return openapi


def text() -> str:
    """The document as JSON text: sorted keys, two-space indent, a final newline."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """Write the document to the path given (default web-ui/openapi.json), or to stdout for '-'."""
    target = argv[0] if argv else str(DEFAULT_PATH)
    if target == "-":
        sys.stdout.write(text())
    else:
        Path(target).write_text(text(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
