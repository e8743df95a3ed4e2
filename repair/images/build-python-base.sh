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
# Bump when the image's content changes, so existing machines rebuild it.
BASE_VERSION=2
TIME_MACHINE_VERSION=3.6.0

# The shared steps. `tracemend-repair build-base-image` runs this script's embedded text
# with them already defined, so it is sourced only when they are not.
if ! declare -F base_image_begin >/dev/null; then
  # shellcheck source=scripts/lib/debootstrap-base.sh
  source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/debootstrap-base.sh"
fi

base_image_begin "$TAG" "$BASE_VERSION" tracemend-python-base
base_image_debootstrap python3,python3-pip,faketime,libfaketime,tzdata,ca-certificates

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

base_image_slim
# The path of libfaketime is stable for the images we build; record it for the engine.
FAKETIME_LIB="$(cd "$ROOTFS" && ls usr/lib/*/faketime/libfaketime.so.1 | head -n1)"
test -n "$FAKETIME_LIB"

base_image_import "$TAG" "$BASE_VERSION" \
  --change "ENV TRACEMEND_FAKETIME_LIB=/$FAKETIME_LIB" \
  --change 'LABEL org.tracemend.base=python' \
  --change 'CMD ["python3"]'
echo "built base image $TAG (libfaketime at /$FAKETIME_LIB)"
