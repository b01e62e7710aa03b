#!/bin/sh
# run-with-keyring.sh — run a test in a private D-Bus session with an unlocked gnome-keyring.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The keyring's files go to a temporary home, so the user's own keyring is never touched. The
# test learns that a Secret Service is there from DISPATCH_TEST_KEYRING=1; without
# dbus-run-session or gnome-keyring-daemon it runs without one and skips what needs it.
#
# The private bus starts what the test asks for, as a desktop session would: besides the
# keyring, with xdg-desktop-portal installed, libadwaita's style manager in the window asks
# org.freedesktop.portal.Desktop for the colour scheme, which starts xdg-desktop-portal,
# xdg-document-portal (a FUSE file system mounted at $XDG_RUNTIME_DIR/doc) and
# xdg-permission-store. When the test is over, every process on that bus is stopped by its PID
# and the document portal's mount is undone before the temporary home is removed; a problem
# there is reported on stderr and the exit status stays the test's.
#
# DISPATCH_TEST_PORTALS=0 keeps xdg-desktop-portal's services off the private bus, as on a
# machine without them.
# DISPATCH_TEST_RUNTIME_DIR names a runtime directory to use instead of one in the temporary
# home; the caller makes it private (build-aux/flatpak-check uses /run/user/UID in a mount
# namespace of its own, where `flatpak run --file-forwarding` expects the document portal).
set -eu

if ! command -v dbus-run-session >/dev/null 2>&1 || ! command -v gnome-keyring-daemon >/dev/null 2>&1; then
  # CI installs both: there, a missing keyring is a broken setup, not a reason to skip.
  if [ -n "${CI:-}" ]; then
    echo "run-with-keyring: dbus-run-session or gnome-keyring-daemon is missing" >&2
    exit 1
  fi
  exec "$@"
fi

home=$(mktemp -d "${TMPDIR:-/tmp}/dispatch-keyring-XXXXXX")
export HOME="$home" XDG_DATA_HOME="$home/data" XDG_RUNTIME_DIR="${DISPATCH_TEST_RUNTIME_DIR:-$home/run}" \
  XDG_CONFIG_HOME="$home/config"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME"
chmod 700 "$XDG_RUNTIME_DIR"

# is_mounted DIR — whether a file system is mounted on DIR or below it
is_mounted() {
  awk -v dir="$1" '$5 == dir || index($5, dir "/") == 1 { found = 1 } END { exit !found }' \
    /proc/self/mountinfo
}

# unmount_under DIR — undo every mount below DIR (the document portal's), deepest first
unmount_under() {
  for mount in $(awk -v dir="$1" 'index($5, dir "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    fusermount3 -u "$mount" 2>/dev/null || fusermount -u "$mount" 2>/dev/null ||
      { [ "$(id -u)" -eq 0 ] && umount "$mount" 2>/dev/null; } ||
      fusermount3 -uz "$mount" 2>/dev/null || fusermount -uz "$mount" 2>/dev/null ||
      { [ "$(id -u)" -eq 0 ] && umount -l "$mount"; } ||
      echo "run-with-keyring: cannot unmount $mount" >&2
  done
}

cleanup() {
  for dir in "$home" "$XDG_RUNTIME_DIR"; do
    if is_mounted "$dir"; then
      unmount_under "$dir"
    fi
  done
  rm -rf "$home" || echo "run-with-keyring: could not remove $home" >&2
}
trap 'cleanup; trap - EXIT; exit 130' INT TERM HUP
trap cleanup EXIT

config=
if [ "${DISPATCH_TEST_PORTALS:-1}" = 0 ]; then
  # The standard service directories, minus what the xdg-desktop-portal package installs.
  mkdir -p "$home/dbus-services"
  for dir in "$XDG_DATA_HOME" /usr/local/share /usr/share; do
    for service in "$dir"/dbus-1/services/*.service; do
      [ -e "$service" ] || continue
      case ${service##*/} in
        org.freedesktop.portal.*|org.freedesktop.impl.portal.PermissionStore.service) continue ;;
      esac
      [ -e "$home/dbus-services/${service##*/}" ] || ln -s "$service" "$home/dbus-services/"
    done
  done
  config="$home/session.conf"
  cat >"$config" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$home/dbus-services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
fi

# The test environment (fatal warnings, malloc perturbation) is for our code, not the daemons.
status=0
env -u G_DEBUG -u MALLOC_PERTURB_ G_DEBUG_FOR_TEST="${G_DEBUG:-}" \
  dbus-run-session ${config:+--config-file="$config"} -- sh -c '
  # A non-empty password creates and unlocks the "login" keyring, the default collection,
  # without asking anyone.
  printf "dispatch-test" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  status=0
  G_DEBUG="$G_DEBUG_FOR_TEST" DISPATCH_TEST_KEYRING=1 "$@" || status=$?

  # Every process on this bus but the bus itself: the keyring and whatever it activated.
  bus_pids() {
    gdbus call --session -d org.freedesktop.DBus -o /org/freedesktop/DBus \
      -m org.freedesktop.DBus.ListNames 2>/dev/null | grep -o "'"'"':[0-9.]*'"'"'" | tr -d "'"'"'" |
    while read -r name; do
      gdbus call --session -d org.freedesktop.DBus -o /org/freedesktop/DBus \
        -m org.freedesktop.DBus.GetConnectionUnixProcessID "$name" 2>/dev/null |
        sed -n "s/^(uint32 \([0-9]*\),)$/\1/p"
    done | sort -u
  }
  # A zombie has stopped; only its parent, often not us, can reap it.
  running() {
    state=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${state#Z}" = "$state" ]
  }
  peers=
  helpers=
  for pid in $(bus_pids); do
    [ "$pid" != $$ ] && running "$pid" || continue
    peers="$peers $pid"
    # Their helpers too: fusermount3 keeps the document portal mount until it exits.
    helpers="$helpers $(ps -o pid= --ppid "$pid" 2>/dev/null | tr "\n" " ")"
  done
  [ -n "$peers" ] && kill -TERM $peers 2>/dev/null
  for _ in $(seq 50); do
    alive=
    for pid in $peers $helpers; do running "$pid" && alive="$alive $pid"; done
    [ -z "$alive" ] && break
    sleep 0.2
  done
  if [ -n "$alive" ]; then
    echo "run-with-keyring: killing what did not stop:$alive" >&2
    kill -KILL $alive 2>/dev/null
  fi
  exit $status
' run-with-keyring "$@" || status=$?

cleanup
trap - EXIT INT TERM HUP
exit $status
