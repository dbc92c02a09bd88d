#!/usr/bin/env bash
# Runs every suite (sidecar unit, plugin unit, integration, browser) and ends with one line
# "N passed, N failed" for all of them together. Exits non-zero when anything failed.
# Assumes dependencies are installed: scripts/test.sh installs them first.
set -u
cd "$(dirname "$0")/.."
mkdir -p tests/artifacts/reports
passed=0
failed=0

add() { # add <label> <report-file>
  read -r p f < <(node scripts/count-results.mjs "$2" "$1")
  echo "== $1: $p passed, $f failed"
  passed=$((passed + p))
  failed=$((failed + f))
}

step() { # step <label> <command...>: a build step counts as one test
  local label=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "== $label: ok"; else failed=$((failed + 1)); echo "== $label: FAILED"; fi
}

rm -f tests/artifacts/reports/*.json

step "build sidecar" npm run build -w sidecar --silent
step "build plugin" npm run build --silent

echo "== sidecar unit tests"
(cd sidecar && node --experimental-vm-modules ../node_modules/jest/bin/jest.js --ci \
  --json --outputFile=../tests/artifacts/reports/sidecar-unit.json)
add "sidecar unit" tests/artifacts/reports/sidecar-unit.json

if node -e 'process.exit(require("./package.json").scripts["test:plugin"] ? 0 : 1)'; then
  echo "== plugin unit tests"
  npm run test:plugin --silent -- --ci --json --outputFile=tests/artifacts/reports/plugin-unit.json
  add "plugin unit" tests/artifacts/reports/plugin-unit.json
fi

echo "== integration tests"
node --experimental-vm-modules node_modules/jest/bin/jest.js --ci -c tests/integration/jest.config.js \
  --json --outputFile=tests/artifacts/reports/integration.json
add "integration" tests/artifacts/reports/integration.json

if [ -f tests/browser/playwright.config.ts ]; then
  echo "== browser tests"
  PLAYWRIGHT_JSON_OUTPUT_NAME=tests/artifacts/reports/browser.json npx playwright test -c tests/browser --reporter=line,json
  add "browser" tests/artifacts/reports/browser.json
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
