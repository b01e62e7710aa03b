#!/bin/sh
# run-ui-session.sh — install Dispatch into a temporary directory and run the UI driver there, in
# a desktop session of its own: private home, D-Bus session, unlocked gnome-keyring.
# SPDX-License-Identifier: GPL-3.0-or-later
#
#   run-ui-session.sh MESON BUILD_DIR PREFIX BINDIR DATADIR DRIVER [DRIVER-ARGUMENT…]
#
# The driver (/usr/bin/python3) gets the installed `dispatch` as --dispatch and the installed
# schema directory as --schema-dir; it starts Xvfb itself. The accessibility bus (at-spi2-core)
# is started on demand by the session bus, the way a desktop session starts it. So may be
# xdg-desktop-portal and its document portal, which mounts a FUSE file system under
# $XDG_RUNTIME_DIR/doc; the clean-up unmounts it before removing the home, and a clean-up that
# still fails is reported, never turned into a failed test.
set -u

meson=$1 build=$2 prefix=$3 bindir=$4 datadir=$5 driver=$6
shift 6

for tool in dbus-run-session gnome-keyring-daemon; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "1..0 # SKIP $tool is not installed"
    # CI installs everything: there a missing tool is a broken setup, not a reason to skip.
    [ -n "${CI:-}" ] && exit 1
    exit 0
  fi
done

home=$(mktemp -d "${TMPDIR:-/tmp}/dispatch-ui-XXXXXX")

cleanup() {
  doc="$home/run/doc"
  # The document portal outlives the bus by a moment; its mount point refuses rm until gone.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    grep -q " $doc " /proc/mounts 2>/dev/null || break
    fusermount3 -u "$doc" 2>/dev/null || fusermount -u "$doc" 2>/dev/null \
      || fusermount3 -u -z "$doc" 2>/dev/null || fusermount -u -z "$doc" 2>/dev/null || sleep 1
  done
  rm -rf "$home" 2>/dev/null || echo "# run-ui-session: could not remove all of $home" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

under_prefix() {
  case $1 in
    /*) echo "$home/install$1" ;;
    *) echo "$home/install$prefix/$1" ;;
  esac
}

if ! "$meson" install -C "$build" --destdir "$home/install" --no-rebuild --quiet >"$home/install.log" 2>&1; then
  echo "1..0 # meson install --destdir failed"
  sed 's/^/# /' "$home/install.log"
  exit 1
fi
bin=$(under_prefix "$bindir")
share=$(under_prefix "$datadir")
# `meson install` leaves schema compilation to the packager when DESTDIR is set; do what the
# package's trigger does.
glib-compile-schemas "$share/glib-2.0/schemas" || exit 1

export HOME="$home/home" XDG_DATA_HOME="$home/home/.local/share" XDG_CONFIG_HOME="$home/home/.config"
export XDG_CACHE_HOME="$home/home/.cache" XDG_STATE_HOME="$home/home/.local/state" XDG_RUNTIME_DIR="$home/run"
export XDG_DATA_DIRS="$share:${XDG_DATA_DIRS:-/usr/local/share:/usr/share}"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
# Nothing of the test environment meant for in-process tests reaches the app: default GTK
# settings, the accessibility bridge on, the desktop's settings backend.
unset GTK_A11Y NO_AT_BRIDGE GSETTINGS_BACKEND GSETTINGS_SCHEMA_DIR GDK_BACKEND WAYLAND_DISPLAY DISPLAY

# Neither the daemons nor the app run with the test's fatal warnings: the app runs as a
# person runs it, and the driver checks that it is alive and what it did.
# The services the bus starts (at-spi2-registryd says hello on its stdout) write to stderr;
# only the driver writes to stdout, which meson reads as TAP.
env -u G_DEBUG -u MALLOC_PERTURB_ dbus-run-session -- sh -c '
  # A non-empty password creates and unlocks the "login" keyring without asking anyone.
  printf "dispatch-test" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  exec "$@" >&3 3>&-
' run-ui-session /usr/bin/python3 "$driver" --dispatch "$bin/dispatch" \
  --schema-dir "$share/glib-2.0/schemas" "$@" 3>&1 1>&2
