# Sourced by scripts/demo and scripts/test: make .venv (if needed) and install the project into it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROUTEWATCH_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
extras="${1:-}"
spec="$ROOT${extras:+[$extras]}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
stamp="$VENV/.routewatch-installed-${extras:-core}"
# Reinstall when pyproject.toml changed since the last install.
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
  "$VENV/bin/python" -m pip install --quiet -e "$spec"
  touch "$stamp"
fi
