#!/usr/bin/env bash
# Installs what the tests need beyond npm: Debian's Prometheus (prometheus, promtool) and Podman
# (a real Docker-compatible engine for container discovery: podman, runc, slirp4netns).
# Also Debian's Chromium for the browser tests (they drive /usr/bin/chromium; no browser is downloaded),
# and Debian's docker-compose, the real compose parser that checks docker-compose.yml; VictoriaMetrics
# (server, vmagent, vmalert), node_exporter and python3-prometheus-client for scale-out tests and the bench.
# Run as root (CI is); otherwise it prints what to install.
set -euo pipefail
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v runc >/dev/null 2>&1 || need+=(runc)
command -v slirp4netns >/dev/null 2>&1 || need+=(slirp4netns)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
# The packaging tests unpack the plugin archive with Debian's unzip (another implementation than the
# one that packs it) and check the systemd unit with systemd-analyze.
command -v unzip >/dev/null 2>&1 || need+=(unzip)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# The scale-out tests run VictoriaMetrics, vmagent and vmalert; the bench compares with node_exporter
# and Python's prometheus_client parser.
command -v vmagent >/dev/null 2>&1 || need+=(victoria-metrics)
command -v prometheus-node-exporter >/dev/null 2>&1 || need+=(prometheus-node-exporter)
/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1 || need+=(python3-prometheus-client)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "The tests need these Debian packages: ${need[*]}. Install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing ${need[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
