# servercheck.py — the send matrix the Exim, smtp-server and Haraka tests run, and their servers' processes.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Each of test-exim.py, test-smtp-server-js.py and test-haraka.py starts its server under a
# temporary directory on free ports of 127.0.0.1, describes where the server stores what it took
# (a Store), and hands both to run_matrix(): every mechanism the server offers over STARTTLS, the
# whole message set of mailcheck.build_cases() (the 25 MB picture included), implicit TLS where
# the server has it, wrong passwords (exit 77, nothing delivered), and a plain port without AUTH.
# Every message is read back from the server's store with mailcheck.check_message().

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time

import mailcheck
from mailcheck import describe_run, leaks, run_send

START_TIMEOUT = 60
STOP_TIMEOUT = 15
DELIVERY_TIMEOUT = 60
# How long to go on looking for a message that must not arrive, where the server stores it
# after its reply (Exim delivers in a process of its own once the message is received).
NO_DELIVERY_WAIT = 5
# A small message to a server on loopback takes well under a second; a client that waits for
# a reply that will never come sits out its timeout (20 s and more) before giving up.
SMALL_SEND_LIMIT = 10


def stop_on_sigterm():
    """Meson ends a test that overran its timeout with SIGTERM; turned into SystemExit, it
    still runs the `finally` that stops the server."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def free_ports(count):
    """Ports nobody listens on now; held open together so that they differ."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(('127.0.0.1', 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tail(path, limit=4000):
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - limit))
            return f.read().decode('utf-8', 'replace')
    except OSError as e:
        return '(%s)' % e


def _watch(pgid):
    """Forks a process, in a session of its own, that stops the process group pgid if the
    caller dies without saying "done" on the returned pipe: meson ends a test that overran its
    timeout with SIGTERM and, half a second later, SIGKILL to the test's group, which the
    server (in a group of its own) is not part of. Returns the pipe's write end."""
    r, w = os.pipe()
    if os.fork() != 0:
        os.close(r)
        return w
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, r)
        os.closerange(r + 1, os.sysconf('SC_OPEN_MAX'))
        data = b''
        while True:
            chunk = os.read(r, 64)
            if not chunk:
                break
            data += chunk
        if b'done' not in data:
            # The group id stays ours while any member of the group lives; once it is empty
            # (signal 0 fails) nothing more is sent.
            deadline = time.monotonic() + STOP_TIMEOUT
            try:
                os.killpg(pgid, signal.SIGTERM)
                while time.monotonic() < deadline:
                    time.sleep(0.1)
                    os.killpg(pgid, 0)
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    finally:
        os._exit(0)


