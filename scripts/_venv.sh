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
