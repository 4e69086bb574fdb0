#!/usr/bin/env bash
# Set up Agora in ./.venv: Python packages, the CPU build of torch, the project.
#   bash scripts/setup.sh          what `agora run` needs
#   bash scripts/setup.sh --dev    plus what the test suite needs
# Safe to repeat: it does nothing when pyproject.toml has not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=run
[ "${1:-}" = "--dev" ] && mode=dev

python=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  echo "agora setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi

stamp=".venv/.agora-setup-$mode-$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-12)"
if [ -f "$stamp" ]; then
  exit 0
fi

pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
echo "agora setup: installing packages ($mode); the first time takes a few minutes"
pip install --upgrade pip
# The CPU build of torch first, so nothing below pulls a multi-GB CUDA build.
pip install "torch==2.13.0"
if [ "$mode" = dev ]; then
  # The dashboard tests drive Debian's Chromium through playwright; playwright never downloads a browser here.
  if [ ! -x /usr/bin/chromium ]; then
    echo "agora setup: installing Debian's chromium (dashboard tests)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
  fi
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
  pip install -e ".[dev]"
else
  pip install -e .
fi
rm -f .venv/.agora-setup-"$mode"-*
touch "$stamp"
echo "agora setup: done"
