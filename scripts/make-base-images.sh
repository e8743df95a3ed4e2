#!/usr/bin/env bash
# Makes the runtime base image of the root Dockerfile from Debian packages, without an
# image registry: debootstrap --variant=minbase (what debian:bookworm-slim is made of)
# plus ca-certificates and git, which the Dockerfile otherwise installs with apt, then
# `docker import`. Build the image on it with
#   docker build --build-arg RUNTIME_IMAGE=<TAG> --target prebuilt ...
# (scripts/docker-image-test does). It is tagged under tracemend/ rather than as
# debian:bookworm-slim so that it never passes for the official image on this machine.
# The Rust builder image is not made here: CI builds the binaries outside the image.
#
# Idempotent: does nothing when the tag exists with this script's BASE_VERSION label
# (set FORCE=1 to rebuild). One build at a time per machine (flock).
#
# usage: scripts/make-base-images.sh [TAG]   (default tracemend/debian-slim:bookworm)
set -euo pipefail

TAG="${1:-${TRACEMEND_RUNTIME_BASE:-tracemend/debian-slim:bookworm}}"
SUITE="${SUITE:-bookworm}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
# Bump when the image's content changes, so existing machines rebuild it.
BASE_VERSION=1

exec 9>"/tmp/tracemend-runtime-base.lock"
flock 9

if [[ "${FORCE:-0}" != "1" ]] &&
  [[ "$(docker image inspect -f '{{ index .Config.Labels "org.tracemend.base.version" }}' "$TAG" 2>/dev/null)" == "$BASE_VERSION" ]]; then
  echo "base image $TAG already present"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "installing debootstrap" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

OLD_ID="$(docker image inspect -f '{{.Id}}' "$TAG" 2>/dev/null || true)"
WORK="$(mktemp -d /tmp/tracemend-runtime-base.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
ROOTFS="$WORK/rootfs"

echo "debootstrap $SUITE into $ROOTFS" >&2
debootstrap --variant=minbase --include=ca-certificates,git \
  "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
  echo "debootstrap of $SUITE from $MIRROR failed; the end of its log:" >&2
  tail -n 50 "$WORK/debootstrap.log" >&2
  exit 1
}

# What the slim image leaves out too: apt lists and caches, docs, man pages, locales.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
  "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/usr/share/doc/* \
  "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/locale/*
: >"$ROOTFS/etc/resolv.conf"

tar -C "$ROOTFS" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'LABEL org.tracemend.base=runtime' \
  --change "LABEL org.tracemend.base.version=$BASE_VERSION" \
  --change 'CMD ["bash"]' \
  - "$TAG" >/dev/null
echo "built base image $TAG"
# The image this one replaces is dangling now; drop it unless something still uses it.
if [[ -n "$OLD_ID" ]]; then docker rmi "$OLD_ID" >/dev/null 2>&1 || true; fi
