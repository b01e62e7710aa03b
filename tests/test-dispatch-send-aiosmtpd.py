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
import email
import email.policy
import hashlib
import signal
import socket
import subprocess
import sys
import tempfile
import threading
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

    def __init__(self, workdir, name, extra_args, known_recipients=True):
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
        for address in (mailcheck.MAILBOXES if known_recipients else ()):
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


class StallingServer:
    """A scripted SMTP server on 127.0.0.1 that never lets an idle timeout fire but takes
    forever: every reply it stalls on is dripped one byte a second. With stall='ehlo' it drips
    its EHLO reply without end; with stall='quit' it answers the message's final dot with 250
    only @answer_at seconds after the client connected, then neither answers QUIT nor closes.
    Logs every line it receives."""

    def __init__(self, stall, answer_at=0):
        self.stall = stall
        self.answer_at = answer_at
        self.lines = []
        self.accepted = False
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(('127.0.0.1', 0))
        self._listener.listen(1)
        self._listener.settimeout(0.5)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                try:
                    self._talk(conn)
                except OSError:
                    pass

    def _drip(self, conn):
        while not self._stop.is_set():
            conn.sendall(b'2' if not self.lines else b' ')
            self._stop.wait(1)

    def _talk(self, conn):
        connected = time.monotonic()
        conn.settimeout(0.5)
        reader = conn.makefile('rb')
        conn.sendall(b'220 stall.test ESMTP\r\n')
        in_data = False
        while not self._stop.is_set():
            try:
                raw = reader.readline()
            except socket.timeout:
                continue
            if not raw:
                return
            line = raw.rstrip(b'\r\n').decode('utf-8', 'replace')
            self.lines.append(line)
            if in_data:
                if line == '.':
                    in_data = False
                    self._stop.wait(max(0, connected + self.answer_at - time.monotonic()))
                    self.accepted = True
                    conn.sendall(b'250 2.0.0 queued\r\n')
                continue
            verb = line.split(' ')[0].upper()
            if verb == 'EHLO':
                if self.stall == 'ehlo':
                    conn.sendall(b'250-stall.test\r\n250-')
                    self._drip(conn)
                    return
                conn.sendall(b'250 stall.test\r\n')
            elif verb == 'DATA':
                in_data = True
                conn.sendall(b'354 go ahead\r\n')
            elif verb == 'QUIT':
                # Neither 221 nor a close: only the client's own limits end this.
                self._stop.wait(3600)
                return
            else:
                conn.sendall(b'250 OK\r\n')

    def stop(self):
        self._stop.set()
        self._listener.close()
        self._thread.join(10)


def run_send_fds(dispatch_send, args, stdin_bytes=None, pass_fds=(), timeout=mailcheck.SEND_TIMEOUT):
    """Like mailcheck.run_send, with bytes on stdin and inherited descriptors."""
    try:
        p = subprocess.run([dispatch_send] + args,
                           input=stdin_bytes if stdin_bytes is not None else b'',
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                           pass_fds=pass_fds)
    except subprocess.TimeoutExpired as e:
        return (None, (e.stdout or b'').decode('utf-8', 'replace'),
                (e.stderr or b'').decode('utf-8', 'replace') + '\n[killed after %ds]' % timeout)
    return (p.returncode, p.stdout.decode('utf-8', 'replace'),
            p.stderr.decode('utf-8', 'replace'))


