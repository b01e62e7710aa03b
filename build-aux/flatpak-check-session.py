#!/usr/bin/python3
# flatpak-check-session.py — use an installed Dispatch Flatpak as a person would; prints TAP.
# SPDX-License-Identifier: GPL-3.0-or-later
#
#   flatpak-check-session.py APP_ID VERSION OUTPUT_DIR
#
# Run by build-aux/flatpak-check inside tests/run-with-keyring.sh: a private D-Bus session with
# an unlocked gnome-keyring, where xdg-desktop-portal (the Secret and document portals) is
# started on demand; FLATPAK_USER_DIR names the user installation holding APP_ID.
#   - `flatpak run APP_ID --version`
#   - dispatch-send inside the sandbox, STARTTLS + AUTH + a picture, to aiosmtpd on 127.0.0.1,
#     every input file (--attach, --body-file, --password-file, --ca-file) handed in by
#     --file-forwarding; the message read back with Python's email; a host path given without
#     forwarding stays unreadable (the sandbox has no filesystem access)
#   - the exported desktop file, icons and metainfo validate; no filesystem or bus permission
#   - libsecret inside the sandbox stores and finds a password through the Secret portal
#   - the window under Xvfb opened by a mailto: link, the form filled (its draft read back),
#     and a screenshot OUTPUT_DIR/APP_ID.png

import configparser
import glob
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
import mailcheck  # noqa: E402
from mailcheck import CA, PASSWORD, SERVER_CERT, SERVER_KEY, USER, Tap, describe_run  # noqa: E402

# The aiosmtpd test's server wrapper: tests/smtp-server.py on a free port, stopped by PID.
_spec = importlib.util.spec_from_file_location(
    'aiosmtpd_test', os.path.join(ROOT, 'tests', 'test-dispatch-send-aiosmtpd.py'))
aiosmtpd_test = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(aiosmtpd_test)

TIMEOUT = 120
MAILTO_TO = 'bob@example.net'
MAILTO_SUBJECT = 'Sent from the Flatpak'
MAILTO_BODY = 'Filled in by a mailto: link.'


