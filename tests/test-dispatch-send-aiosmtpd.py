#!/usr/bin/python3
# test-dispatch-send-aiosmtpd.py — dispatch-send against aiosmtpd (STARTTLS + AUTH), checked with Python's email parser.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: test-dispatch-send-aiosmtpd.py [PATH/TO/dispatch-send]   (or set DISPATCH_SEND)
# Output is TAP. The server is tests/smtp-server.py, i.e. aiosmtpd: nothing on the receiving
# side was written by us, so what passes here is what a real server accepts and a real MIME
# parser reads back. The messages and the checks on them are mailcheck.py's, shared with the
# Postfix test; aiosmtpd offers neither CHUNKING nor PIPELINING, so here every message goes
# through DATA with dot-stuffing, in lock-step.

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

# Imported from the source tree, which a test must not write to.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mailcheck  # noqa: E402
from mailcheck import (CA, PASSWORD, SERVER_CERT, SERVER_KEY, USER,  # noqa: E402
                       WRONG_PASSWORD, Tap, describe_run, leaks, run_send)

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER_SCRIPT = os.path.join(HERE, 'smtp-server.py')

SERVER_START_TIMEOUT = 20
SERVER_STOP_TIMEOUT = 10
# The 25 MB picture becomes about 34 MB of base64; aiosmtpd's limit must let it in.
MAX_SIZE = 64 * 1024 * 1024


