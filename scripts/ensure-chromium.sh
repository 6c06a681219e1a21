#!/usr/bin/env bash
# Debian's Chromium for the browser tests (never `playwright install`: it downloads a browser).
set -euo pipefail
if command -v chromium >/dev/null; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "The browser tests need Chromium: apt-get install chromium (as root)." >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
