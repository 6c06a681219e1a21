#!/usr/bin/env bash
# Node.js and npm for the OAuth test server, from Debian when missing.
set -euo pipefail
if command -v npm >/dev/null; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "The OAuth tests need Node.js and npm: apt-get install nodejs npm (as root)." >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
