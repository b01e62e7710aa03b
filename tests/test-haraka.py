#!/usr/bin/python3
# test-haraka.py — dispatch-send against Haraka (npm) on 127.0.0.1, checked on the server's side.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: test-haraka.py PATH/TO/dispatch-send TEST-SERVERS-DIR    Output is TAP.
#
# Haraka comes from npm at the version tests/npm/package-lock.json pins, installed into
# TEST-SERVERS-DIR/npm by build-aux/install-test-servers. This test writes a private Haraka
# directory (config/ and plugins/) under a temporary directory and runs `haraka -c` there, one
# process, no cluster. Plugins: tls (the test certificate), auth/flat_file (PLAIN, LOGIN,
# CRAM-MD5 with the test password) and two of ours from tests/haraka/plugins: test_rcpt (which
# recipients are taken) and test_queue (each message into a directory with a JSON record).
# Ports:
#   submission   STARTTLS, then AUTH; the mailboxes only after a sign-in
#   submissions  implicit TLS (Haraka's smtps_port), the same
#   mx           STARTTLS and AUTH offered, the mailboxes taken from anyone; also plaintext
# Haraka is strict about pipelining: commands sent after the end of the data, before its reply,
# are answered "503 … pipelined after end of DATA", and the connection stays open. A client that
# then waits for its QUIT's 221 sits out its timeout: each small send must finish in seconds.

import os
import re
import shutil
import socket
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mailcheck  # noqa: E402
import servercheck  # noqa: E402
from mailcheck import Tap  # noqa: E402

MESSAGE_SIZE_LIMIT = 100 * 1024 * 1024


def write(path, text):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def configure(haraka_root, directory, store, submission, submissions, mx):
    config = os.path.join(directory, 'config')
    os.makedirs(config)
    shutil.copytree(os.path.join(HERE, 'haraka', 'plugins'), os.path.join(directory, 'plugins'))
    write(os.path.join(config, 'smtp.ini'),
          '[main]\n'
          'listen=127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d\n'
          'smtps_port=%d\n'
          # One process: no cluster, no daemon; its PID is the one we stop.
          'nodes=0\n'
          'daemonize=false\n'
          'graceful_shutdown=false\n'
          'inactivity_timeout=120\n' % (submission, submissions, mx, submissions))
    write(os.path.join(config, 'me'), 'haraka.test\n')
    write(os.path.join(config, 'plugins'),
          'tls\nauth/flat_file\ntest_rcpt\ntest_queue\n')
    shutil.copy(mailcheck.SERVER_CERT, os.path.join(config, 'tls_cert.pem'))
    shutil.copy(mailcheck.SERVER_KEY, os.path.join(config, 'tls_key.pem'))
    write(os.path.join(config, 'tls.ini'), '[main]\nkey=tls_key.pem\ncert=tls_cert.pem\n')
    write(os.path.join(config, 'auth_flat_file.ini'),
          '[core]\nmethods=PLAIN,LOGIN,CRAM-MD5\n\n[users]\n%s=%s\n'
          % (mailcheck.USER, mailcheck.PASSWORD))
    # Haraka's own connection.ini with a higher message limit: its default, 25 MiB, is below
    # the big case's 34 MB of base64.
    with open(os.path.join(haraka_root, 'config', 'connection.ini'), encoding='utf-8') as f:
        connection_ini = f.read()
    connection_ini, n = re.subn(r'(?m)^bytes=\d+$', 'bytes=%d' % MESSAGE_SIZE_LIMIT, connection_ini)
    if n != 1:
        raise RuntimeError("Haraka's connection.ini has no single [max] bytes= line")
    write(os.path.join(config, 'connection.ini'), connection_ini)
    write(os.path.join(config, 'log.ini'), '[main]\nlevel=info\ntimestamps=true\nformat=default\n')
    write(os.path.join(config, 'test_mailboxes'), ''.join(a + '\n' for a in mailcheck.MAILBOXES))
    write(os.path.join(config, 'test_store'), store + '\n')
    write(os.path.join(config, 'test_mx_port'), '%d\n' % mx)


def quit_after_data(port):
    """A plaintext message whose final dot goes out in one write with QUIT; returns Haraka's
    replies to the two."""
    with socket.create_connection(('127.0.0.1', port), timeout=30) as s:
        f = s.makefile('rb')

        def reply():
            lines = []
            while True:
                line = f.readline().decode('utf-8', 'replace')
                lines.append(line.rstrip('\r\n'))
                if len(line) < 4 or line[3] != '-':
                    return '\n'.join(lines)

        reply()
        for command in (b'EHLO control.test', b'MAIL FROM:<control@example.org>',
                        b'RCPT TO:<%s>' % mailcheck.BOB.encode(), b'DATA'):
            s.sendall(command + b'\r\n')
            reply()
        s.sendall(b'Subject: control\r\n\r\nsent with QUIT behind the dot\r\n.\r\nQUIT\r\n')
        # Haraka leaves the connection open after the 503; the second reply is all we wait for.
        return [reply(), reply()]


