#!/usr/bin/python3
# test-exim.py — dispatch-send against a private Exim 4 (Debian 12's exim4-daemon-light) on 127.0.0.1, checked on the server's side.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: test-exim.py PATH/TO/dispatch-send TEST-SERVERS-DIR    Output is TAP.
#
# Exim and Postfix conflict as Debian packages, so Exim is not installed: build-aux/install-test-servers
# extracts exim4-daemon-light's .deb (GnuTLS; the plaintext and cram_md5 authenticators) into
# TEST-SERVERS-DIR/exim and creates the Debian-exim user the binary was built for. This test runs
# that binary as a daemon in the foreground with a configuration of its own (-C) under a temporary
# directory: spool, logs, certificate and one Maildir per mailbox. Its ports:
#   submission   STARTTLS; AUTH PLAIN, LOGIN, CRAM-MD5 only after it, and required for RCPT
#   submissions  the same over implicit TLS (tls_on_connect_ports)
#   mx           STARTTLS and AUTH offered, but mail for the local mailboxes taken from anyone,
#                as a domain's MX does: a refused sign-in must still deliver nothing
#   sync         plaintext, no AUTH, PIPELINING not advertised, smtp_enforce_sync: a client
#                that sends ahead is cut off with "554 SMTP synchronization error"
# All of them offer SIZE (100 MB) and CHUNKING; PIPELINING everywhere but on sync.

import os
import pwd
import re
import shutil
import socket
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mailcheck  # noqa: E402
import servercheck  # noqa: E402
from mailcheck import Tap  # noqa: E402

EXIM_USER = 'Debian-exim'

CONFIG = r'''# Written by test-exim.py for one run.
exim_path = {exim}
primary_hostname = exim.test
spool_directory = {dir}/spool
log_file_path = {dir}/log/%slog
pid_file_path = {dir}/exim.pid
keep_environment =
host_lookup =
local_interfaces = <; 127.0.0.1
daemon_smtp_ports = {submission} : {submissions} : {mx} : {sync}
tls_on_connect_ports = {submissions}
tls_certificate = {dir}/server.pem
tls_privatekey = {dir}/server-key.pem
tls_advertise_hosts = ${{if eq{{$received_port}}{{{sync}}}{{:}}{{*}}}}
pipelining_advertise_hosts = ${{if eq{{$received_port}}{{{sync}}}{{:}}{{*}}}}
smtp_enforce_sync = true
chunking_advertise_hosts = *
message_size_limit = 100M
deliver_drop_privilege = true
log_selector = +smtp_protocol_error +smtp_syntax_error +received_recipients +smtp_connection \
               +incoming_port +pipelining +smtp_incomplete_transaction
acl_smtp_rcpt = acl_rcpt

begin acl
acl_rcpt:
  deny    message = 5.7.0 Authentication required
          condition = ${{if or {{{{eq{{$received_port}}{{{submission}}}}}{{eq{{$received_port}}{{{submissions}}}}}}}}}
          !authenticated = *
  require verify = recipient
  accept

begin routers
mailboxes:
  driver = accept
  address_data = ${{lookup{{$local_part@$domain}}lsearch{{{dir}/mailboxes}}{{$value}}fail}}
  transport = maildir

begin transports
maildir:
  driver = appendfile
  directory = {dir}/mail/$address_data/Maildir
  maildir_format
  create_directory
  delivery_date_add
  envelope_to_add
  return_path_add
  user = {user}

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = ${{if and {{{{eq{{$auth2}}{{{login}}}}}{{eq{{$auth3}}{{{password}}}}}}}}}
  server_set_id = $auth2
  server_advertise_condition = ${{if def:tls_in_cipher}}
login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = <| Username:: | Password::
  server_condition = ${{if and {{{{eq{{$auth1}}{{{login}}}}}{{eq{{$auth2}}{{{password}}}}}}}}}
  server_set_id = $auth1
  server_advertise_condition = ${{if def:tls_in_cipher}}
cram:
  driver = cram_md5
  public_name = CRAM-MD5
  server_secret = ${{if eq{{$auth1}}{{{login}}}{{{password}}}fail}}
  server_set_id = $auth1
  server_advertise_condition = ${{if def:tls_in_cipher}}
'''


class EximStore(servercheck.Store):
    form = 'lf'

    def __init__(self, directory):
        self.directory = directory

    def messages(self, address):
        new = os.path.join(self.directory, 'mail', address, 'Maildir', 'new')
        try:
            return [os.path.join(new, n) for n in os.listdir(new)]
        except FileNotFoundError:
            return []


def missing_prerequisites(exim):
    problems = []
    if not os.access(exim, os.X_OK):
        problems.append('%s missing (build-aux/install-test-servers extracts Debian\'s '
                        'exim4-daemon-light there)' % exim)
    try:
        pwd.getpwnam(EXIM_USER)
    except KeyError:
        problems.append('no user %s (build-aux/install-test-servers creates it)' % EXIM_USER)
    if os.geteuid() != 0:
        problems.append('not root: Exim with a private configuration (-C) keeps root '
                        'privilege only for root')
    return problems