class Server:
    """tests/smtp-server.py in a child process, on a free port, stopped by PID."""

    def __init__(self, workdir, name, extra_args):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.maildir = os.path.join(self.dir, 'Maildir')
        self.envelope_log = os.path.join(self.dir, 'envelopes.jsonl')
        self.ready_file = os.path.join(self.dir, 'port')
        self.stderr_path = os.path.join(self.dir, 'stderr.log')
        self.port = None
        # Debian's aiosmtpd belongs to /usr/bin/python3, whatever python3 is first on PATH.
        args = ['/usr/bin/python3', SERVER_SCRIPT, '--host', '127.0.0.1', '--port', '0',
                '--maildir', self.maildir, '--envelope-log', self.envelope_log,
                '--ready-file', self.ready_file, '--max-size', str(MAX_SIZE)] + extra_args
        for address in mailcheck.MAILBOXES:
            args += ['--known-recipient', address]
        self._stderr = open(self.stderr_path, 'wb')
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=self._stderr, stderr=self._stderr)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if os.path.exists(self.ready_file):
                with open(self.ready_file) as f:
                    self.port = int(f.read().strip())
                break
            if self.proc.poll() is not None:
                raise RuntimeError('smtp-server.py (%s) exited with %d:\n%s'
                                   % (name, self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                raise RuntimeError('smtp-server.py (%s) not ready after %ds:\n%s'
                                   % (name, SERVER_START_TIMEOUT, self.log()))
            time.sleep(0.05)

    def log(self):
        try:
            with open(self.stderr_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def messages(self):
        new = os.path.join(self.maildir, 'new')
        if not os.path.isdir(new):
            return []
        return sorted(os.path.join(new, n) for n in os.listdir(new))

    def envelopes(self):
        if not os.path.exists(self.envelope_log):
            return []
        with open(self.envelope_log, encoding='utf-8') as f:
            return [json.loads(line) for line in f if line.strip()]

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(SERVER_STOP_TIMEOUT)
        self._stderr.close()


def aiosmtpd_missing():
    probe = subprocess.run(['/usr/bin/python3', '-c', 'import aiosmtpd'],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
    if probe.returncode != 0:
        lines = probe.stdout.decode('utf-8', 'replace').strip().splitlines()
        return ['/usr/bin/python3 cannot import aiosmtpd (Debian package python3-aiosmtpd)'
                + (': ' + lines[-1] if lines else '')]
    return []


def send_and_check(tap, server, dispatch_send, case, connect):
    """Sends one case with --transcript and checks what aiosmtpd stored and logged."""
    label = case.name
    before_files = len(server.messages())
    before_envelopes = len(server.envelopes())
    started = time.monotonic()
    status, out, err = run_send(dispatch_send, connect + case.args() + ['--transcript'])
    tap.diag('%s: dispatch-send took %.2f s' % (label, time.monotonic() - started))
    mailcheck.check_send(tap, label, case, status, out, err, '\n--- server ---\n' + server.log())
    tap.ok(not leaks(PASSWORD, out, err),
           '%s: password (raw or base64) absent from stdout and stderr with --transcript' % label,
           'found: %r' % leaks(PASSWORD, out, err))
    tap.ok('STARTTLS' in err and 'AUTH' in err,
           '%s: --transcript shows the dialogue (STARTTLS, AUTH) on stderr' % label,
           describe_run(status, out, err))

    files = server.messages()[before_files:]
    envelopes = server.envelopes()[before_envelopes:]
    if not tap.ok(len(files) == 1 and len(envelopes) == 1,
                  '%s: the server stored exactly one message' % label,
                  'files %r, envelopes %r\n--- server ---\n%s' % (files, envelopes, server.log())):
        return
    env = envelopes[0]
    with open(os.path.join(server.maildir, 'new', env['maildir_key']), 'rb') as f:
        raw = f.read()
    tap.ok(env['mail_from'] == case.from_addr, '%s: envelope sender is %s' % (label, case.from_addr),
           'got %r' % env['mail_from'])
    tap.ok(sorted(env['rcpt_tos']) == sorted(case.accepted),
           '%s: envelope recipients are %s' % (label, ', '.join(case.accepted)),
           'got %r' % env['rcpt_tos'])
    tap.ok(env.get('tls') is True and env.get('auth_user') == USER,
           '%s: the message came over TLS from the authenticated user' % label,
           'got tls=%r auth_user=%r' % (env.get('tls'), env.get('auth_user')))
    declared = [o for o in env['mail_options'] if o.upper().startswith('SIZE=')]
    tap.ok(not declared or int(declared[0][5:]) >= env['size'],
           '%s: MAIL FROM SIZE= is not below the size received' % label,
           'declared %r, received %d' % (declared, env['size']))
    tap.diag('%s: MAIL options %r, RCPT options %r, %d bytes'
             % (label, env['mail_options'], env['rcpt_options'], env['size']))
    mailcheck.check_wire_form(tap, label, raw)
    mailcheck.check_message(tap, label, raw, case, expect_no_bcc=True)


def main():
    dispatch_send = sys.argv[1] if len(sys.argv) > 1 else os.environ.get('DISPATCH_SEND')
    if not dispatch_send or not os.access(dispatch_send, os.X_OK):
        print('Bail out! dispatch-send not given (argv[1] or DISPATCH_SEND) or not executable: %r'
              % dispatch_send, flush=True)
        return 1
    missing = aiosmtpd_missing()
    if missing:
        return mailcheck.unavailable('aiosmtpd', missing)

    tap = Tap()
    servers = []
    work = None
    try:
        mailcheck.wait_for_certs()
        work = tempfile.mkdtemp(prefix='dispatch-aiosmtpd-')
        started = time.monotonic()
        cases = mailcheck.build_cases(work)
        tap.diag('inputs written in %.1f s' % (time.monotonic() - started))
        by_name = {c.name: c for c in cases}

        password_file = os.path.join(work, 'password')
        mailcheck.write_secret(password_file, PASSWORD)
        wrong_password_file = os.path.join(work, 'wrong-password')
        mailcheck.write_secret(wrong_password_file, WRONG_PASSWORD)

        secure = Server(work, 'starttls-auth', [
            '--tls-cert', SERVER_CERT, '--tls-key', SERVER_KEY, '--require-starttls',
            '--auth-user', USER, '--auth-password-file', password_file])
        servers.append(secure)
        tap.diag('aiosmtpd with STARTTLS + AUTH on 127.0.0.1:%d' % secure.port)

        def connect_args(server, password_path):
            return ['--server', '127.0.0.1:%d' % server.port, '--security', 'starttls',
                    '--ca-file', CA, '--user', USER, '--password-file', password_path,
                    '--timeout', '60']

        # 1. The whole message set of mailcheck.py, each sent and read back.
        for case in cases:
            send_and_check(tap, secure, dispatch_send, case, connect_args(secure, password_file))

        text_only = by_name['text-only'].args()

        # 2. A wrong password: refused by the server, its reply shown, no secret echoed.
        before = len(secure.messages())
        status, out, err = run_send(dispatch_send, connect_args(secure, wrong_password_file)
                                    + text_only + ['--transcript'])
        tap.ok(status == 77, 'wrong password exits 77 (EX_NOPERM)', describe_run(status, out, err))
        tap.ok('Authentication credentials invalid' in err or '5.7.8' in err,
               "wrong password: stderr carries the server's 535 reply",
               describe_run(status, out, err))
        tap.ok(not leaks(WRONG_PASSWORD, out, err) and not leaks(PASSWORD, out, err),
               'wrong password: no password in stdout or stderr',
               'found: %r' % (leaks(WRONG_PASSWORD, out, err) + leaks(PASSWORD, out, err)))
        tap.ok(len(secure.messages()) == before, 'wrong password: nothing delivered')

        # 3. --security starttls against a server that does not offer it: no downgrade.
        plain = Server(work, 'no-tls', [])
        servers.append(plain)
        status, out, err = run_send(dispatch_send, connect_args(plain, password_file) + text_only)
        tap.ok(status == 77, 'server without STARTTLS, --security starttls: exits 77',
               describe_run(status, out, err))
        tap.ok('starttls' in err.lower(), 'server without STARTTLS: the error mentions STARTTLS',
               describe_run(status, out, err))
        tap.ok(not plain.messages() and not plain.envelopes(),
               'server without STARTTLS: nothing sent in clear', plain.log())
        tap.ok(not leaks(PASSWORD, out, err), 'server without STARTTLS: no password in output')

        # 4. --output: the message as a file, no server involved; CRLF, not dot-stuffed.
        for name in ('utf8', 'dots'):
            case = by_name[name]
            eml = os.path.join(work, 'message-%s.eml' % name)
            status, out, err = run_send(dispatch_send, case.args() + ['--output', eml])
            label = '--output %s' % name
            tap.ok(status == 0 and os.path.exists(eml), '%s: writes a .eml and exits 0' % label,
                   describe_run(status, out, err))
            if os.path.exists(eml):
                with open(eml, 'rb') as f:
                    raw = f.read()
                tap.ok(not raw.startswith(b'.') and b'\r\n..this line' not in raw,
                       '%s: the file is not dot-stuffed' % label)
                mailcheck.check_wire_form(tap, label, raw)
                mailcheck.check_message(tap, label, raw, case, expect_no_bcc=False)
    except Exception:
        tap.ok(False, 'test harness ran to the end', traceback.format_exc())
    finally:
        for server in servers:
            try:
                server.stop()
            except Exception:
                tap.ok(False, 'stopping %s' % server.dir, traceback.format_exc())
        # Kept after a failure: the Maildir, envelope log and server log are the evidence.
        if work is not None:
            if tap.failed:
                tap.diag('files kept in ' + work)
            else:
                shutil.rmtree(work, ignore_errors=True)

    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