def attachments_of(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return [(part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
            for part in msg.iter_attachments()]


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
        # 5. SMTPUTF8 (RFC 6531): an address with non-ASCII letters before the "@" is the
        # server's to accept or not, decided after EHLO, not refused by dispatch-send up front.
        utf8_rcpt = 'jörg@example.org'
        utf8_args = ['--from', 'alice@example.org', '--to', utf8_rcpt, '--subject', 'Grüße',
                     '--body', 'Hallo Jörg']
        for offered in (True, False):
            name = 'smtputf8' if offered else 'no-smtputf8'
            server = Server(work, name, [
                '--tls-cert', SERVER_CERT, '--tls-key', SERVER_KEY, '--require-starttls',
                '--auth-user', USER, '--auth-password-file', password_file]
                + ([] if offered else ['--no-smtputf8']), known_recipients=False)
            servers.append(server)
            status, out, err = run_send(dispatch_send, connect_args(server, password_file)
                                        + utf8_args + ['--transcript'])
            envelopes = server.envelopes()
            if offered:
                tap.ok(status == 0, '%s: --to %s is sent, exit 0' % (name, utf8_rcpt),
                       describe_run(status, out, err) + server.log())
                tap.ok(len(envelopes) == 1 and envelopes[0]['rcpt_tos'] == [utf8_rcpt]
                       and any(o.upper() == 'SMTPUTF8' for o in envelopes[0]['mail_options']),
                       '%s: MAIL FROM carries SMTPUTF8 and RCPT the UTF-8 address' % name,
                       'envelopes %r' % envelopes)
            else:
                tap.ok(status == 65, '%s: --to %s exits 65' % (name, utf8_rcpt),
                       describe_run(status, out, err))
                tap.ok(utf8_rcpt in err and 'EHLO' in err and 'MAIL FROM' not in err,
                       '%s: refused after EHLO, before MAIL, naming the address' % name,
                       describe_run(status, out, err))
                tap.ok(not envelopes, '%s: nothing delivered' % name, 'envelopes %r' % envelopes)

        # 6. Attachments from a pipe (--attach <(...)) and from standard input (/dev/stdin):
        # read once, sent whole.
        piped = bytes(range(256)) * 40 + b'\x89PNG tail'
        stdin_bytes = b'hi from stdin\n' * 3
        read_end, write_end = os.pipe()

        def feed():
            with os.fdopen(write_end, 'wb') as w:
                w.write(piped)
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        before = len(secure.messages())
        status, out, err = run_send_fds(
            dispatch_send, connect_args(secure, password_file)
            + ['--from', 'alice@example.org', '--to', mailcheck.BOB, '--subject', 'pipes',
               '--body', 'two pipes', '--attach', '/dev/fd/%d' % read_end,
               '--attach', '/dev/stdin'],
            stdin_bytes=stdin_bytes, pass_fds=(read_end,))
        os.close(read_end)
        feeder.join(10)
        tap.ok(status == 0, '--attach from a pipe and /dev/stdin: exit 0', describe_run(status, out, err))
        files = secure.messages()[before:]
        got = []
        if files:
            with open(files[-1], 'rb') as f:
                got = attachments_of(f.read())
        digest = [hashlib.sha256(a[2] or b'').hexdigest() for a in got]
        tap.ok(len(got) == 2 and digest == [hashlib.sha256(piped).hexdigest(),
                                            hashlib.sha256(stdin_bytes).hexdigest()],
               '--attach from a pipe and /dev/stdin: both arrive whole (SHA-256)',
               'got %r' % [(a[0], a[1], len(a[2] or b'')) for a in got])

        # 7. A password file others can read is used, with a warning that says how to fix it.
        loose = os.path.join(work, 'loose-password')
        mailcheck.write_secret(loose, PASSWORD)
        os.chmod(loose, 0o644)
        status, out, err = run_send(dispatch_send, connect_args(secure, loose) + text_only)
        tap.ok(status == 0 and 'chmod 600' in err and loose in err,
               'password file mode 0644: sent, with a warning naming the file and chmod 600',
               describe_run(status, out, err))
        status, out, err = run_send(dispatch_send, connect_args(secure, password_file) + text_only)
        tap.ok(status == 0 and 'chmod' not in err,
               'password file mode 0600: no warning', describe_run(status, out, err))

        # 8. --max-time: a server that drips its EHLO reply a byte a second never trips the idle
        # --timeout, but the whole send must end by --max-time, exit 75, naming the limit. And a
        # message whose 250 came in before the limit is sent, even if the limit then cuts the
        # wait for QUIT's reply short: the 250 comes 4 s after connecting, the limit is 5 s, and
        # the engine waits 2 s for a reply to QUIT, so the limit falls into that wait.
        plain_args = ['--from', 'alice@example.org', '--to', mailcheck.BOB, '--subject', 'slow',
                      '--body', 'slow', '--security', 'none', '--timeout', '60']
        for stall, answer_at, max_time in (('ehlo', 0, 3), ('quit', 4, 5)):
            staller = StallingServer(stall, answer_at)
            try:
                started = time.monotonic()
                status, out, err = run_send(dispatch_send, plain_args + [
                    '--server', '127.0.0.1:%d' % staller.port, '--max-time', str(max_time)],
                    timeout=60)
                took = time.monotonic() - started
                tap.diag('--max-time %d, server stalling at %s: %.1f s' % (max_time, stall, took))
                if stall == 'ehlo':
                    tap.ok(status == 75 and '--max-time (3 s)' in err,
                           '--max-time 3 with a dripping server: exit 75, the error names the limit',
                           describe_run(status, out, err))
                else:
                    tap.ok(staller.accepted and status == 0 and 'queued' in out,
                           '--max-time 5, 250 at 4 s, no reply to QUIT: reported sent (exit 0)',
                           describe_run(status, out, err))
                tap.ok(took < 30, '--max-time %d, stall at %s: ends well before the idle timeout'
                       % (max_time, stall), 'took %.1f s' % took)
            finally:
                staller.stop()
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
