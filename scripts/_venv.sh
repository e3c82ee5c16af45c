# Sourced by scripts/demo, scripts/test and .ci/run: make the virtual environment (if needed) and
# install into it exactly the versions locked in uv.lock, with the extras asked for ("dev,detect").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROUTEWATCH_VENV:-$ROOT/.venv}"
# The uv that wrote uv.lock; a different uv on PATH is not used, so every machine resolves alike.
UV_VERSION=0.13.10
extras="${1:-}"

# uv itself comes from PyPI as a wheel, into a small environment of its own (once per machine).
find_uv() {
  if command -v uv >/dev/null 2>&1 && [ "$(uv --version 2>/dev/null | cut -d' ' -f2)" = "$UV_VERSION" ]; then
    command -v uv
    return
  fi
  local home="${XDG_CACHE_HOME:-$HOME/.cache}/routewatch/uv-$UV_VERSION"
  if [ ! -x "$home/bin/uv" ]; then
    echo "installing uv $UV_VERSION into $home (first run only)..." >&2
    "${PYTHON:-python3}" -m venv "$home"
    # Some machines' pip configs name missing local indexes; those warnings are noise here.
    "$home/bin/python" -m pip install --quiet "uv==$UV_VERSION" 2> >(grep -v 'is ignored: it is neither' >&2)
  fi
  echo "$home/bin/uv"
}
UV="$(find_uv)"
# Bytecode at install time: where PYTHONDONTWRITEBYTECODE is set, every process would compile its imports again.
export UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT="$VENV" UV_COMPILE_BYTECODE=1
[ -n "${PYTHON:-}" ] && export UV_PYTHON="$PYTHON"

# The environment keeps every extra it was ever given, so the demo after CI does not strip the detector.
stamp="$VENV/.routewatch-extras"
all="$( { tr ',' '\n' <<<"$extras"; [ -f "$stamp" ] && cat "$stamp"; } | grep -v '^$' | sort -u || true)"
args=()
for e in $all; do args+=(--extra "$e"); done
[ -x "$VENV/bin/python" ] || echo "creating $VENV from uv.lock (first run only)..." >&2
# --locked: refuse to run when uv.lock no longer matches pyproject.toml; exact: nothing unlocked stays.
"$UV" sync --locked --quiet --project "$ROOT" "${args[@]}"
printf '%s\n' $all >"$stamp"

# The web UI's assets come from the npm registry (package-lock.json) and are built here, not committed.
build_ui() {
  local ui="$ROOT/web-ui"
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm not found: the web UI is not built (the API works; / explains how to build it)" >&2
    return 0
  fi
  if [ ! -f "$ui/dist/index.html" ] || [ -n "$(find "$ui/src" "$ui/index.html" "$ui/package-lock.json" -newer "$ui/dist/index.html" 2>/dev/null | head -n1)" ]; then
    (cd "$ui" && npm ci --no-audit --no-fund --loglevel=error >/dev/null && npm run build --silent >/dev/null)
  fi
}

# The UI's API types (web-ui/src/api-types.ts) must be what openapi-typescript makes of web-ui/openapi.json
# (tests/web/test_openapi.py checks that file against the app itself).
check_api() {
  command -v npm >/dev/null 2>&1 || return 0  # said once already by build_ui
  local ui="$ROOT/web-ui"
  [ -x "$ui/node_modules/.bin/openapi-typescript" ] || (cd "$ui" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  (cd "$ui" && npm run --silent check:api >/dev/null) || {
    echo "web-ui/src/api-types.ts is stale: run (cd web-ui && npm run gen:api) and commit it" >&2
    return 1
  }
}
