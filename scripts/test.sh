#!/usr/bin/env bash
# The one command that runs all tests on a fresh clone: installs system packages and npm dependencies,
# builds, runs every suite, and ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
exec bash scripts/test-all.sh
