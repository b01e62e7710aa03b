#!/usr/bin/python3
# test-dispatch-send-aiosmtpd.py — dispatch-send against aiosmtpd (STARTTLS + AUTH), checked with Python's email parser.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: test-dispatch-send-aiosmtpd.py [PATH/TO/dispatch-send]   (or set DISPATCH_SEND)
# Output is TAP. The server is tests/smtp-server.py, i.e. aiosmtpd: nothing on the receiving
# side was written by us, so what passes here is what a real server accepts and a real MIME
# parser reads back.

import base64
import email
import email.policy
import hashlib
import json
import shutil
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = os.path.join(HERE, 'files')
SERVER_SCRIPT = os.path.join(HERE, 'smtp-server.py')
CA = os.path.join(FILES, 'ca.pem')
SERVER_CERT = os.path.join(FILES, 'server.pem')
SERVER_KEY = os.path.join(FILES, 'server-key.pem')

# Every wait is bounded so that a hang shows up as a failure, well inside meson's timeout.
CERT_WAIT = 120
SERVER_START_TIMEOUT = 20
SEND_TIMEOUT = 90
SERVER_STOP_TIMEOUT = 10

USER = 'alice'
# Distinctive enough that finding it in any output cannot be a coincidence.
PASSWORD = 'S3cr3t-pässwörd-7f2c9a'
WRONG_PASSWORD = 'Wr0ng-guess-4b1d'
FROM = 'Ann Example <ann@example.org>'
TO = ['bob@example.net', 'carol@example.net']
BCC = 'dave@example.com'
SUBJECT = 'Grüße – ünïcødé ✓ test'
ATTACHMENT_NAME = 'Strandfoto – Grüße.png'

# Lines that SMTP's dot-stuffing must carry through untouched: leading dots, a lone dot (which
# would end DATA if left unstuffed), a double dot, and non-ASCII text.
BODY = (
    'Hallo Bob, hallo Carol,\n'
    '\n'
    '.this line starts with a dot\n'
    '.\n'
    '..\n'
    '...three\n'
    ' . a dot after a space\n'
    'Grüße aus Köln – ünïcødé ✓, ελληνικά, 日本語, emoji 📮\n'
    'From the beginning of a line (mbox would mangle this)\n'
    + 'Lorem ipsum dolor sit amet, consectetur — adipiscing elit. ' * 5 + '\n'
    '\n'
    '-- \n'
    'Ann\n'
)


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if cond:
            print('ok %d - %s' % (self.n, name), flush=True)
        else:
            self.failed += 1
            print('not ok %d - %s' % (self.n, name), flush=True)
            if diag:
                self.diag(diag)
        return cond

    def diag(self, text):
        for line in str(text).splitlines():
            print('# ' + line, flush=True)

    def finish(self):
        print('1..%d' % self.n, flush=True)
        return 1 if self.failed else 0


def png_chunk(kind, data):
    return (struct.pack('>I', len(data)) + kind + data
            + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))


def write_noise_png(path, width=1400, height=1250):
    """A valid RGB PNG of random pixels: about 5 MiB that no compressor can shrink."""
    row_bytes = width * 3
    noise = os.urandom(row_bytes * height)
    # Filter type 0 (None) in front of every scanline.
    raw = b''.join(b'\x00' + noise[y * row_bytes:(y + 1) * row_bytes] for y in range(height))
    compressed = zlib.compress(raw, 1)
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    parts = [b'\x89PNG\r\n\x1a\n', png_chunk(b'IHDR', ihdr)]
    # Several IDATs, as real encoders write them.
    for i in range(0, len(compressed), 65536):
        parts.append(png_chunk(b'IDAT', compressed[i:i + 65536]))
    parts.append(png_chunk(b'IEND', b''))
    with open(path, 'wb') as f:
        f.write(b''.join(parts))


def wait_for_certs():
    deadline = time.monotonic() + CERT_WAIT
    needed = (CA, SERVER_CERT, SERVER_KEY)
    while not all(os.path.exists(p) for p in needed):
        if time.monotonic() > deadline:
            raise RuntimeError('test certificates missing after %ds: %s'
                               % (CERT_WAIT, ', '.join(p for p in needed if not os.path.exists(p))))
        time.sleep(1)


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
                '--ready-file', self.ready_file] + extra_args
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


