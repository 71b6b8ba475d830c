# shellcheck shell=bash
# Which Debian release this machine runs, and what that means for the set-up scripts (sourced by engine-up,
# podman-up, remote-engine-up and test-tools-up). Debian 12 (bookworm) and 13 (trixie) differ where it matters:
#
#   bookworm  docker.io 20.10 (BuildKit built into the CLI), qemu-user-static 7.2 registered by binfmt-support
#             (update-binfmts, /usr/share/binfmts).
#   trixie    docker.io 26.1 whose CLI refuses `DOCKER_BUILDKIT=1 docker build` without the buildx component
#             (docker-buildx 0.13), and the CLI itself is its own package (docker-cli, only a Recommends of
#             docker.io, which --no-install-recommends drops); QEMU 10 is qemu-user (static binaries) +
#             qemu-user-binfmt, whose handlers are systemd-binfmt's /usr/lib/binfmt.d files, with no
#             update-binfmts entries: on a machine without systemd nobody registers them, so we do.
#
# Anything else: one line saying what to install by hand, exit 2 (bad input: this machine, not a failure).

RELEASE_FILE=${NPMATRIX_OS_RELEASE:-/etc/os-release}
BINFMT_DIR=/proc/sys/fs/binfmt_misc

# The release's codename (bookworm, trixie); exits 2 with one line on any other system.
release_codename() {
  local id="" version="" codename="" pretty=""
  if [ -r "$RELEASE_FILE" ]; then
    # shellcheck disable=SC1090  # a file of KEY=value lines (os-release(5))
    id=$(. "$RELEASE_FILE" && echo "${ID:-}"); version=$(. "$RELEASE_FILE" && echo "${VERSION_ID:-}")
    codename=$(. "$RELEASE_FILE" && echo "${VERSION_CODENAME:-}"); pretty=$(. "$RELEASE_FILE" && echo "${PRETTY_NAME:-}")
  fi
  case "$id:$version:$codename" in
    debian:12:* | debian:*:bookworm) echo bookworm ;;
    debian:13:* | debian:*:trixie) echo trixie ;;
    *)
      printf '%s: this is %s, not Debian 12 (bookworm) or 13 (trixie): install a container engine with BuildKit (docker + buildx), qemu-user-static and mmdebstrap by hand, then run this again\n' \
        "${0##*/}" "${pretty:-an unknown system (no PRETTY_NAME in $RELEASE_FILE)}" >&2
      exit 2
      ;;
  esac
}

# The Debian packages that provide the engine, QEMU and the base-image tools on this release.
release_engine_packages() {
  local codename
  codename=$(release_codename) || exit 2
  case "$codename" in
    bookworm) echo docker.io qemu-user-static binfmt-support mmdebstrap arch-test ;;
    trixie) echo docker.io docker-cli docker-buildx qemu-user-static mmdebstrap arch-test ;;
  esac
}

# Register QEMU's binfmt handlers for arm and aarch64, with or without systemd: update-binfmts where
# binfmt-support has the entries (bookworm), else the packaged binfmt.d lines written to the kernel ourselves
# (what systemd-binfmt would do; flags as packaged, F included, so the handler works inside containers).
release_register_binfmt() {
  local name conf line
  if [ -e /usr/share/binfmts/qemu-aarch64 ] && command -v update-binfmts >/dev/null; then
    update-binfmts --enable >/dev/null 2>&1 || true
  fi
  for name in qemu-arm qemu-aarch64; do
    [ -e "$BINFMT_DIR/$name" ] && continue
    conf=""
    for conf in /usr/lib/binfmt.d/$name.conf /usr/share/qemu/binfmt.d/$name.conf; do [ -r "$conf" ] && break; done
    [ -r "$conf" ] || continue
    line=$(grep -v '^[#;]' "$conf" | grep -m1 "^:$name:" || true)
    [ -n "$line" ] && printf '%s' "$line" >"$BINFMT_DIR/register"
  done
}

# Does this release's docker CLI need the buildx component for a BuildKit build (docker 23+ does)?
release_needs_buildx() {
  [ "$(release_codename 2>/dev/null)" = trixie ]
}
