#!/usr/bin/env bash
# Builds the repair engine's Python base image from Debian packages, without a registry:
# debootstrap --variant=minbase + python3, pip, tzdata and libfaketime, plus time-machine
# from PyPI (the replay runner fakes the wall clock with it), then `docker import`.
# Idempotent: does nothing when the tag exists with this script's BASE_VERSION label
# (set FORCE=1 to rebuild).
#
# usage: repair/images/build-python-base.sh [TAG]   (default tracemend/python-base:bookworm)
set -euo pipefail

TAG="${1:-${TRACEMEND_PYTHON_BASE:-tracemend/python-base:bookworm}}"
SUITE="${SUITE:-bookworm}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
# Bump when the image's content changes, so existing machines rebuild it.
BASE_VERSION=2
TIME_MACHINE_VERSION=3.6.0

# One build at a time on a machine (parallel test processes may all call this).
exec 9>"/tmp/tracemend-python-base.lock"
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

# time-machine fakes the wall clock for Python without touching the monotonic clock, so
# sleeps and timeouts keep working (libfaketime 0.9.10 breaks one or the other).
# pip runs in the chroot with the host's DNS and CA bundle (the host's may hold a CA
# that a proxy in front of PyPI needs); the image's own files are restored afterwards.
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
HOST_CA="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
IMAGE_CA="$ROOTFS/etc/ssl/certs/ca-certificates.crt"
cp "$IMAGE_CA" "$WORK/image-ca.crt"
if [[ -f "$HOST_CA" ]]; then cp "$HOST_CA" "$IMAGE_CA"; fi
env -u PIP_FIND_LINKS PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
  SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
  chroot "$ROOTFS" python3 -m pip install --quiet --no-cache-dir --break-system-packages \
  --root-user-action=ignore "time-machine==$TIME_MACHINE_VERSION" >"$WORK/pip.log" 2>&1 || {
  cat "$WORK/pip.log" >&2
  exit 1
}
cp "$WORK/image-ca.crt" "$IMAGE_CA"
: >"$ROOTFS/etc/resolv.conf"

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
  --change "LABEL org.tracemend.base.version=$BASE_VERSION" \
  --change 'CMD ["python3"]' \
  - "$TAG" >/dev/null
echo "built base image $TAG (libfaketime at /$FAKETIME_LIB)"
# The image this one replaces is dangling now; drop it unless something still uses it.
if [[ -n "$OLD_ID" ]]; then docker rmi "$OLD_ID" >/dev/null 2>&1 || true; fi
