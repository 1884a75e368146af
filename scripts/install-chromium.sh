#!/usr/bin/env bash
# Makes Debian's Chromium available for the Web UI test (test/integration/web-ui.test.ts), driven by
# playwright-core (which never downloads a browser of its own). Runs before `npm test` (package.json
# "pretest") and in .ci/run. Order: $CHROMIUM_PATH or /usr/bin/chromium if present; else, as root with
# apt-get, the Debian package; else a note (the Web UI test then fails and says what to install).
set -euo pipefail
if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "${CHROMIUM_PATH}" ]; then exit 0; fi
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the Web UI test (apt-get, a minute the first time)..."
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  echo "chromium: $(command -v chromium)"
  exit 0
fi
echo "No Chromium at /usr/bin/chromium (and not root to apt-get it): the Web UI test will fail. Install Debian's chromium package, or set CHROMIUM_PATH." >&2
