#!/bin/sh
# test-install.sh — `meson install` into a temporary directory, then run the installed programs.
# SPDX-License-Identifier: GPL-3.0-or-later
#
#   test-install.sh MESON BUILD_DIR APP_ID VERSION PREFIX BINDIR DATADIR LOCALEDIR LINGUAS
#
# Checks that every file lands in its standard place and that `dispatch --version` and
# `dispatch-send --help` work from there, without a display. Prints TAP.
set -u

meson=$1 build=$2 app_id=$3 version=$4 prefix=$5 bindir=$6 datadir=$7 localedir=$8 linguas=$9

dest=$(mktemp -d "${TMPDIR:-/tmp}/dispatch-install-XXXXXX")
trap 'rm -rf "$dest"' EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }

# Relative directories are under the prefix; absolute ones stay where they are.
under_prefix() {
  case $1 in
    /*) echo "$dest$1" ;;
    *) echo "$dest$prefix/$1" ;;
  esac
}
bin=$(under_prefix "$bindir")
share=$(under_prefix "$datadir")
locale=$(under_prefix "$localedir")

if "$meson" install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$dest.log" 2>&1; then
  ok "meson install --destdir"
else
  not_ok "meson install --destdir"
  sed 's/^/# /' "$dest.log"
fi
rm -f "$dest.log"

check "bin/dispatch" "[ -x '$bin/dispatch' ]"
check "bin/dispatch-send" "[ -x '$bin/dispatch-send' ]"
check "desktop file" "[ -f '$share/applications/$app_id.desktop' ]"
check "desktop file is translated" "grep -q '^Comment\\[' '$share/applications/$app_id.desktop'"
check "metainfo" "[ -f '$share/metainfo/$app_id.metainfo.xml' ]"
check "metainfo is translated" "grep -q 'xml:lang=' '$share/metainfo/$app_id.metainfo.xml'"
check "GSettings schema" "[ -f '$share/glib-2.0/schemas/io.github.dispatchmail.Dispatch.gschema.xml' ]"
check "app icon" "[ -f '$share/icons/hicolor/scalable/apps/$app_id.svg' ]"
check "symbolic icon" "[ -f '$share/icons/hicolor/symbolic/apps/$app_id-symbolic.svg' ]"
for lang in $(grep -v '^#' "$linguas"); do
  check "translation $lang" "[ -f '$locale/$lang/LC_MESSAGES/dispatch.mo' ]"
done

# From the installed copies, with no display to lean on.
printed=$(env -u DISPLAY -u WAYLAND_DISPLAY "$bin/dispatch" --version 2>&1)
check "dispatch --version without a display" "[ \"\$printed\" = 'dispatch $version' ]"
echo "# $printed"

help=$(env -u DISPLAY -u WAYLAND_DISPLAY "$bin/dispatch-send" --help 2>&1)
check "dispatch-send --help" "echo \"\$help\" | grep -q -- '--server'"

echo "1..$n"
exit $failed
