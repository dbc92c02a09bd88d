#!/usr/bin/env bash
# Prepares the browser tests' host package sets (tests/browser/hosts/grafana12, grafana13): for each,
# `npm ci` in its folder when its node_modules are missing or older than its lock file, then the
# esbuild bundle (hosts/build.mjs → hosts/<set>/dist). Called by the Playwright global setup and by
# the bench; safe to run again (it does nothing when the bundle matches the sources).
#
# A built bundle is also kept in ${XDG_CACHE_HOME:-~/.cache}/gpufleet/browser-hosts/<set>-<key>, where
# <key> hashes the set's package-lock.json, hosts/build.mjs and the host sources: a fresh clone on a
# machine that already built the same sources reuses it and skips npm ci (about 2.5 min on 2 cores).
# GPUFLEET_BROWSER_CACHE=0 disables that cache.
set -euo pipefail
cd "$(dirname "$0")"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/gpufleet/browser-hosts

for set in ${GPUFLEET_HOST_SETS:-grafana12 grafana13}; do
  dir=hosts/$set
  key=$(cat "$dir/package.json" "$dir/package-lock.json" hosts/build.mjs hosts/src/*.tsx \
    ../../src/panels/topology/testing/synthetic.ts | sha256sum | cut -c1-16)
  if [ -f "$dir/dist/build.json" ] && grep -q "\"key\": \"$key\"" "$dir/dist/build.json"; then
    continue
  fi
  cache=$cache_root/$set-$key
  if [ "${GPUFLEET_BROWSER_CACHE:-1}" != 0 ] && [ -f "$cache/build.json" ]; then
    rm -rf "$dir/dist"
    cp -r "$cache" "$dir/dist"
    echo "browser host $set: bundle $key from $cache"
    continue
  fi
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "browser host $set: npm ci"
    start=$(date +%s)
    (cd "$dir" && npm ci --no-audit --no-fund --prefer-offline --ignore-scripts --loglevel=error)
    echo "browser host $set: npm ci took $(( $(date +%s) - start )) s"
  fi
  node hosts/build.mjs "$set" "$key"
  if [ "${GPUFLEET_BROWSER_CACHE:-1}" != 0 ]; then
    mkdir -p "$cache_root"
    rm -rf "$cache_root/$set-"*
    cp -r "$dir/dist" "$cache"
  fi
done
