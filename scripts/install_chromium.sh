#!/usr/bin/env bash
# Headless Chromium for the web-page test (tests/test_serve.py drives /usr/bin/chromium through
# Playwright's Python package; `playwright install` is never needed). Idempotent.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  echo "==> chromium: $(chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi
sudo_=""
if [ "$(id -u)" != "0" ]; then sudo_="sudo"; fi
echo "==> installing chromium (apt)"
$sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
chromium --version
