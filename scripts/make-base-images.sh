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
# Bump when the image's content changes, so existing machines rebuild it.
BASE_VERSION=1

# shellcheck source=scripts/lib/debootstrap-base.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debootstrap-base.sh"

base_image_begin "$TAG" "$BASE_VERSION" tracemend-runtime-base
base_image_debootstrap ca-certificates,git
base_image_slim
base_image_import "$TAG" "$BASE_VERSION" \
  --change 'LABEL org.tracemend.base=runtime' \
  --change 'CMD ["bash"]'
echo "built base image $TAG"