def run_send(dispatch_send, args):
    """Runs dispatch-send; returns (exit status, stdout, stderr) as text."""
    try:
        p = subprocess.run([dispatch_send] + args, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=SEND_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        return (None, (e.stdout or b'').decode('utf-8', 'replace'),
                (e.stderr or b'').decode('utf-8', 'replace')
                + '\n[killed after %ds]' % SEND_TIMEOUT)
    return (p.returncode, p.stdout.decode('utf-8', 'replace'),
            p.stderr.decode('utf-8', 'replace'))


def secret_forms(password):
    """The password as it could leak: raw, and base64 as AUTH PLAIN and LOGIN carry it."""
    pw = password.encode('utf-8')
    return [password,
            base64.b64encode(pw).decode('ascii'),
            base64.b64encode(b'\0' + USER.encode() + b'\0' + pw).decode('ascii'),
            base64.b64encode(USER.encode() + b'\0' + USER.encode() + b'\0' + pw).decode('ascii')]


def leaks(password, *outputs):
    return [form for form in secret_forms(password) for out in outputs if form in out]


def describe_run(status, out, err):
    return 'exit status: %r\n--- stdout ---\n%s\n--- stderr ---\n%s' % (status, out[-4000:], err[-8000:])


def all_defects(msg):
    found = []
    for part in msg.walk():
        found += ['%s: %r' % (part.get_content_type(), d) for d in part.defects]
        for name, value in part.items():
            found += ['header %s: %r' % (name, d) for d in getattr(value, 'defects', ())]
    return found


def check_message(tap, label, raw, png_sha256, expect_no_bcc):
    """The checks shared by the delivered message and the --output file."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)

    defects = all_defects(msg)
    tap.ok(not defects, '%s: the MIME parser finds no defects' % label, '\n'.join(defects))

    tap.ok(str(msg['Subject']) == SUBJECT, '%s: Subject decodes to the input' % label,
           'got %r, raw %r' % (str(msg['Subject']), msg.get_all('Subject')))

    from_ = msg['From']
    from_ok = (from_ is not None and len(from_.addresses) == 1
               and from_.addresses[0].display_name == 'Ann Example'
               and from_.addresses[0].addr_spec == 'ann@example.org')
    tap.ok(from_ok, '%s: From is Ann Example <ann@example.org>' % label, 'got %r' % (from_,))

    to = msg['To']
    to_specs = sorted(a.addr_spec for a in to.addresses) if to is not None else None
    tap.ok(to_specs == sorted(TO), '%s: To holds bob and carol' % label, 'got %r' % (to,))

    if expect_no_bcc:
        tap.ok(msg['Bcc'] is None and BCC.encode() not in raw,
               '%s: no Bcc header, the Bcc address nowhere in the message' % label,
               'Bcc header: %r' % (msg['Bcc'],))

    body = msg.get_body(preferencelist=('plain',))
    text = body.get_content().replace('\r\n', '\n') if body is not None else None
    if not tap.ok(text == BODY, '%s: body text identical, dots and UTF-8 included' % label):
        tap.diag('expected %r' % BODY)
        tap.diag('got      %r' % text)
        if body is not None:
            tap.diag('text part headers: %r' % (body.items(),))

    attachments = list(msg.iter_attachments())
    tap.ok(len(attachments) == 1, '%s: exactly one attachment' % label,
           'got %r' % [(a.get_content_type(), a.get_filename()) for a in attachments])
    if attachments:
        a = attachments[0]
        tap.ok(a.get_filename() == ATTACHMENT_NAME, '%s: attachment file name' % label,
               'got %r (Content-Disposition %r)' % (a.get_filename(), a['Content-Disposition']))
        tap.ok(a.get_content_type() == 'image/png', '%s: attachment type image/png' % label,
               'got %r' % a.get_content_type())
        data = a.get_content()
        digest = hashlib.sha256(data).hexdigest() if isinstance(data, bytes) else None
        tap.ok(digest == png_sha256, '%s: attachment SHA-256 identical to the file' % label,
               'expected %s, got %s (%s bytes)' % (png_sha256, digest,
                                                   len(data) if data is not None else None))
    return msg


def check_wire_form(tap, label, raw):
    # RFC 5322 §2.1.1 / RFC 5321 §4.5.3.1.6: CRLF only, no line over 998 octets.
    lines = raw.split(b'\r\n')
    bare = sum(line.count(b'\n') + line.count(b'\r') for line in lines)
    too_long = [i for i, line in enumerate(lines) if len(line) > 998]
    tap.ok(bare == 0 and not too_long and raw.endswith(b'\r\n'),
           '%s: CRLF line ends only, no line over 998 octets' % label,
           'bare CR/LF: %d, long lines at %r' % (bare, too_long[:5]))


def main():
    dispatch_send = sys.argv[1] if len(sys.argv) > 1 else os.environ.get('DISPATCH_SEND')
    tap = Tap()
    if not dispatch_send or not os.access(dispatch_send, os.X_OK):
        print('Bail out! dispatch-send not given (argv[1] or DISPATCH_SEND) or not executable: %r'
              % dispatch_send, flush=True)
        return 1

    servers = []
    work = None
    try:
        wait_for_certs()
        work = tempfile.mkdtemp(prefix='dispatch-aiosmtpd-')

        password_file = os.path.join(work, 'password')
        with open(password_file, 'w', encoding='utf-8') as f:
            f.write(PASSWORD + '\n')
        os.chmod(password_file, 0o600)
        wrong_password_file = os.path.join(work, 'wrong-password')
        with open(wrong_password_file, 'w', encoding='utf-8') as f:
            f.write(WRONG_PASSWORD + '\n')
        os.chmod(wrong_password_file, 0o600)
        body_file = os.path.join(work, 'body.txt')
        with open(body_file, 'w', encoding='utf-8') as f:
            f.write(BODY)
        png = os.path.join(work, ATTACHMENT_NAME)
        write_noise_png(png)
        with open(png, 'rb') as f:
            png_bytes = f.read()
        png_sha256 = hashlib.sha256(png_bytes).hexdigest()
        tap.diag('attachment: %d bytes, sha256 %s' % (len(png_bytes), png_sha256))

        secure = Server(work, 'starttls-auth', [
            '--tls-cert', SERVER_CERT, '--tls-key', SERVER_KEY, '--require-starttls',
            '--auth-user', USER, '--auth-password-file', password_file])
        servers.append(secure)
        tap.diag('aiosmtpd with STARTTLS + AUTH on 127.0.0.1:%d' % secure.port)

        message_args = ['--from', FROM]
        for rcpt in TO:
            message_args += ['--to', rcpt]
        message_args += ['--bcc', BCC, '--subject', SUBJECT, '--body-file', body_file,
                         '--attach', png]

        def connect_args(server, password_path):
            return ['--server', '127.0.0.1:%d' % server.port, '--security', 'starttls',
                    '--ca-file', CA, '--user', USER, '--password-file', password_path,
                    '--timeout', '30']

        # 1. The real send.
        status, out, err = run_send(dispatch_send, connect_args(secure, password_file)
                                    + message_args + ['--transcript'])
        sent = tap.ok(status == 0, 'send over STARTTLS + AUTH exits 0',
                      describe_run(status, out, err) + '\n--- server ---\n' + secure.log())
        tap.ok(not leaks(PASSWORD, out, err),
               'password (raw or base64) absent from stdout and stderr with --transcript',
               'found: %r' % leaks(PASSWORD, out, err))
        tap.ok('STARTTLS' in err and 'AUTH' in err,
               '--transcript shows the dialogue (STARTTLS, AUTH) on stderr',
               describe_run(status, out, err))

        files = secure.messages()
        envelopes = secure.envelopes()
        tap.ok(len(files) == 1 and len(envelopes) == 1, 'the server stored exactly one message',
               'files %r, envelopes %r' % (files, envelopes))
        if files and envelopes:
            with open(files[0], 'rb') as f:
                raw = f.read()
            env = envelopes[0]
            tap.ok(env['mail_from'] == 'ann@example.org', 'envelope sender is ann@example.org',
                   'got %r' % env['mail_from'])
            tap.ok(sorted(env['rcpt_tos']) == sorted(TO + [BCC]),
                   'envelope recipients are bob, carol and the Bcc dave',
                   'got %r' % env['rcpt_tos'])
            tap.ok(env.get('tls') is True and env.get('auth_user') == USER,
                   'the message came over TLS from the authenticated user',
                   'got tls=%r auth_user=%r' % (env.get('tls'), env.get('auth_user')))
            declared = [o for o in env['mail_options'] if o.upper().startswith('SIZE=')]
            tap.ok(not declared or int(declared[0][5:]) >= env['size'],
                   'MAIL FROM SIZE= is not below the size received',
                   'declared %r, received %d' % (declared, env['size']))
            tap.diag('MAIL options %r, RCPT options %r, %d bytes'
                     % (env['mail_options'], env['rcpt_options'], env['size']))
            check_wire_form(tap, 'delivered', raw)
            check_message(tap, 'delivered', raw, png_sha256, expect_no_bcc=True)
        elif sent:
            tap.diag('server log:\n' + secure.log())

        # 2. A wrong password: refused by the server, its reply shown, no secret echoed.
        before = len(secure.messages())
        status, out, err = run_send(dispatch_send, connect_args(secure, wrong_password_file)
                                    + message_args + ['--transcript'])
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
        status, out, err = run_send(dispatch_send, connect_args(plain, password_file)
                                    + message_args)
        tap.ok(status == 77, 'server without STARTTLS, --security starttls: exits 77',
               describe_run(status, out, err))
        tap.ok('starttls' in err.lower(), 'server without STARTTLS: the error mentions STARTTLS',
               describe_run(status, out, err))
        tap.ok(not plain.messages() and not plain.envelopes(),
               'server without STARTTLS: nothing sent in clear', plain.log())
        tap.ok(not leaks(PASSWORD, out, err), 'server without STARTTLS: no password in output')

        # 4. --output: the message as a file, no server involved.
        eml = os.path.join(work, 'message.eml')
        status, out, err = run_send(dispatch_send, message_args + ['--output', eml])
        tap.ok(status == 0 and os.path.exists(eml), '--output writes a .eml and exits 0',
               describe_run(status, out, err))
        if os.path.exists(eml):
            with open(eml, 'rb') as f:
                raw = f.read()
            tap.ok(not raw.startswith(b'.') and b'\r\n..this line' not in raw,
                   '--output: the file is not dot-stuffed')
            check_message(tap, '--output', raw, png_sha256, expect_no_bcc=False)
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
