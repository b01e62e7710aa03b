#!/usr/bin/python3
# test-smtp-server-js.py — dispatch-send against nodemailer's smtp-server (npm) on 127.0.0.1, checked on the server's side.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: test-smtp-server-js.py PATH/TO/dispatch-send TEST-SERVERS-DIR    Output is TAP.
#
# smtp-server comes from npm at the version tests/npm/package-lock.json pins, installed into
# TEST-SERVERS-DIR/npm by build-aux/install-test-servers. smtp-server-js.js runs it with the test
# certificate on three ports (STARTTLS submission with AUTH PLAIN, LOGIN and XOAUTH2; implicit
# TLS; plaintext without AUTH) and stores every message with its envelope and session.

import json
import os
import shutil
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

TOKEN = 'ya29.test-token-5e1f0c'
WRONG_TOKEN = 'ya29.expired-token-0000'


def main():
    if len(sys.argv) < 3:
        print('Bail out! usage: test-smtp-server-js.py DISPATCH-SEND TEST-SERVERS-DIR', flush=True)
        return 1
    dispatch_send, servers_dir = sys.argv[1], os.path.abspath(sys.argv[2])
    node = shutil.which('node') or shutil.which('nodejs')
    modules = os.path.join(servers_dir, 'npm', 'node_modules')
    problems = []
    if node is None:
        problems.append('no node on PATH (Debian package nodejs)')
    if not os.path.isdir(os.path.join(modules, 'smtp-server')):
        problems.append('%s/smtp-server missing (build-aux/install-test-servers installs it)'
                        % modules)
    if problems:
        return mailcheck.unavailable("nodemailer's smtp-server", problems)

    servercheck.stop_on_sigterm()
    tap = Tap()
    work = tempfile.mkdtemp(prefix='dispatch-smtp-server-js-')
    server = None
    log_path = os.path.join(work, 'smtp-server.log')

    def logs():
        return '--- smtp-server log ---\n' + servercheck.tail(log_path, 6000)

    try:
        mailcheck.wait_for_certs()
        inputs = os.path.join(work, 'inputs')
        store_dir = os.path.join(work, 'store')
        os.makedirs(inputs)
        os.makedirs(store_dir)
        cases = mailcheck.build_cases(inputs)
        submission, submissions, plain = servercheck.free_ports(3)
        config = {'submission': submission, 'submissions': submissions, 'plain': plain,
                  'cert': mailcheck.SERVER_CERT, 'key': mailcheck.SERVER_KEY, 'store': store_dir,
                  'user': mailcheck.USER, 'password': mailcheck.PASSWORD, 'token': TOKEN,
                  'mailboxes': list(mailcheck.MAILBOXES)}
        config_path = os.path.join(work, 'config.json')
        with open(config_path, 'w', encoding='utf-8') as f:
            json.dump(config, f)
        env = dict(os.environ, NODE_PATH=modules)
        started = time.monotonic()
        server = servercheck.Server('smtp-server',
                                    [node, os.path.join(HERE, 'smtp-server-js.js'), config_path],
                                    log_path, cwd=work, env=env)
        server.wait_ready([submission, submissions, plain], tls_ports=[submissions])
        tap.ok(True, 'smtp-server up (PID %d): submission %d, submissions %d, plain %d'
               % (server.pid, submission, submissions, plain))
        tap.diag('started in %.1f s under %s' % (time.monotonic() - started, work))

        m = servercheck.Matrix(tap, dispatch_send, servercheck.SidecarStore(store_dir), cases,
                               inputs, logs)
        token_file = os.path.join(inputs, 'token')
        wrong_token_file = os.path.join(inputs, 'wrong-token')
        mailcheck.write_secret(token_file, TOKEN)
        mailcheck.write_secret(wrong_token_file, WRONG_TOKEN)

        # 1. Every mechanism smtp-server offers.
        for mech in ('PLAIN', 'LOGIN'):
            m.send('submission/%s/text-only' % mech, 'text-only',
                   m.connect(submission, 'starttls', auth=mech),
                   time_limit=servercheck.SMALL_SEND_LIMIT)
        m.send('submission/XOAUTH2/text-only', 'text-only',
               m.connect(submission, 'starttls', extra=['--oauth2-token-file', token_file]),
               time_limit=servercheck.SMALL_SEND_LIMIT)

        # 2. The whole message set with the best mechanism for a password.
        for case in cases:
            m.send('submission/' + case.name, case.name, m.connect(submission, 'starttls'))

        # 3. Implicit TLS.
        for name in ('text-only', 'utf8'):
            m.send('submissions/' + name, name, m.connect(submissions, 'tls'))

        # 4. Refused sign-ins: a wrong password per mechanism, a wrong XOAUTH2 token (smtp-server
        #    answers 334 with Gmail's JSON error, then 535 to the empty line).
        for mech in ('PLAIN', 'LOGIN'):
            m.refused_sign_in('submission/wrong password/%s' % mech,
                              m.connect(submission, 'starttls', auth=mech,
                                        password_file=m.wrong_password_file))
        m.refused_sign_in('submission/wrong token/XOAUTH2',
                          m.connect(submission, 'starttls',
                                    extra=['--oauth2-token-file', wrong_token_file]))
        m.refused_sign_in('submissions/wrong password',
                          m.connect(submissions, 'tls', password_file=m.wrong_password_file))

        # 5. The plaintext port, no AUTH.
        for name in ('text-only', 'dots', 'unknown-recipient'):
            m.send('plain/no AUTH/' + name, name, m.connect(plain, 'none', user=None),
                   time_limit=servercheck.SMALL_SEND_LIMIT)

        tap.ok(server.running(), 'smtp-server still running after every send',
               'exit status %r\n%s' % (server.process.returncode, logs()))
    except Exception:
        tap.ok(False, 'test harness ran to the end', traceback.format_exc() + '\n' + logs())
    finally:
        if server is not None:
            killed = server.stop()
            tap.ok(not killed, 'smtp-server stopped by its PID within %ds'
                   % servercheck.STOP_TIMEOUT)
        if tap.failed:
            tap.diag('files kept in ' + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