class Server:
    """One server process, in a process group of its own, stopped by its PID; a watchdog
    stops it too if the test is killed before it could."""

    def __init__(self, name, argv, log_path, cwd=None, env=None):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, 'ab')
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.watchdog = _watch(self.process.pid)

    @property
    def pid(self):
        return self.process.pid

    def running(self):
        return self.process.poll() is None

    def wait_ready(self, ports, timeout=START_TIMEOUT, tls_ports=()):
        """Waits until every port greets with 220 (over TLS for tls_ports)."""
        deadline = time.monotonic() + timeout
        pending = list(ports)
        while pending:
            if not self.running():
                raise RuntimeError('%s exited with status %r before greeting:\n%s'
                                   % (self.name, self.process.returncode, tail(self.log_path)))
            port = pending[0]
            try:
                with socket.create_connection(('127.0.0.1', port), timeout=5) as s:
                    if port in tls_ports:
                        context = ssl.create_default_context(cafile=mailcheck.CA)
                        context.check_hostname = False
                        s = context.wrap_socket(s)
                    greeting = s.recv(512)
                    if greeting.startswith(b'220'):
                        pending.pop(0)
                        s.sendall(b'QUIT\r\n')
                        continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError('%s: port %d did not greet within %ds:\n%s'
                                   % (self.name, port, timeout, tail(self.log_path)))
            time.sleep(0.2)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM to the group the server leads (its PID is the group's id), SIGKILL after
        timeout. Returns True when it had to kill."""
        killed = False
        if self.running():
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                killed = True
        # Children the server forked (Exim's per-connection and delivery processes) stay in
        # its group; none may outlive the test.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.running():
            self.process.wait(timeout)
        self.log.close()
        os.write(self.watchdog, b'done')
        os.close(self.watchdog)
        return killed


class Store:
    """Where a server puts what it took. Subclasses list the files for one recipient."""

    # 'wire': stored as received, CRLF line ends; 'lf': converted to LF as a Maildir has it.
    form = 'wire'
    # How long a message the server took may take to show up after the client is done.
    settle = NO_DELIVERY_WAIT

    def messages(self, address):
        raise NotImplementedError

    def check_meta(self, tap, label, path, connect):
        """What the server recorded beside the message (who signed in, over TLS or not)."""

    def snapshot(self):
        return {a: set(self.messages(a)) for a in mailcheck.MAILBOXES}

    def new_since(self, before):
        return {a: sorted(p for p in self.messages(a) if p not in before[a])
                for a in mailcheck.MAILBOXES if set(self.messages(a)) - before[a]}

    def wait_for(self, before, addresses, timeout=DELIVERY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            found = self.new_since(before)
            if all(a in found for a in addresses) or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


class SidecarStore(Store):
    """The npm servers' store: DIR/ID.eml as received (CRLF), then DIR/ID.json with the
    envelope ("to"), the signed-in user ("user") and whether the session was under TLS."""

    # Both write the files before they send the reply to the data: when dispatch-send has
    # exited, a message they took is already there.
    settle = 0

    def __init__(self, directory):
        self.directory = directory

    def meta(self, path):
        with open(path[:-len('.eml')] + '.json', encoding='utf-8') as f:
            return json.load(f)

    def messages(self, address):
        found = []
        for name in os.listdir(self.directory):
            if name.endswith('.json'):
                eml = os.path.join(self.directory, name[:-len('.json')] + '.eml')
                if address in self.meta(eml).get('to', []):
                    found.append(eml)
        return found

    def check_meta(self, tap, label, path, connect):
        meta = self.meta(path)
        user = connect[connect.index('--user') + 1] if '--user' in connect else None
        secure = connect[connect.index('--security') + 1] != 'none'
        tap.ok(meta.get('user') == user and meta.get('secure') == secure,
               '%s: the server recorded user %r, TLS %s' % (label, user, 'on' if secure else 'off'),
               'recorded %r' % meta)


class Matrix:
    """The sends of one server, with the TAP stream and the inputs they share."""

    def __init__(self, tap, dispatch_send, store, cases, secrets_dir, logs=lambda: '',
                 timeout=60):
        self.tap = tap
        # dispatch-send's --timeout: how long it waits for any one reply.
        self.timeout = timeout
        self.dispatch_send = dispatch_send
        self.store = store
        self.cases = {c.name: c for c in cases}
        self.logs = logs
        self.password_file = os.path.join(secrets_dir, 'password')
        self.wrong_password_file = os.path.join(secrets_dir, 'wrong-password')
        mailcheck.write_secret(self.password_file, mailcheck.PASSWORD)
        mailcheck.write_secret(self.wrong_password_file, mailcheck.WRONG_PASSWORD)

    def connect(self, port, security, user=mailcheck.USER, password_file=None, auth=None,
                extra=()):
        args = ['--server', '127.0.0.1:%d' % port, '--security', security,
                '--ca-file', mailcheck.CA, '--timeout', str(self.timeout)]
        if user:
            args += ['--user', user]
            if '--oauth2-token-file' not in extra:
                args += ['--password-file', password_file or self.password_file]
        if auth:
            args += ['--auth', auth]
        return args + list(extra)

    def send(self, label, case_name, connect, expect_auth=True, time_limit=None):
        """Sends one case, checks the exit status and reads every copy back."""
        tap = self.tap
        case = self.cases[case_name]
        before = self.store.snapshot()
        started = time.monotonic()
        status, out, err = run_send(self.dispatch_send, connect + case.args() + ['--transcript'])
        elapsed = time.monotonic() - started
        mailcheck.check_send(tap, label, case, status, out, err, '\n' + self.logs())
        tap.diag('%s: dispatch-send took %.2f s' % (label, elapsed))
        if time_limit is not None:
            tap.ok(elapsed < time_limit,
                   '%s: done in under %d s (took %.1f s)' % (label, time_limit, elapsed),
                   describe_run(status, out, err))
        tap.ok(not leaks(mailcheck.PASSWORD, out, err),
               '%s: password (raw or base64) absent from stdout and stderr' % label,
               'found: %r' % leaks(mailcheck.PASSWORD, out, err))
        delivered = self.store.wait_for(before, case.accepted)
        tap.ok(sorted(delivered) == sorted(case.accepted)
               and all(len(v) == 1 for v in delivered.values()),
               '%s: one copy stored for each of %s' % (label, ', '.join(case.accepted)),
               'stored %r\n%s\n%s' % (delivered, describe_run(status, out, err), self.logs()))
        for address in case.accepted:
            for path in delivered.get(address, [])[:1]:
                with open(path, 'rb') as f:
                    raw = f.read()
                rlabel = '%s → %s' % (label, address)
                if self.store.form == 'wire':
                    mailcheck.check_wire_form(tap, rlabel, raw)
                else:
                    mailcheck.check_stored_form(tap, rlabel, raw)
                mailcheck.check_message(tap, rlabel, raw, case)
                self.store.check_meta(tap, rlabel, path, connect)
        return status, out, err

    def refused_sign_in(self, label, connect, expect_reply='535'):
        """A wrong password or token: exit 77 with the server's refusal, and nothing stored."""
        tap = self.tap
        case = self.cases['text-only']
        before = self.store.snapshot()
        status, out, err = run_send(self.dispatch_send, connect + case.args() + ['--transcript'])
        tap.ok(status == 77, '%s: exits 77 (EX_NOPERM)' % label,
               describe_run(status, out, err) + '\n' + self.logs())
        tap.ok(expect_reply in err, "%s: stderr carries the server's %s" % (label, expect_reply),
               describe_run(status, out, err))
        tap.ok(not leaks(mailcheck.WRONG_PASSWORD, out, err) and not leaks(mailcheck.PASSWORD, out, err),
               '%s: no password in stdout or stderr' % label)
        stored = self.store.wait_for(before, case.accepted, timeout=self.store.settle)
        tap.ok(not stored, '%s: nothing stored' % label, 'stored %r' % stored)
