#!/usr/bin/env bash
# Installs the npm dependencies, builds the sidecar and runs it on the simulated `demo` host
# (8 H100-class GPUs, MIG and vGPU). Extra arguments go to the sidecar, e.g. --listen 127.0.0.1:9740.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
npm run build -w sidecar --silent
exec node --max-semi-space-size=1 --single-threaded-gc --no-allocation-site-pretenuring --optimize-for-size --v8-pool-size=1 sidecar/dist/cli.js --simulate demo "$@"
