#!/bin/sh
# test-run-with-keyring.sh — the private D-Bus session leaves no process, mount or file behind.
# SPDX-License-Identifier: GPL-3.0-or-later
#
#   test-run-with-keyring.sh RUN_WITH_KEYRING
#
# A probe inside the session asks for the desktop portal (as the window does), notes the PIDs of
# every bus peer and its temporary home; afterwards none of them may be left. Prints TAP.
set -u

wrapper=$1
scratch=$(mktemp -d "${TMPDIR:-/tmp}/dispatch-rwk-test-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
n=0
failed=0

ok() {
  n=$((n + 1))
  if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}

cat >"$scratch/probe.sh" <<'EOF'
#!/bin/sh
# Ask for the portal the way libadwaita does; record what runs on the bus and where home is.
gdbus call --session -d org.freedesktop.portal.Desktop -o /org/freedesktop/portal/desktop \
  -m org.freedesktop.DBus.Peer.Ping >/dev/null 2>&1 && echo yes >"$PROBE_OUT.portal"
if [ -n "${PROBE_STUBBORN:-}" ]; then
  # A bus peer that ignores SIGTERM, as a hung daemon would.
  sh -c 'trap "" TERM; exec gdbus monitor --session -d org.freedesktop.DBus' >/dev/null 2>&1 &
  sleep 1
fi
gdbus call --session -d org.freedesktop.DBus -o /org/freedesktop/DBus -m org.freedesktop.DBus.ListNames |
  grep -o "':[0-9.]*'" | tr -d "'" | while read -r name; do
    gdbus call --session -d org.freedesktop.DBus -o /org/freedesktop/DBus \
      -m org.freedesktop.DBus.GetConnectionUnixProcessID "$name" 2>/dev/null |
      sed -n 's/^(uint32 \([0-9]*\),)$/\1/p'
  done | while read -r pid; do
    # Only long-lived peers: not this probe's own gdbus calls, already gone.
    [ -d "/proc/$pid" ] && echo "$pid"
  done >"$PROBE_OUT.pids"
echo "$HOME" >"$PROBE_OUT.home"
exit "${PROBE_EXIT:-0}"
EOF
chmod +x "$scratch/probe.sh"

running() {
  state=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${state#Z}" = "$state" ]
}

# run LABEL PORTALS EXIT [STUBBORN]
run() {
  out=$scratch/$1
  PROBE_OUT=$out PROBE_EXIT=$3 PROBE_STUBBORN=${4:-} DISPATCH_TEST_PORTALS=$2 \
    "$wrapper" "$scratch/probe.sh" 2>"$out.stderr"
  echo $? >"$out.status"
}

# clean LABEL — nothing of that session is left: no process, no mount, no home
clean() {
  out=$scratch/$1
  home=$(cat "$out.home" 2>/dev/null) || return 1
  [ -n "$home" ] || return 1
  for pid in $(cat "$out.pids"); do
    if running "$pid"; then echo "# $1: process $pid is still running: $(ps -o cmd= -p "$pid")"; return 1; fi
  done
  if grep -q " $home[/ ]" /proc/self/mountinfo; then echo "# $1: still mounted under $home"; return 1; fi
  if [ -e "$home" ]; then echo "# $1: $home is still there"; return 1; fi
  for proc in /proc/[0-9]*; do
    if { tr "\\0" " " <"$proc/cmdline"; } 2>/dev/null | grep -qF "$home"; then
      echo "# $1: ${proc#/proc/} still names $home: $(tr '\0' ' ' <"$proc/cmdline")"; return 1
    fi
  done
  return 0
}

portal_installed=no
[ -e /usr/share/dbus-1/services/org.freedesktop.portal.Desktop.service ] && portal_installed=yes

run with-portals 1 0
[ "$(cat "$scratch/with-portals.status")" = 0 ]; ok $? "a passing test passes with the portals on the bus"
if [ $portal_installed = yes ]; then
  [ -e "$scratch/with-portals.portal" ]; ok $? "the desktop portal was started on the private bus"
else
  echo "ok $((n = n + 1)) - the desktop portal was started on the private bus # SKIP xdg-desktop-portal is not installed"
fi
clean with-portals; ok $? "no process, mount or file of that session is left"
! grep -q '^run-with-keyring:' "$scratch/with-portals.stderr"; ok $? "no cleanup problem reported"

run failing 1 3
[ "$(cat "$scratch/failing.status")" = 3 ]; ok $? "a failing test keeps its exit status"
clean failing; ok $? "no process, mount or file of a failed test's session is left"

run without-portals 0 0
[ "$(cat "$scratch/without-portals.status")" = 0 ]; ok $? "a passing test passes without the portals"
[ ! -e "$scratch/without-portals.portal" ]; ok $? "DISPATCH_TEST_PORTALS=0 keeps the desktop portal off the bus"
clean without-portals; ok $? "no process, mount or file is left without the portals"

run stubborn 1 0 yes
[ "$(cat "$scratch/stubborn.status")" = 0 ]; ok $? "a process that ignores SIGTERM does not fail a passing test"
grep -q 'run-with-keyring: killing what did not stop' "$scratch/stubborn.stderr"; ok $? "it is reported on stderr"
clean stubborn; ok $? "and it is not left behind"

echo "1..$n"
exit $failed
