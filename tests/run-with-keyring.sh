#!/bin/sh
# run-with-keyring.sh — run a test in a private D-Bus session with an unlocked gnome-keyring.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The keyring's files go to a temporary home, so the user's own keyring is never touched. The
# test learns that a Secret Service is there from DISPATCH_TEST_KEYRING=1; without
# dbus-run-session or gnome-keyring-daemon it runs without one and skips what needs it.
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
# Where xdg-desktop-portal is installed, GTK starts it, and it mounts the document portal's FUSE
# file system under $XDG_RUNTIME_DIR/doc; it may still be mounted when the session ends.
trap 'fusermount -u -z "$home/run/doc" 2>/dev/null || true; rm -rf "$home" 2>/dev/null || { sleep 1; rm -rf "$home"; }' EXIT
export HOME="$home" XDG_DATA_HOME="$home/data" XDG_RUNTIME_DIR="$home/run" XDG_CONFIG_HOME="$home/config"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME"
chmod 700 "$XDG_RUNTIME_DIR"

# The test environment (fatal warnings, malloc perturbation) is for our code, not the daemons.
env -u G_DEBUG -u MALLOC_PERTURB_ G_DEBUG_FOR_TEST="${G_DEBUG:-}" dbus-run-session -- sh -c '
  # A non-empty password creates and unlocks the "login" keyring, the default collection,
  # without asking anyone.
  printf "dispatch-test" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  G_DEBUG="$G_DEBUG_FOR_TEST" DISPATCH_TEST_KEYRING=1 "$@"
' run-with-keyring "$@"
