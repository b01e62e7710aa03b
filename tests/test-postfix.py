#!/usr/bin/python3
# test-postfix.py — dispatch-send against a private Postfix 3.7 + Dovecot SASL instance, checked on the server's side.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: test-postfix.py [PATH/TO/dispatch-send]   (or set DISPATCH_SEND). Output is TAP.
#
# The server is Postfix as Debian ships it, started by postfix-instance.py under a temporary
# directory (submission with STARTTLS required and AUTH only after it, submissions with implicit
# TLS, SASL through Dovecot, delivery to Maildirs). Every message of mailcheck.build_cases() is
# sent, then read back from the Maildirs with Python's email parser.
#
# How "BDAT was used and MAIL/RCPT were pipelined" is read from the server, not from our own
# transcript: smtpd runs with -v -v -v, which makes Postfix's vstream layer log every read() of
# the client connection ("vstream_buf_get_ready: fd N got BYTES") and every write of buffered
# replies ("vstream_fflush_some: fd N flush BYTES"), interleaved with each command it parses
# ("< client: MAIL FROM:…"). smtpd buffers replies until it needs more input (RFC 2920 §3.2),
# so a client that waits for each reply forces a flush and a new read between MAIL and RCPT,
# while a pipelining client's MAIL and RCPTs come out of a single read and are answered in a
# single flush. So, per session that carried a message:
#   - no read and no flush on the client's descriptor between "< AUTH" (AUTH PLAIN leads the
#     flight, RFC 4954 §4) or "< MAIL" and the last "< RCPT";
#   - no "improper command pipelining" line (Postfix's own detector of commands sent ahead
#     where RFC 2920 forbids it; smtpd_forbid_unauth_pipelining=yes also makes it hang up);
#   - the commands include "BDAT n … LAST", none is DATA, and Postfix's per-session summary
#     ("disconnect from … bdat=N") counts BDAT and no DATA.
# Bare LF anywhere is refused by the server itself (smtpd_forbid_bare_newline=reject); a bare CR
# would survive into the Maildir file, which is checked for it.

import base64
import email
import email.policy
import importlib.util
import os
import re
import shutil
import smtplib
import ssl
import sys
import tempfile
import time
import traceback

# Imported from the source tree, which a test must not write to.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mailcheck  # noqa: E402
from mailcheck import Tap, describe_run, leaks, run_send  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DELIVERY_TIMEOUT = 60
LOG_TIMEOUT = 10


