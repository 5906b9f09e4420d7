#!/usr/bin/env bash
# Headless Chromium for the web-page test (tests/test_serve.py drives /usr/bin/chromium through
# Playwright's Python package; `playwright install` is never needed). Idempotent: does nothing
# when chromium is already on PATH. Called by scripts/setup.sh (so by `make setup`, `make test`
# and `make pipeline`); exits non-zero with a clear message when it cannot install.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  echo "==> chromium: $(chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi
sudo_=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo_="sudo -n"
  else
    echo "error: chromium is not installed and this user can neither install it (not root) nor" >&2
    echo "       use sudo without a password. Install it yourself (Debian/Ubuntu:" >&2
    echo "       'sudo apt-get install chromium'), or set SKIP_CHROMIUM=1 to skip this step" >&2
    echo "       (the headless-browser test in tests/test_serve.py will then fail)." >&2
    exit 3
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: chromium is not installed and apt-get is not available; install chromium with" >&2
  echo "       your package manager (it must be on PATH as 'chromium')." >&2
  exit 3
fi
echo "==> installing chromium (apt; about a minute)"
$sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
chromium --version
