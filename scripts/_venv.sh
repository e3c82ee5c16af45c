# Sourced by scripts/demo and scripts/test: make .venv (if needed) and install the project into it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROUTEWATCH_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
extras="${1:-}"
spec="$ROOT${extras:+[$extras]}"
# Some machines' pip configs name missing local indexes; those warnings are noise here.
quiet_pip() { "$VENV/bin/python" -m pip "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2); }
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV and installing routewatch (first run only)..." >&2
  "$PY" -m venv "$VENV"
  quiet_pip install --quiet --upgrade pip
fi
stamp="$VENV/.routewatch-installed-${extras:-core}"
# Reinstall when pyproject.toml changed since the last install.
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
  quiet_pip install --quiet -e "$spec"
  touch "$stamp"
fi

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
