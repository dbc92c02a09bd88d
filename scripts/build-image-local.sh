#!/usr/bin/env bash
# Builds the sidecar image where no registry serves base images (this project's machines reach only npm
# and Debian), then runs it once as a check. The two base images sidecar/Dockerfile takes
# (NODE_IMAGE, RUNTIME_IMAGE) are made here: a Debian bookworm root from Debian's packages (debootstrap
# minbase, without docs, man pages and locales, as the slim image), and the same root with this
# machine's node and npm. Needs root, podman and debootstrap (apt-get install debootstrap); the first
# run takes minutes (debootstrap), later ones reuse the base images.
#
#   sudo scripts/build-image-local.sh          # → gpufleet-sidecar:<version>; npm run bench prints its size
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p 'require("./package.json").version')
base=localhost/gpufleet-base
work=$(mktemp -d)
ctr=gpufleet-image-check-$$
trap 'podman rm -f "$ctr" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
# Podman as this machine allows it: no systemd, a capped open-files limit.
printf '[containers]\ndefault_ulimits = ["nofile=16384:16384","nproc=16384:16384"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' > "$work/containers.conf"
export CONTAINERS_CONF=$work/containers.conf

if ! podman image exists $base/debian:bookworm-slim; then
  debootstrap --variant=minbase bookworm "$work/root" http://deb.debian.org/debian
  (cd "$work/root" && rm -rf usr/share/doc/* usr/share/man/* usr/share/info/* var/lib/apt/lists/* var/cache/apt/*.bin \
    && find usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +)
  tar -C "$work/root" -c . | podman import - $base/debian:bookworm-slim
fi
node_tag=$base/node:$(node -p 'process.versions.node.split(".")[0]')-bookworm-slim
if ! podman image exists "$node_tag"; then
  mkdir -p "$work/node/usr/local/bin" "$work/node/usr/local/lib/node_modules"
  cp "$(command -v node)" "$work/node/usr/local/bin/node"
  cp -r "$(npm root -g)/npm" "$work/node/usr/local/lib/node_modules/"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/node/usr/local/bin/npm"
  # npm in the build stage trusts what this machine's npm trusts (a proxy's CA, where npm has a cafile);
  # only the build stage's base gets it, never the runtime image.
  cafile=$(npm config get cafile)
  if [ "$cafile" != null ] && [ -f "$cafile" ]; then
    mkdir -p "$work/node/usr/local/etc"
    cp "$cafile" "$work/node/usr/local/etc/npm-ca.crt"
    echo 'cafile=/usr/local/etc/npm-ca.crt' > "$work/node/usr/local/etc/npmrc"
  fi
  printf 'FROM %s\nCOPY usr/local /usr/local/\n' $base/debian:bookworm-slim > "$work/node/Containerfile"
  podman build -q -t "$node_tag" "$work/node"
fi

# Docker's image format: the OCI one has no HEALTHCHECK.
podman build --format docker -f sidecar/Dockerfile -t "gpufleet-sidecar:$version" \
  --build-arg NODE_IMAGE="$node_tag" --build-arg RUNTIME_IMAGE=$base/debian:bookworm-slim \
  --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .

# The check: the simulated demo host in the image, as uid 10001, healthy by its own HEALTHCHECK.
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
# The image's default listen address (its HEALTHCHECK asks :9740), published on a free loopback port.
podman run -d --name "$ctr" --network slirp4netns -p "127.0.0.1:$port:9740" "gpufleet-sidecar:$version" \
  --simulate demo --docker-socket none >/dev/null
for _ in $(seq 60); do
  if podman healthcheck run "$ctr" >/dev/null 2>&1; then healthy=1; break; fi
  sleep 1
done
[ "${healthy:-0}" = 1 ] || { podman logs "$ctr" | tail -20; echo "image check: not healthy after 60 s" >&2; exit 1; }
uid=$(podman exec "$ctr" node -p 'process.getuid()')
[ "$uid" = 10001 ] || { echo "image check: runs as uid $uid, not 10001" >&2; exit 1; }
# /api/v1/gpus answers 503, then no GPUs, until the first GPU reading.
for _ in $(seq 60); do
  gpus=$(curl -fsS "http://127.0.0.1:$port/api/v1/gpus" 2>/dev/null | node -p 'JSON.parse(require("fs").readFileSync(0)).gpus.length || ""' 2>/dev/null)
  [ -n "$gpus" ] && break
  sleep 1
done
[ -n "${gpus:-}" ] || { podman logs "$ctr" | tail -20; echo "image check: no GPU reading after 60 s" >&2; exit 1; }
echo "gpufleet-sidecar:$version: healthy, uid $uid, $gpus GPUs on the simulated host," \
  "$(podman image inspect --format '{{.Size}}' "gpufleet-sidecar:$version" | awk '{printf "%.1f MB", $1/1e6}')," \
  "version label $(podman image inspect --format '{{index .Labels "org.opencontainers.image.version"}}' "gpufleet-sidecar:$version")"