def main():
    if len(sys.argv) < 3:
        print('Bail out! usage: test-haraka.py DISPATCH-SEND TEST-SERVERS-DIR', flush=True)
        return 1
    dispatch_send, servers_dir = sys.argv[1], os.path.abspath(sys.argv[2])
    node = shutil.which('node') or shutil.which('nodejs')
    modules = os.path.join(servers_dir, 'npm', 'node_modules')
    haraka = os.path.join(modules, 'Haraka', 'bin', 'haraka')
    problems = []
    if node is None:
        problems.append('no node on PATH (Debian package nodejs)')
    if not os.path.exists(haraka):
        problems.append('%s missing (build-aux/install-test-servers installs it)' % haraka)
    if problems:
        return mailcheck.unavailable('Haraka', problems)

    servercheck.stop_on_sigterm()
    tap = Tap()
    work = tempfile.mkdtemp(prefix='dispatch-haraka-')
    server = None
    log_path = os.path.join(work, 'haraka.log')

    def logs():
        return '--- Haraka log ---\n' + servercheck.tail(log_path, 6000)

    try:
        mailcheck.wait_for_certs()
        inputs = os.path.join(work, 'inputs')
        store_dir = os.path.join(work, 'store')
        os.makedirs(inputs)
        os.makedirs(store_dir)
        cases = mailcheck.build_cases(inputs)
        submission, submissions, mx = servercheck.free_ports(3)
        haraka_dir = os.path.join(work, 'haraka')
        configure(os.path.join(modules, 'Haraka'), haraka_dir, store_dir, submission, submissions, mx)
        started = time.monotonic()
        server = servercheck.Server('Haraka', [node, haraka, '-c', haraka_dir], log_path,
                                    cwd=haraka_dir, env=dict(os.environ, NODE_PATH=modules))
        server.wait_ready([submission, submissions, mx], tls_ports=[submissions])
        tap.ok(True, 'Haraka up (PID %d): submission %d, submissions %d, mx %d'
               % (server.pid, submission, submissions, mx))
        tap.diag('started in %.1f s under %s' % (time.monotonic() - started, work))

        # 30 s for any one reply is generous on loopback, and keeps a run with a client that
        # hangs after the data (as in issue 10, point 2) within meson's timeout.
        m = servercheck.Matrix(tap, dispatch_send, servercheck.SidecarStore(store_dir), cases,
                               inputs, logs, timeout=30)
        limit = servercheck.SMALL_SEND_LIMIT

        # 1. Every mechanism Haraka offers.
        for mech in ('PLAIN', 'LOGIN', 'CRAM-MD5'):
            m.send('submission/%s/text-only' % mech, 'text-only',
                   m.connect(submission, "starttls", auth=mech), time_limit=limit)

        # 2. The whole message set with the best mechanism.
        for case in cases:
            m.send('submission/' + case.name, case.name, m.connect(submission, 'starttls'),
                   time_limit=None if case.name == 'big' else limit)

        # 3. Implicit TLS.
        for name in ('text-only', 'utf8'):
            m.send('submissions/' + name, name, m.connect(submissions, 'tls'), time_limit=limit)

        # 4. Wrong passwords, at submission and at the MX port that takes mail without any
        #    sign-in — but must not get it after a refused one.
        for mech in ('PLAIN', 'LOGIN', 'CRAM-MD5'):
            m.refused_sign_in('submission/wrong password/%s' % mech,
                              m.connect(submission, 'starttls', auth=mech,
                                        password_file=m.wrong_password_file))
        m.refused_sign_in('submissions/wrong password',
                          m.connect(submissions, 'tls', password_file=m.wrong_password_file))
        m.refused_sign_in('mx/wrong password',
                          m.connect(mx, 'starttls', password_file=m.wrong_password_file))

        # 5. Without a sign-in: the MX port over STARTTLS, and in plaintext.
        m.send('mx/no AUTH/text-only', 'text-only', m.connect(mx, 'starttls', user=None),
               time_limit=limit)
        for name in ('text-only', 'dots', 'unknown-recipient'):
            m.send('mx/plain, no AUTH/' + name, name, m.connect(mx, 'none', user=None),
                   time_limit=limit)

        # The control: Haraka is as strict as the header says, so the time limits above do
        # test that dispatch-send does not wait after a 503 to its QUIT.
        replies = quit_after_data(mx)
        tap.ok(len(replies) == 2 and replies[0].startswith('250') and replies[1].startswith('503'),
               'control: Haraka answers a QUIT sent with the end of the data with 503',
               'got %r' % replies)

        log = servercheck.tail(log_path, 10 ** 7)
        errors = [l for l in log.splitlines() if '[CRIT]' in l or '[EMERG]' in l
                  or 'Uncaught' in l]
        tap.ok(not errors, 'Haraka logged no critical error', '\n'.join(errors[:20]))
        tap.ok(server.running(), 'Haraka still running after every send',
               'exit status %r\n%s' % (server.process.returncode, logs()))
    except Exception:
        tap.ok(False, 'test harness ran to the end', traceback.format_exc() + '\n' + logs())
    finally:
        if server is not None:
            killed = server.stop()
            tap.ok(not killed, 'Haraka stopped by its PID within %ds' % servercheck.STOP_TIMEOUT)
        if tap.failed:
            tap.diag('files kept in ' + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