def load_instance_module():
    spec = importlib.util.spec_from_file_location('postfix_instance',
                                                  os.path.join(HERE, 'postfix-instance.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ─── Reading Postfix's log ────────────────────────────────────────────────────────────────

LOG_LINE = re.compile(r'^\S+\s+\d+\s+[\d:]+\s+\S+\s+postfix/((?:[\w-]+/)*)smtpd\[(\d+)\]: (.*)$')
GOT = re.compile(r'^vstream_buf_get_ready: fd (\d+) got (\d+)$')
FLUSH = re.compile(r'^vstream_fflush_some: fd (\d+) flush (\d+)$')
COMMAND = re.compile(r'^< \S+: (.*)$')


def io_on(line, fd):
    """The byte count if the line logs a read or a flush on descriptor fd, else None."""
    m = GOT.match(line) or FLUSH.match(line)
    return m.group(2) if m and m.group(1) == fd else None


class Session:
    """One SMTP connection as one smtpd process logged it (a process serves several in turn)."""

    def __init__(self, service, pid):
        self.service = service
        self.pid = pid
        self.lines = []
        self.summary = None

    def commands(self):
        return [(i, m.group(1)) for i, m in ((i, COMMAND.match(l)) for i, l in enumerate(self.lines))
                if m]

    def queue_ids(self):
        return [m.group(1) for m in (re.match(r'^([0-9A-F]+): client=', l) for l in self.lines) if m]

    def client_fd(self):
        # The descriptor of the read that delivered the first command line.
        commands = self.commands()
        if not commands:
            return None
        for line in reversed(self.lines[:commands[0][0]]):
            m = GOT.match(line)
            if m:
                return m.group(1)
        return None


def read_sessions(path):
    sessions = []
    current = {}
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            m = LOG_LINE.match(line.rstrip('\n'))
            if not m:
                continue
            service, pid, text = m.groups()
            if text.startswith('connect from '):
                current[pid] = Session(service.rstrip('/'), pid)
                sessions.append(current[pid])
            session = current.get(pid)
            if session is None:
                continue
            session.lines.append(text)
            if text.startswith('disconnect from '):
                session.summary = text
                del current[pid]
    return sessions


def analyse_transaction(session):
    """Returns (problems, evidence) for a session that carried a message."""
    problems = []
    evidence = []
    fd = session.client_fd()
    commands = session.commands()
    names = [c.split()[0].upper() if c.split() else '' for _, c in commands]
    if fd is None:
        problems.append('no read of the client connection found before the first command')

    mail = [k for k, n in enumerate(names) if n == 'MAIL']
    if len(mail) != 1:
        problems.append('expected one MAIL command, found %d' % len(mail))
    else:
        k = mail[0]
        last_rcpt = k
        while last_rcpt + 1 < len(names) and names[last_rcpt + 1] == 'RCPT':
            last_rcpt += 1
        # AUTH PLAIN may lead the same flight (RFC 4954 §4); when it was sent, it must have.
        first = k - 1 if k > 0 and names[k - 1] == 'AUTH' else k
        group = ('AUTH, MAIL and RCPTs' if first < k else 'MAIL and RCPTs')
        if last_rcpt == k:
            problems.append('no RCPT right after MAIL')
        elif 'AUTH' in names and first == k:
            problems.append('AUTH is not right before MAIL')
        else:
            start, end = commands[first][0], commands[last_rcpt][0]
            between = session.lines[start:end]
            reads = [l for l in between if io_on(l, fd) is not None]
            if reads:
                problems.append('%s not pipelined: the server read or answered in between: %s'
                                % (group, '; '.join(reads)))
            else:
                # The read that brought the group in, for the record.
                got = [io_on(l, fd) for l in session.lines[:start]
                       if GOT.match(l) and io_on(l, fd) is not None]
                evidence.append('%sMAIL + %d RCPT parsed from one %s-byte read, answered in one flush'
                                % ('AUTH + ' if first < k else '', last_rcpt - k, got[-1] if got else '?'))

    bdat = [c for (_, c), n in zip(commands, names) if n == 'BDAT']
    if not bdat:
        problems.append('no BDAT command')
    elif not bdat[-1].upper().endswith(' LAST'):
        problems.append('the last BDAT is not "BDAT n LAST": %r' % bdat[-1])
    else:
        evidence.append('%d BDAT chunk(s), the last %r' % (len(bdat), bdat[-1]))
    if 'DATA' in names:
        problems.append('DATA was used')

    summary = session.summary or ''
    if not re.search(r'\bbdat=\d', summary) or re.search(r'\bdata=', summary):
        problems.append('session summary does not count BDAT only: %r' % summary)
    else:
        evidence.append(summary)

    improper = [l for l in session.lines if 'improper command pipelining' in l]
    if improper:
        problems.append('Postfix saw improper pipelining: %s' % improper[0])
    return problems, evidence


def wait_for_log(path, needles, timeout=LOG_TIMEOUT):
    """smtpd logs through postlogd, a moment after the client has gone."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path, encoding='utf-8', errors='replace') as f:
                text = f.read()
        except OSError:
            text = ''
        if all(n in text for n in needles) or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


# ─── Sending and reading back ─────────────────────────────────────────────────────────────

def wait_for_delivery(instance, before, addresses, timeout=DELIVERY_TIMEOUT):
    """Waits until every address has one file more than in `before`; returns the new files."""
    deadline = time.monotonic() + timeout
    while True:
        found = {}
        for a in addresses:
            new = [p for p in instance.messages(a) if p not in before[a]]
            if new:
                found[a] = new
        if len(found) == len(addresses) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def snapshot(instance):
    return {a: set(instance.messages(a)) for a in mailcheck.MAILBOXES}


def queue_id_of(out):
    m = re.search(r'queued as ([0-9A-F]+)', out)
    return m.group(1) if m else None


def send_and_check(tap, instance, dispatch_send, case, label, connect, queue_ids):
    before = snapshot(instance)
    started = time.monotonic()
    status, out, err = run_send(dispatch_send, connect + case.args() + ['--transcript'])
    elapsed = time.monotonic() - started
    mailcheck.check_send(tap, label, case, status, out, err, '\n' + instance.logs())
    tap.diag('%s: dispatch-send took %.2f s' % (label, elapsed))
    tap.ok(not leaks(mailcheck.PASSWORD, out, err),
           '%s: password (raw or base64) absent from stdout and stderr' % label,
           'found: %r' % leaks(mailcheck.PASSWORD, out, err))
    queue_id = queue_id_of(out)
    if status in (0, 67) and queue_id:
        queue_ids.append((label, queue_id))

    delivered = wait_for_delivery(instance, before, case.accepted)
    tap.ok(sorted(delivered) == sorted(case.accepted)
           and all(len(v) == 1 for v in delivered.values()),
           '%s: one copy delivered to each of %s' % (label, ', '.join(case.accepted)),
           'delivered %r\n%s' % (delivered, instance.logs()))
    if case.refused:
        tap.ok(not any(os.path.exists(instance.maildir(a)) for a in case.refused),
               '%s: nothing delivered for %s' % (label, ', '.join(case.refused)))

    for address in case.accepted:
        for path in delivered.get(address, [])[:1]:
            with open(path, 'rb') as f:
                raw = f.read()
            rlabel = '%s → %s' % (label, address)
            mailcheck.check_stored_form(tap, rlabel, raw)
            msg = mailcheck.check_message(tap, rlabel, raw, case)
            # Trace fields Postfix wrote: who it delivered to, and that it came over TLS
            # from an authenticated client ("ESMTPSA", RFC 3848).
            received = str(msg.get_all('Received', [''])[0])
            tap.ok(str(msg['Delivered-To']) == address and 'with ESMTPSA' in received,
                   '%s: Postfix delivered it to that mailbox, received with ESMTPSA' % rlabel,
                   'Delivered-To %r, Received %r' % (msg['Delivered-To'], received))
    return status, out, err


def send_without_pipelining(instance):
    """The control: Python's smtplib neither pipelines nor speaks BDAT. Returns the queue id."""
    context = ssl.create_default_context(cafile=mailcheck.CA)
    with smtplib.SMTP('127.0.0.1', instance.submission, local_hostname='control.test',
                      timeout=30) as client:
        client.starttls(context=context)
        client.ehlo('control.test')
        # smtplib's own login() only takes ASCII passwords; PLAIN by hand takes UTF-8.
        token = base64.b64encode(b'\0' + mailcheck.USER.encode() + b'\0'
                                 + mailcheck.PASSWORD.encode('utf-8')).decode('ascii')
        code, reply = client.docmd('AUTH', 'PLAIN ' + token)
        if code != 235:
            raise RuntimeError('control client: AUTH refused: %d %r' % (code, reply))
        client.mail('control@example.org')
        client.rcpt(mailcheck.BOB)
        client.rcpt(mailcheck.CAROL)
        code, reply = client.data(b'Subject: control\r\n\r\nsent by smtplib\r\n')
    return queue_id_of(reply.decode('ascii', 'replace'))


def main():
    dispatch_send = sys.argv[1] if len(sys.argv) > 1 else os.environ.get('DISPATCH_SEND')
    if not dispatch_send or not os.access(dispatch_send, os.X_OK):
        print('Bail out! dispatch-send not given (argv[1] or DISPATCH_SEND) or not executable: %r'
              % dispatch_send, flush=True)
        return 1

    pfi = load_instance_module()
    problems = pfi.missing_prerequisites()
    if problems:
        return mailcheck.unavailable('Postfix + Dovecot', problems)
    # Postfix's and Dovecot's children outlive their parents by a moment when stopped; as
    # their subreaper we collect them, and can tell that none is left.
    pfi.become_subreaper()

    tap = Tap()
    work = tempfile.mkdtemp(prefix='dispatch-postfix-')
    # Postfix's unprivileged daemons must reach the instance below it.
    os.chmod(work, 0o755)
    instance = None
    groups = []
    try:
        mailcheck.wait_for_certs()
        inputs = os.path.join(work, 'inputs')
        os.makedirs(inputs)
        started = time.monotonic()
        cases = mailcheck.build_cases(inputs)
        tap.diag('inputs written in %.1f s' % (time.monotonic() - started))
        by_name = {c.name: c for c in cases}
        password_file = os.path.join(inputs, 'password')
        mailcheck.write_secret(password_file, mailcheck.PASSWORD)
        wrong_password_file = os.path.join(inputs, 'wrong-password')
        mailcheck.write_secret(wrong_password_file, mailcheck.WRONG_PASSWORD)

        started = time.monotonic()
        instance = pfi.Instance(os.path.join(work, 'server'), user=mailcheck.USER,
                                password=mailcheck.PASSWORD, mailboxes=mailcheck.MAILBOXES,
                                cert=mailcheck.SERVER_CERT, key=mailcheck.SERVER_KEY,
                                smtpd_verbose=True)
        info = instance.start()
        groups = instance.process_groups()
        tap.ok(True, 'private Postfix + Dovecot up: submission 127.0.0.1:%d, submissions '
               '127.0.0.1:%d' % (info['submission'], info['submissions']))
        tap.diag('instance started in %.1f s under %s' % (time.monotonic() - started, work))

        def connect(port, security, password_path=password_file):
            return ['--server', '127.0.0.1:%d' % port, '--security', security,
                    '--ca-file', mailcheck.CA, '--user', mailcheck.USER,
                    '--password-file', password_path, '--timeout', '60']

        queue_ids = []
        # 1. The whole set over submission: STARTTLS, then AUTH through Dovecot.
        for case in cases:
            send_and_check(tap, instance, dispatch_send, case, 'submission/' + case.name,
                           connect(instance.submission, 'starttls'), queue_ids)

        # 2. Implicit TLS (port 465 style) with the messages that matter for the handshake.
        for name in ('text-only', 'utf8'):
            send_and_check(tap, instance, dispatch_send, by_name[name], 'submissions/' + name,
                           connect(instance.submissions, 'tls'), queue_ids)

        # 3. A wrong password: Dovecot refuses, Postfix says 535, nothing is delivered.
        text_only = by_name['text-only']
        before = snapshot(instance)
        status, out, err = run_send(dispatch_send, connect(instance.submission, 'starttls',
                                                           wrong_password_file)
                                    + text_only.args())
        tap.ok(status == 77, 'wrong password: exits 77 (EX_NOPERM)', describe_run(status, out, err))
        tap.ok('535' in err, "wrong password: stderr carries Postfix's 535 reply",
               describe_run(status, out, err))
        tap.ok(not leaks(mailcheck.WRONG_PASSWORD, out, err),
               'wrong password: no password in stdout or stderr')
        tap.ok(snapshot(instance) == before, 'wrong password: nothing delivered')

        # 3b. The same wrong password at the MX port, which takes mail for its own mailboxes
        #     from anyone: AUTH leads the flight with the envelope (RFC 4954 §4), Postfix takes
        #     the envelope without the sign-in, yet nothing may be delivered — pipelining must
        #     not change the outcome of the lock-step dialogue, which would stop at the 535.
        before = snapshot(instance)
        status, out, err = run_send(dispatch_send, connect(instance.mx, 'starttls',
                                                           wrong_password_file)
                                    + text_only.args())
        tap.ok(status == 77, 'MX, wrong password: exits 77 (EX_NOPERM), as at submission',
               describe_run(status, out, err))
        tap.ok('535' in err, "MX, wrong password: stderr carries Postfix's 535 reply",
               describe_run(status, out, err))
        tap.ok(not leaks(mailcheck.WRONG_PASSWORD, out, err),
               'MX, wrong password: no password in stdout or stderr')
        time.sleep(1)
        tap.ok(snapshot(instance) == before, 'MX, wrong password: nothing delivered')

        # 4. No TLS at all, plaintext AUTH allowed by us: the server offers no AUTH before
        #    STARTTLS, so no password may cross, and nothing may be delivered.
        before = snapshot(instance)
        plain_args = connect(instance.submission, 'none') + ['--allow-plaintext-auth']
        status, out, err = run_send(dispatch_send, plain_args + text_only.args())
        tap.ok(status not in (0, 67, None), 'plaintext to submission: refused (exit %r)' % status,
               describe_run(status, out, err))
        tap.ok(snapshot(instance) == before, 'plaintext to submission: nothing delivered')

        # 5. The control for step 6: a client that neither pipelines nor uses BDAT.
        control_id = send_without_pipelining(instance)

        # 6. The server's own account of every session.
        log = wait_for_log(instance.maillog, ['%s: client=' % q for _, q in queue_ids]
                           + ['%s: client=' % control_id, 'disconnect from'])
        sessions = read_sessions(instance.maillog)
        by_queue_id = {q: s for s in sessions for q in s.queue_ids()}
        control = by_queue_id.get(control_id)
        control_problems = analyse_transaction(control)[0] if control is not None else []
        tap.ok(any('not pipelined' in p for p in control_problems)
               and any('no BDAT' in p for p in control_problems),
               'control: the same analysis flags smtplib as neither pipelining nor using BDAT',
               'control session %r, problems %r' % (control_id, control_problems))
        for label, queue_id in queue_ids:
            session = by_queue_id.get(queue_id)
            if session is None or session.summary is None:
                tap.ok(False, '%s: server log has the whole session of %s' % (label, queue_id))
                continue
            problems, evidence = analyse_transaction(session)
            tap.ok(not problems, '%s: server side: BDAT only, MAIL/RCPT pipelined (smtpd[%s])'
                   % (label, session.pid),
                   '\n'.join(problems) + '\n--- session ---\n' + '\n'.join(session.lines[-200:]))
            for line in evidence:
                tap.diag('  ' + line)

        # The wrong password's session at submission: its AUTH led the flight, and Postfix
        # took nothing.
        refused = [s for s in sessions if any('authentication failed' in l for l in s.lines)
                   and s.service == 'submission']
        if len(refused) != 1:
            tap.ok(False, 'wrong password: one session with a failed authentication in the log',
                   'found %d' % len(refused))
        else:
            problems = analyse_transaction(refused[0])[0]
            pipelined = not any('not pipelined' in p or 'AUTH is not' in p for p in problems)
            tap.ok(pipelined and not refused[0].queue_ids(),
                   'wrong password: server side: AUTH, MAIL and RCPT in one flight, no message queued',
                   '\n'.join(problems) + '\n--- session ---\n' + '\n'.join(refused[0].lines[-120:]))

        mail_sessions = [s for s in sessions if any(n.upper().startswith('MAIL') for _, n in s.commands())]
        tap.ok(len(mail_sessions) == len(queue_ids) + 3,
               'every session that sent MAIL is one of the %d checked sends, the two wrong '
               'passwords or the control' % len(queue_ids),
               'sessions with MAIL: %d, checked sends: %d + 3' % (len(mail_sessions), len(queue_ids)))
        plain = [s for s in sessions
                 if any(c.upper().startswith('EHLO') for _, c in s.commands())
                 and not any(c.upper() == 'STARTTLS' for _, c in s.commands())
                 and s.service == 'submission']
        tap.ok(plain and not any(c.upper().startswith('AUTH') for s in plain for _, c in s.commands())
               and not leaks(mailcheck.PASSWORD, '\n'.join(l for s in plain for l in s.lines)),
               'server side: the plaintext session sent no AUTH and no password',
               '\n'.join(l for s in plain for l in s.lines[-60:]))
        improper = [l for l in log.splitlines() if 'improper command pipelining' in l]
        tap.ok(not improper, 'Postfix logged no improper command pipelining', '\n'.join(improper))
        fatal = [l for l in log.splitlines() if re.search(r'\]: (fatal|panic):', l)]
        tap.ok(not fatal, 'Postfix logged no fatal error or panic', '\n'.join(fatal))
    except Exception:
        tap.ok(False, 'test harness ran to the end', traceback.format_exc()
               + ('\n' + instance.logs() if instance is not None else ''))
    finally:
        if instance is not None:
            try:
                killed = instance.close()
                tap.ok(not killed, 'Postfix and Dovecot stopped by PID within %ds'
                       % pfi.STOP_TIMEOUT, 'had to kill: %r' % killed)
                left = {g: pfi.group_members(g) for g in groups}
                tap.ok(not any(left.values()), 'no Postfix or Dovecot process left behind',
                       'still running: %r' % left)
            except Exception:
                tap.ok(False, 'stopping the instance', traceback.format_exc())
        # Kept after a failure: the Maildirs and the Postfix and Dovecot logs are the evidence.
        if tap.failed:
            tap.diag('files kept in ' + work)
        else:
            shutil.rmtree(work, ignore_errors=True)

    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