def run(args, stdin=None, timeout=TIMEOUT):
    """(status, stdout, stderr) as text; None for the status after a timeout, when the
    command's whole process group (Xvfb, the sandbox, …) is killed, so nothing is left behind."""
    proc = subprocess.Popen(args, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(stdin.encode() if stdin is not None else None, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, out.decode('utf-8', 'replace'), \
            err.decode('utf-8', 'replace') + '\n[killed after %d s]' % timeout
    return proc.returncode, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace')


def forwarded(path):
    """A host file for `flatpak run --file-forwarding`: exported through the document portal."""
    return ['@@', path, '@@']


def check_version(tap, app_id, version):
    status, out, err = run(['flatpak', 'run', app_id, '--version'])
    tap.ok(status == 0 and out.strip() == 'dispatch %s' % version,
           '%s: flatpak run --version prints "dispatch %s"' % (app_id, version),
           describe_run(status, out, err))


def check_permissions(tap, app_id):
    status, out, err = run(['flatpak', 'info', '--show-permissions', app_id])
    permissions = configparser.ConfigParser(interpolation=None)
    permissions.read_string(out)
    context = permissions['Context'] if permissions.has_section('Context') else {}
    tap.ok(status == 0 and 'filesystems' not in context,
           '%s: no filesystem access' % app_id, out + err)
    tap.ok(status == 0 and not permissions.has_section('Session Bus Policy')
           and not permissions.has_section('System Bus Policy'),
           '%s: no --talk-name or --own-name: the portals suffice' % app_id, out + err)


def check_exports(tap, app_id):
    exports = os.path.join(os.environ['FLATPAK_USER_DIR'], 'exports', 'share')
    desktop = os.path.join(exports, 'applications', app_id + '.desktop')
    status, out, err = run(['desktop-file-validate', desktop])
    tap.ok(status == 0 and not out.strip(), '%s: the exported desktop file validates' % app_id,
           describe_run(status, out, err))
    entry = configparser.ConfigParser(interpolation=None, strict=False)
    entry.optionxform = str
    entry.read(desktop, encoding='utf-8')
    exec_line = entry.get('Desktop Entry', 'Exec', fallback='')
    tap.ok('flatpak run' in exec_line and app_id in exec_line and '%u' in exec_line.lower(),
           '%s: its Exec starts the Flatpak and passes mailto: links on' % app_id, exec_line)
    for kind, name in (('scalable', app_id + '.svg'), ('symbolic', app_id + '-symbolic.svg')):
        path = os.path.join(exports, 'icons', 'hicolor', kind, 'apps', name)
        try:
            root = ET.parse(path).getroot()
            good = root.tag.endswith('svg')
        except (OSError, ET.ParseError) as e:
            good, root = False, e
        tap.ok(good, '%s: the %s icon is exported, an SVG' % (app_id, kind), repr(root))

    status, location, err = run(['flatpak', 'info', '--show-location', app_id])
    # flatpak-builder 1.2 moves it to share/appdata/ID.appdata.xml; newer ones leave it in metainfo.
    metainfo = glob.glob(os.path.join(location.strip(), 'files', 'share', '*', app_id + '.*.xml'))
    status, out, err = run(['appstreamcli', 'validate', '--no-net'] + metainfo)
    tap.ok(len(metainfo) == 1 and status == 0, '%s: the installed metainfo validates' % app_id,
           '%r\n%s' % (metainfo, describe_run(status, out, err)))


def check_send(tap, app_id, work):
    """STARTTLS + AUTH + a picture from inside the sandbox, every input file forwarded."""
    server = None
    try:
        mailcheck.wait_for_certs()
        cases = {c.name: c for c in mailcheck.build_cases(work, big=False)}
        case = cases['utf8']
        password_file = os.path.join(work, 'password')
        mailcheck.write_secret(password_file, PASSWORD)
        server = aiosmtpd_test.Server(work, 'server-' + app_id, [
            '--tls-cert', SERVER_CERT, '--tls-key', SERVER_KEY, '--require-starttls',
            '--auth-user', USER, '--auth-password-file', password_file])

        args = ['flatpak', 'run', '--file-forwarding', '--command=dispatch-send', app_id,
                '--server', '127.0.0.1:%d' % server.port, '--security', 'starttls',
                '--ca-file'] + forwarded(CA) + ['--user', USER,
                '--password-file'] + forwarded(password_file) + [
                '--from', case.from_header, '--subject', case.subject,
                '--body-file'] + forwarded(case.body_file)
        for flag, addresses in (('--to', case.to), ('--cc', case.cc), ('--bcc', case.bcc)):
            for address in addresses:
                args += [flag, address]
        for attachment in case.attachments:
            args += ['--attach'] + forwarded(attachment.path)
        status, out, err = run(args + ['--transcript'])
        tap.ok(status == 0, '%s: dispatch-send in the sandbox sends over STARTTLS + AUTH, '
               'files forwarded' % app_id, describe_run(status, out, err) + server.log())
        tap.ok(not mailcheck.leaks(PASSWORD, out, err), '%s: no password in its output' % app_id)
        envelopes = server.envelopes()
        messages = server.messages()
        if tap.ok(len(envelopes) == 1 and len(messages) == 1,
                  '%s: the server stored the message' % app_id, server.log()):
            env = envelopes[0]
            tap.ok(env.get('tls') is True and env.get('auth_user') == USER,
                   '%s: it came over TLS from the signed-in user' % app_id, repr(env))
            with open(messages[0], 'rb') as f:
                raw = f.read()
            mailcheck.check_message(tap, '%s: sent' % app_id, raw, case, expect_no_bcc=True)

        # Without forwarding, a host path means nothing inside: no broad filesystem access.
        text = cases['text-only']
        status, out, err = run(['flatpak', 'run', '--file-forwarding', '--command=dispatch-send',
                                app_id, '--server', '127.0.0.1:%d' % server.port,
                                '--ca-file'] + forwarded(CA) + ['--user', USER,
                                '--password-file'] + forwarded(password_file)
                               + ['--from', text.from_header, '--to', text.to[0],
                                  '--subject', text.subject, '--body', text.body,
                                  '--attach', case.attachments[0].path])
        tap.ok(status == 66 and len(server.messages()) == 1,
               '%s: a host file not forwarded cannot be read (exit 66), nothing sent' % app_id,
               describe_run(status, out, err))
    finally:
        if server is not None:
            server.stop()


# With Debian 12's libsecret 0.20.5 and xdg-desktop-portal 1.16, between one call in twenty and
# one in two (more on a busy machine) never returns: the file backend waits for the portal's
# Response signal, which seems to come before it listens. Each call gets a time limit and up to
# five tries, and every hang is reported.
SECRET_TRIES = 5
SECRET_TIMEOUT = 10


def secret_tool(tap, app_id, args, stdin=None):
    for attempt in range(1, SECRET_TRIES + 1):
        status, out, err = run(['flatpak', 'run', '--command=secret-tool', app_id] + args,
                               stdin=stdin, timeout=SECRET_TIMEOUT)
        if status is not None:
            return status, out, err
        tap.diag('%s: secret-tool %s hung (try %d of %d), killed after %d s'
                 % (app_id, args[0], attempt, SECRET_TRIES, SECRET_TIMEOUT))
    return status, out, err


def check_keyring(tap, app_id):
    """libsecret inside the sandbox: store and look up, through the Secret portal."""
    secret = 'flatpak-check-%d' % os.getpid()
    attributes = ['service', 'dispatch-flatpak-check', 'user', app_id]
    status, out, err = secret_tool(tap, app_id, ['store', '--label=Dispatch flatpak-check']
                                   + attributes, stdin=secret)
    tap.ok(status == 0, '%s: libsecret in the sandbox stores a password' % app_id,
           describe_run(status, out, err))
    status, out, err = secret_tool(tap, app_id, ['lookup'] + attributes)
    tap.ok(status == 0 and out == secret, '%s: and finds it again' % app_id,
           describe_run(status, out, err))
    # The sandbox keeps its own keyring file, sealed with a secret the portal got from
    # gnome-keyring; the password itself never reaches the host's collection.
    keyring = os.path.join(os.environ['HOME'], '.var', 'app', app_id, 'data', 'keyrings',
                           'default.keyring')
    host_status, host_out, host_err = run(['secret-tool', 'lookup'] + attributes)
    tap.ok(os.path.exists(keyring) and host_out == '',
           '%s: it is kept in the sandbox\'s keyring, unlocked through the Secret portal' % app_id,
           'keyring file %s exists: %s; host lookup: %r %r'
           % (keyring, os.path.exists(keyring), host_out, host_err))


WINDOW_SCRIPT = r'''
app_id=$1 mailto=$2 screenshot=$3
flatpak run "$app_id" "$mailto" >"$screenshot.log" 2>&1 &
runner=$!
found=
for _ in $(seq 120); do
  if xwininfo -root -tree 2>/dev/null | grep -q '"Dispatch'; then found=yes; break; fi
  kill -0 "$runner" 2>/dev/null || break
  sleep 0.5
done
# Let the first frames settle before the picture: the window alone, as it draws itself.
# GTK also makes small unmapped windows with the same name; the largest is the one to show.
[ -n "$found" ] && sleep 3
# (Each line ends in WIDTHxHEIGHT+X+Y +X+Y.)
window=$(xwininfo -root -tree | awk '/"Dispatch/ {
  split($(NF - 1), size, /[x+]/)
  if (size[1] * size[2] > best) { best = size[1] * size[2]; id = $1 }
} END { print id }')
# import without a window waits for a click: never. A window mapped but not drawn yet is one
# colour; on a busy machine the first frame can take a while.
if [ -n "$found" ] && [ -n "$window" ]; then
  for _ in $(seq 30); do
    timeout 60 import -window "$window" "$screenshot" 2>>"$screenshot.log"
    [ "$(identify -format %k "$screenshot" 2>/dev/null)" -gt 16 ] 2>/dev/null && break
    sleep 1
  done
fi
xwininfo -root -tree | grep '"Dispatch' >&2
flatpak kill "$app_id" 2>/dev/null
wait "$runner"
[ -n "$found" ]
'''


def check_window(tap, app_id, outdir):
    mailto = 'mailto:%s?subject=%s&body=%s' % (
        MAILTO_TO, MAILTO_SUBJECT.replace(' ', '%20'), MAILTO_BODY.replace(' ', '%20'))
    screenshot = os.path.join(outdir, app_id + '.png')
    if os.path.exists(screenshot):
        os.unlink(screenshot)
    draft = os.path.join(os.environ['HOME'], '.var', 'app', app_id, 'data', 'dispatch', 'draft')
    status, out, err = run(['xvfb-run', '-a', '-s', '-screen 0 1280x900x24', 'sh', '-c',
                            WINDOW_SCRIPT, 'window', app_id, mailto, screenshot])
    log = ''
    if os.path.exists(screenshot + '.log'):
        with open(screenshot + '.log', encoding='utf-8', errors='replace') as f:
            log = f.read()
    tap.ok(status == 0, '%s: the window opens under Xvfb' % app_id,
           describe_run(status, out, err) + '\n--- app ---\n' + log)
    colours = run(['identify', '-format', '%k', screenshot])[1] if os.path.exists(screenshot) else ''
    tap.ok(colours.isdigit() and int(colours) > 16,
           '%s: screenshot %s, the window drawn' % (app_id, screenshot),
           'colours in it: %r' % colours)
    # The form is saved as a draft a moment after each change: what the mailto: link filled in.
    try:
        with open(draft, encoding='utf-8') as f:
            saved = f.read()
    except OSError as e:
        saved = repr(e)
    tap.ok(MAILTO_TO in saved and MAILTO_SUBJECT in saved and MAILTO_BODY in saved,
           '%s: the mailto: link filled To, Subject and the text' % app_id, saved)


def main():
    app_id, version, outdir = sys.argv[1:4]
    tap = Tap()
    work = tempfile.mkdtemp(prefix='dispatch-flatpak-check-')
    try:
        for check in (lambda: check_version(tap, app_id, version),
                      lambda: check_permissions(tap, app_id),
                      lambda: check_exports(tap, app_id),
                      lambda: check_send(tap, app_id, work),
                      lambda: check_keyring(tap, app_id),
                      lambda: check_window(tap, app_id, outdir)):
            started = time.monotonic()
            try:
                check()
            except Exception:
                tap.ok(False, '%s: the check ran to the end' % app_id, traceback.format_exc())
            tap.diag('%.1f s' % (time.monotonic() - started))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
