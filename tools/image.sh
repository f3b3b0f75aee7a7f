#!/usr/bin/env bash
# `make image`: builds the project's Dockerfile on a machine that reaches no container registry.
#
# podman (daemonless: nothing to start or stop) builds three images, each cached by content in
# podman's own storage, outside the checkout:
#   1. a Debian bookworm base from Debian's packages (debootstrap --variant=minbase, slimmed, imported);
#   2. a Python base on top of it (tools/image/base.Containerfile), passed to the Dockerfile as
#      BASE_IMAGE, which defaults to python:3.11-slim for everyone who pulls from a registry;
#   3. the project's image from the unchanged Dockerfile, tagged by a hash of its build context;
# and the real node's pause image (tools/image/pause.c, static, FROM scratch).
# The host's CA bundle (the machine may need extra CAs to reach the package index) goes to the
# build as a secret mount: it is read by pip in one RUN step and never stored in a layer.
# Images are saved as docker archives under the cache for the real node's containerd to import, and
# .cache/images.json in the checkout names them.
#
#   tools/image.sh            build (or reuse) everything, print the image names
#   tools/image.sh --check    exit 1 if the project's image for this source tree is not built yet
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cache=${REVIEWOP_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/review-operator/images}
suite=bookworm
# Bump when build_debian's recipe changes: the rootfs and every image above it are keyed by it.
debian_recipe=1
mkdir -p "$cache" "$repo/.cache"

log() { echo "image: $*" >&2; }

# The Debian mirror the host's own apt uses (or REVIEWOP_DEBIAN_MIRROR).
debian_mirror() {
  if [ -n "${REVIEWOP_DEBIAN_MIRROR:-}" ]; then echo "$REVIEWOP_DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || { echo "no Debian mirror found in the host's apt sources; set REVIEWOP_DEBIAN_MIRROR" >&2; exit 2; }
  echo "$uri"
}

hash_of() { sha256sum "$@" | sha256sum | cut -c1-12; }

# The build context as the Dockerfile sees it (.dockerignore: pyproject.toml, README.md, operator/).
context_hash() {
  (cd "$repo" && find operator -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | sort -z \
    | xargs -0 sha256sum; sha256sum Dockerfile .dockerignore pyproject.toml README.md) | sha256sum | cut -c1-12
}

ca_bundle() {
  local f
  for f in "${SSL_CERT_FILE:-}" "${PIP_CERT:-}" /etc/ssl/certs/ca-certificates.crt; do
    if [ -n "$f" ] && [ -s "$f" ]; then echo "$f"; return; fi
  done
}

have_image() { podman image exists "$1"; }

build_debian() {
  local tag=$1 root tarball
  tarball="$cache/debian-$suite-minbase-r$debian_recipe.tar"
  if [ ! -s "$tarball" ]; then
    local start=$SECONDS mirror
    mirror=$(debian_mirror)
    root=$(mktemp -d "$cache/.rootfs-XXXXXX")
    log "debootstrap --variant=minbase $suite (about 90 s)"
    debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
      || { tail -n 20 "$cache/debootstrap.log" >&2; rm -rf "$root"; exit 1; }
    # Slimmed as debian:bookworm-slim is: no apt lists, docs, man pages or caches.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
      "$root"/usr/share/locale/* "$root"/usr/share/doc/* \
      "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log "$root"/debootstrap
    tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
    log "debian rootfs in $((SECONDS - start)) s: $(du -h "$tarball" | cut -f1)"
  fi
  podman import --quiet "$tarball" "$tag" >/dev/null
}

build_python_base() {
  local tag=$1 debian=$2
  podman build --quiet --network=host --build-arg "DEBIAN_IMAGE=$debian" \
    -f "$here/image/base.Containerfile" -t "$tag" "$here/image" >/dev/null
}

build_pause() {
  local tag=$1 ctx
  ctx=$(mktemp -d)
  gcc -static -Os -s -o "$ctx/pause" "$here/image/pause.c"
  cp "$here/image/pause.Containerfile" "$ctx/Containerfile"
  podman build --quiet -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
}

save() {
  local tag=$1 out=$2
  if [ ! -s "$out" ]; then
    podman save --quiet --format docker-archive -o "$out.tmp" "$tag"
    mv "$out.tmp" "$out"
  fi
}

if ! command -v podman >/dev/null; then
  echo "podman is not installed: run 'make host-packages' (as root) first" >&2
  exit 2
fi

app_hash=$(context_hash)
app="localhost/review-operator:$app_hash"
if [ "${1:-}" = "--check" ]; then have_image "$app" && [ -s "$cache/review-operator-$app_hash.tar" ]; exit; fi

start=$SECONDS
base_key=$( (echo "$suite $debian_recipe"; cat "$here/image/base.Containerfile") | sha256sum | cut -c1-12)
debian="localhost/reviewop/debian:$suite-$base_key"
python_base="localhost/reviewop/python:3.11-slim-$base_key"
pause_key=$(hash_of "$here/image/pause.c" "$here/image/pause.Containerfile")
pause="localhost/reviewop/pause:$pause_key"

have_image "$python_base" || { have_image "$debian" || build_debian "$debian"; build_python_base "$python_base" "$debian"; }
have_image "$pause" || build_pause "$pause"

if ! have_image "$app"; then
  log "building $app from the Dockerfile (BASE_IMAGE=$python_base)"
  secret=()
  ca=$(ca_bundle)
  if [ -n "$ca" ]; then secret=(--secret "id=build-ca,src=$ca"); fi
  build_start=$SECONDS
  podman build --network=host --build-arg "BASE_IMAGE=$python_base" "${secret[@]}" \
    --layers -t "$app" "$repo" >"$cache/build.log" 2>&1 \
    || { tail -n 30 "$cache/build.log" >&2; exit 1; }
  log "built in $((SECONDS - build_start)) s"
fi
podman tag "$app" localhost/review-operator:dev

save "$app" "$cache/review-operator-$app_hash.tar"
# Older builds of the project's image (1 GB each) go; the bases and their layers stay cached.
for old in "$cache"/review-operator-*.tar; do
  [ "$old" = "$cache/review-operator-$app_hash.tar" ] || rm -f "$old"
done
podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/review-operator:' \
  | grep -v -e ":$app_hash\$" -e ':dev$' | xargs -r podman rmi --force >/dev/null 2>&1 || true
save "$pause" "$cache/pause-$pause_key.tar"
size=$(podman image inspect --format '{{.Size}}' "$app")
cat >"$repo/.cache/images.json" <<EOF
{"app": "$app", "app_archive": "$cache/review-operator-$app_hash.tar", "app_bytes": $size,
 "pause": "$pause", "pause_archive": "$cache/pause-$pause_key.tar"}
EOF
log "ready in $((SECONDS - start)) s: $app ($((size / 1000000)) MB), $pause"
echo "$app"
