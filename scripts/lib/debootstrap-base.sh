# Shared steps of the scripts that make base images from Debian packages without an image
# registry (debootstrap --variant=minbase, then `docker import`): scripts/make-base-images.sh
# and repair/images/build-python-base.sh. Sourced, not run. A script calls, in order:
#
#   base_image_begin TAG VERSION LOCK_NAME   # lock; exit 0 if TAG has this VERSION; WORK, ROOTFS
#   base_image_debootstrap PACKAGES          # debootstrap $SUITE from $MIRROR into $ROOTFS
#   ...its own steps in $ROOTFS...
#   base_image_slim                          # what a slim image leaves out
#   base_image_import TAG VERSION --change ...   # docker import with PATH, LANG and the version label
#
# SUITE (default bookworm), MIRROR (default deb.debian.org) and FORCE=1 (rebuild even when
# the tag is current) come from the environment.

SUITE="${SUITE:-bookworm}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

# Takes the machine-wide lock LOCK_NAME (parallel test processes may all call a script),
# exits 0 when TAG exists with the label org.tracemend.base.version=VERSION (unless
# FORCE=1), installs debootstrap when missing, and makes the work directory (removed on
# exit). Sets WORK, ROOTFS and OLD_ID (the image TAG names now, replaced at the end).
base_image_begin() {
  local tag="$1" version="$2" lock_name="$3"
  exec 9>"/tmp/$lock_name.lock"
  flock 9
  if [[ "${FORCE:-0}" != "1" ]] &&
    [[ "$(docker image inspect -f '{{ index .Config.Labels "org.tracemend.base.version" }}' "$tag" 2>/dev/null)" == "$version" ]]; then
    echo "base image $tag already present"
    exit 0
  fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    echo "installing debootstrap" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  OLD_ID="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
  WORK="$(mktemp -d "/tmp/$lock_name.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: WORK is this run's directory
  trap "rm -rf '$WORK'" EXIT
  ROOTFS="$WORK/rootfs"
}

# debootstrap --variant=minbase with the comma-separated PACKAGES; on failure, the end of
# its log on stderr and exit 1.
base_image_debootstrap() {
  local packages="$1"
  echo "debootstrap $SUITE into $ROOTFS" >&2
  debootstrap --variant=minbase --include="$packages" \
    "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
    echo "debootstrap of $SUITE from $MIRROR failed; the end of its log:" >&2
    tail -n 50 "$WORK/debootstrap.log" >&2
    exit 1
  }
}

# What the slim image leaves out too: apt lists and caches, docs, man pages, locales; and
# the build host's DNS settings.
base_image_slim() {
  rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
    "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/usr/share/doc/* \
    "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/locale/*
  : >"$ROOTFS/etc/resolv.conf"
}

# Imports $ROOTFS as TAG with PATH, LANG and the version label, plus the caller's
# `--change` arguments; then drops the image TAG named before, unless something uses it.
base_image_import() {
  local tag="$1" version="$2"
  shift 2
  tar -C "$ROOTFS" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL org.tracemend.base.version=$version" \
    "$@" - "$tag" >/dev/null
  # The image this one replaces is dangling now.
  if [[ -n "$OLD_ID" ]]; then docker rmi "$OLD_ID" >/dev/null 2>&1 || true; fi
}
