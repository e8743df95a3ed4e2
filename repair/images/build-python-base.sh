#!/usr/bin/env bash
# Builds the repair engine's Python base image from Debian packages, without a registry:
# debootstrap --variant=minbase + python3, pip and libfaketime, then `docker import`.
# Idempotent: does nothing when the tag already exists (set FORCE=1 to rebuild).
#
# usage: repair/images/build-python-base.sh [TAG]   (default tracemend/python-base:bookworm)
set -euo pipefail

TAG="${1:-${TRACEMEND_PYTHON_BASE:-tracemend/python-base:bookworm}}"
SUITE="${SUITE:-bookworm}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

if [[ "${FORCE:-0}" != "1" ]] && docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "base image $TAG already present"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "installing debootstrap" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

WORK="$(mktemp -d /tmp/tracemend-base.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
ROOTFS="$WORK/rootfs"

echo "debootstrap $SUITE into $ROOTFS" >&2
debootstrap --variant=minbase \
  --include=python3,python3-pip,faketime,libfaketime,tzdata,ca-certificates \
  "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
  tail -n 50 "$WORK/debootstrap.log" >&2
  exit 1
}

# Slim the image: apt lists, caches, docs and man pages are not needed to run tests.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
  "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/usr/share/doc/* \
  "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/locale/*
# The path of libfaketime is stable for the images we build; record it for the engine.
FAKETIME_LIB="$(cd "$ROOTFS" && ls usr/lib/*/faketime/libfaketime.so.1 | head -n1)"
test -n "$FAKETIME_LIB"

tar -C "$ROOTFS" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change "ENV TRACEMEND_FAKETIME_LIB=/$FAKETIME_LIB" \
  --change 'LABEL org.tracemend.base=python' \
  --change 'CMD ["python3"]' \
  - "$TAG" >/dev/null
echo "built base image $TAG (libfaketime at /$FAKETIME_LIB)"
