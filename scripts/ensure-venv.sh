#!/usr/bin/env bash
# Create .venv if missing and install requirements-dev.txt into it, only when the
# requirement files changed since the last install (stamp: .venv/.requirements.sha256).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.requirements.sha256"
cd "$ROOT"

if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    # Debian splits venv/ensurepip into python3-venv.
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "ensure-venv: installing python3-venv"
      rm -rf "$VENV"
      export DEBIAN_FRONTEND=noninteractive
      apt-get -o DPkg::Lock::Timeout=120 update -qq
      apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends python3-venv
      python3 -m venv "$VENV"
    else
      echo "ensure-venv: 'python3 -m venv' failed; install python3-venv (Debian) and retry" >&2
      exit 1
    fi
  fi
fi

want="$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
echo "ensure-venv: installing requirements-dev.txt into .venv"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements-dev.txt
echo "$want" >"$STAMP"