class Exim:
    def __init__(self, exim, directory):
        self.exim = exim
        self.dir = directory
        (self.submission, self.submissions,
         self.mx, self.sync) = servercheck.free_ports(4)
        self.server = None

    def logs(self):
        return ('--- Exim mainlog ---\n' + servercheck.tail(os.path.join(self.dir, 'log', 'mainlog'))
                + '\n--- Exim paniclog ---\n'
                + servercheck.tail(os.path.join(self.dir, 'log', 'paniclog'), 2000)
                + '\n--- Exim stdout/stderr ---\n'
                + servercheck.tail(os.path.join(self.dir, 'exim.out'), 2000))

    def mainlog(self):
        try:
            with open(os.path.join(self.dir, 'log', 'mainlog'), encoding='utf-8',
                      errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def start(self):
        user = pwd.getpwnam(EXIM_USER)
        for sub in ('spool', 'log', 'mail'):
            os.makedirs(os.path.join(self.dir, sub))
        shutil.copy(mailcheck.SERVER_CERT, os.path.join(self.dir, 'server.pem'))
        shutil.copy(mailcheck.SERVER_KEY, os.path.join(self.dir, 'server-key.pem'))
        with open(os.path.join(self.dir, 'mailboxes'), 'w', encoding='utf-8') as f:
            for address in mailcheck.MAILBOXES:
                f.write('%s: %s\n' % (address, address))
        config = CONFIG.format(exim=self.exim, dir=self.dir, user=EXIM_USER,
                               submission=self.submission, submissions=self.submissions,
                               mx=self.mx, sync=self.sync,
                               login=mailcheck.USER, password=mailcheck.PASSWORD)
        config_path = os.path.join(self.dir, 'exim.conf')
        with open(config_path, 'w', encoding='utf-8') as f:
            f.write(config)
        # Exim refuses a configuration writable by anyone but its owner (root).
        os.chmod(config_path, 0o644)
        for sub in ('spool', 'log', 'mail', 'server-key.pem'):
            os.chown(os.path.join(self.dir, sub), user.pw_uid, user.pw_gid)
        os.chmod(os.path.join(self.dir, 'server-key.pem'), 0o600)
        # -bdf: the listening daemon in the foreground, so that its PID is ours to stop;
        # -odi is irrelevant here, deliveries start at once (no queue_only).
        self.server = servercheck.Server('Exim', [self.exim, '-C', config_path, '-bdf'],
                                         os.path.join(self.dir, 'exim.out'), cwd=self.dir)
        self.server.wait_ready([self.submission, self.submissions, self.mx, self.sync],
                               tls_ports=[self.submissions])


def send_ahead(port):
    """EHLO, then MAIL, RCPT and DATA in one write to a port without PIPELINING; returns
    Exim's reply to the RCPT (Exim checks, command by command, whether more input followed)."""
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
        s.sendall(b'EHLO control.test\r\n')
        reply()
        s.sendall(b'MAIL FROM:<control@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n'
                  % mailcheck.BOB.encode())
        reply()
        return reply()


def message_id(out):
    m = re.search(r'\bid=(\w{6}-\w{6}-\w{2,4})\b', out)
    return m.group(1) if m else None


def main():
    if len(sys.argv) < 3:
        print('Bail out! usage: test-exim.py DISPATCH-SEND TEST-SERVERS-DIR', flush=True)
        return 1
    dispatch_send, servers_dir = sys.argv[1], sys.argv[2]
    exim_binary = os.path.abspath(os.path.join(servers_dir, 'exim', 'usr', 'sbin', 'exim4'))
    problems = missing_prerequisites(exim_binary)
    if problems:
        return mailcheck.unavailable('Exim 4', problems)

    servercheck.stop_on_sigterm()
    tap = Tap()
    work = tempfile.mkdtemp(prefix='dispatch-exim-')
    # Exim's reception and delivery processes run as Debian-exim and must reach below it.
    os.chmod(work, 0o755)
    exim = None
    try:
        mailcheck.wait_for_certs()
        inputs = os.path.join(work, 'inputs')
        os.makedirs(inputs)
        cases = mailcheck.build_cases(inputs)
        exim = Exim(exim_binary, os.path.join(work, 'exim'))
        started = time.monotonic()
        exim.start()
        tap.ok(True, 'private Exim 4.96 up (PID %d): submission %d, submissions %d, mx %d, sync %d'
               % (exim.server.pid, exim.submission, exim.submissions, exim.mx, exim.sync))
        tap.diag('started in %.1f s under %s' % (time.monotonic() - started, work))
        store = EximStore(exim.dir)
        m = servercheck.Matrix(tap, dispatch_send, store, cases, inputs, exim.logs)

        # 1. Every mechanism Exim offers, each one's use read from Exim's own log ("A=name:id").
        for mech, authenticator in (('PLAIN', 'plain'), ('LOGIN', 'login'), ('CRAM-MD5', 'cram')):
            label = 'submission/%s/text-only' % mech
            status, out, err = m.send(label, 'text-only',
                                      m.connect(exim.submission, 'starttls', auth=mech),
                                      time_limit=servercheck.SMALL_SEND_LIMIT)
            mid = message_id(out)
            line = [l for l in exim.mainlog().splitlines() if mid and ' %s <= ' % mid in l]
            # "L." is Exim's mark (log_selector +pipelining) for a client that pipelined.
            tap.ok(line and (' A=%s:%s ' % (authenticator, mailcheck.USER)) in line[0]
                   and ' X=TLS1.' in line[0] and ' L. ' in line[0],
                   '%s: Exim logged it received over TLS, pipelined, authenticated by %s as %s'
                   % (label, authenticator, mailcheck.USER), 'id %r, log line %r' % (mid, line))
            tap.ok(re.search(r'^C: BDAT \d+ LAST$', err, re.M) and not re.search(r'^C: DATA$', err, re.M),
                   '%s: the message went with BDAT (CHUNKING), not DATA' % label, err[-3000:])
            size = re.search(r'^C: MAIL FROM:<[^>]*> SIZE=(\d+)', err, re.M)
            logged = re.search(r' S=(\d+) ', line[0]) if line else None
            tap.ok(size and logged and int(size.group(1)) >= int(logged.group(1)) - 1000,
                   '%s: MAIL FROM declared SIZE (RFC 1870), close to what Exim stored' % label,
                   'declared %r, Exim S= %r' % (size and size.group(1), logged and logged.group(1)))

        # 2. The whole message set over submission with the best mechanism.
        for case in cases:
            m.send('submission/' + case.name, case.name, m.connect(exim.submission, 'starttls'))

        # 3. Implicit TLS.
        for name in ('text-only', 'utf8'):
            m.send('submissions/' + name, name, m.connect(exim.submissions, 'tls'))

        # 4. Wrong passwords: refused at submission, and at the MX port too, which would take
        #    the message without any sign-in — but not after a refused one.
        for mech in ('PLAIN', 'LOGIN', 'CRAM-MD5'):
            m.refused_sign_in('submission/wrong password/%s' % mech,
                              m.connect(exim.submission, 'starttls', auth=mech,
                                        password_file=m.wrong_password_file))
        m.refused_sign_in('submissions/wrong password',
                          m.connect(exim.submissions, 'tls', password_file=m.wrong_password_file))
        m.refused_sign_in('mx/wrong password',
                          m.connect(exim.mx, 'starttls', password_file=m.wrong_password_file))

        # 5. Without a sign-in: the MX port over STARTTLS, and the plaintext port without
        #    PIPELINING, where Exim enforces lock-step.
        for name in ('text-only', 'dots'):
            m.send('mx/no AUTH/' + name, name, m.connect(exim.mx, 'starttls', user=None))
        for name in ('text-only', 'utf8', 'dots', 'unknown-recipient'):
            label = 'sync/plain, no PIPELINING/' + name
            status, out, err = m.send(label, name, m.connect(exim.sync, 'none', user=None),
                                      time_limit=servercheck.SMALL_SEND_LIMIT)
            mid = message_id(out)
            line = [l for l in exim.mainlog().splitlines() if mid and ' %s <= ' % mid in l]
            tap.ok(line and ' L. ' not in line[0] and ' P=esmtp ' in line[0],
                   '%s: Exim logged it received in plaintext, not pipelined' % label,
                   'id %r, log line %r' % (mid, line))

        log = exim.mainlog()
        sync_errors = [l for l in log.splitlines() if 'synchronization error' in l]
        tap.ok(not sync_errors, 'Exim logged no SMTP synchronization error', '\n'.join(sync_errors))
        broken = [l for l in log.splitlines()
                  if re.search(r'SMTP protocol error|SMTP syntax error|lost while reading', l)]
        # ("incomplete transaction (QUIT)" is expected: after a refused sign-in the MAIL that
        # followed AUTH in the same flight had been accepted, the RCPT refused.)
        tap.ok(not broken, 'Exim logged no protocol error and no lost connection',
               '\n'.join(broken))
        # The control: the sync port really cuts off a client that sends ahead, so the sends
        # above passed it by waiting for each reply.
        reply = send_ahead(exim.sync)
        tap.ok(reply.startswith('554') and 'synchronization error' in reply,
               'control: the sync port answers a command sent ahead with 554 synchronization error',
               'got %r' % reply)
        panic = servercheck.tail(os.path.join(exim.dir, 'log', 'paniclog'), 2000)
        tap.ok(panic.startswith('(') or not panic.strip(), 'Exim wrote nothing to its panic log',
               panic)
    except Exception:
        tap.ok(False, 'test harness ran to the end',
               traceback.format_exc() + ('\n' + exim.logs() if exim is not None else ''))
    finally:
        if exim is not None and exim.server is not None:
            killed = exim.server.stop()
            tap.ok(not killed, 'Exim stopped by its PID within %ds' % servercheck.STOP_TIMEOUT)
        if tap.failed:
            tap.diag('files kept in ' + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
