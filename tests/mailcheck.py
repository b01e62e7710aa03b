# mailcheck.py — the messages the integration tests send with dispatch-send, and how a delivered one is checked.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Shared by test-dispatch-send-aiosmtpd.py and test-postfix.py so that both servers are held to
# the same message set and the same reading of it: Python's email parser with policy.default
# (a strict, modern parser none of us wrote), field by field, attachments by SHA-256.

import base64
import email
import email.policy
import hashlib
import os
import struct
import subprocess
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = os.path.join(HERE, 'files')
CA = os.path.join(FILES, 'ca.pem')
SERVER_CERT = os.path.join(FILES, 'server.pem')
SERVER_KEY = os.path.join(FILES, 'server-key.pem')

# Every wait is bounded so that a hang shows up as a failure, well inside meson's timeout.
CERT_WAIT = 120
SEND_TIMEOUT = 120

USER = 'alice'
# Distinctive enough that finding it in any output cannot be a coincidence.
PASSWORD = 'S3cr3t-pässwörd-7f2c9a'
WRONG_PASSWORD = 'Wr0ng-guess-4b1d'

# Known to both servers; UNKNOWN is refused by both with 550.
BOB = 'bob@example.net'
CAROL = 'carol@example.net'
DAVE = 'dave@example.com'
UNKNOWN = 'nobody-here@example.net'
MAILBOXES = (BOB, CAROL, DAVE)

# The picture of the large case: "25 MB", as a provider's attachment limit counts it.
BIG_IMAGE_BYTES = 25 * 1000 * 1000


# ─── TAP ──────────────────────────────────────────────────────────────────────────────────

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


def unavailable(what, reasons):
    """A server this test needs cannot run here. In CI (env CI set), whose setup installs it
    (build-aux/dispatch-dev), that is a failure; elsewhere the test is skipped, loudly.
    Returns the exit status.

    Meson runs these tests with protocol 'tap', where any non-zero exit status is an error,
    so the skip is said the TAP way ("1..0 # SKIP") with status 0, not with exit status 77."""
    reason = '%s cannot run here: %s' % (what, '; '.join(reasons))
    if os.environ.get('CI'):
        print('not ok 1 - %s usable (CI installs it with build-aux/dispatch-dev)' % what)
        print('# ' + reason)
        print('1..1', flush=True)
        return 1
    print('# ' + reason)
    print('# build-aux/dispatch-dev installs what the tests need; with CI set this is a failure')
    print('1..0 # SKIP %s' % reason, flush=True)
    return 0


# ─── Inputs ───────────────────────────────────────────────────────────────────────────────

def _png_chunk(kind, data):
    return (struct.pack('>I', len(data)) + kind + data
            + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))


def write_noise_png(path, size):
    """A valid RGB PNG of random pixels, about `size` bytes, which no compressor can shrink."""
    width = 1000
    row_bytes = width * 3
    height = max(1, size // (row_bytes + 1))
    noise = os.urandom(row_bytes * height)
    # Filter type 0 (None) in front of every scanline.
    raw = b''.join(b'\x00' + noise[y * row_bytes:(y + 1) * row_bytes] for y in range(height))
    compressed = zlib.compress(raw, 1)
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    parts = [b'\x89PNG\r\n\x1a\n', _png_chunk(b'IHDR', ihdr)]
    # Several IDATs, as real encoders write them.
    for i in range(0, len(compressed), 65536):
        parts.append(_png_chunk(b'IDAT', compressed[i:i + 65536]))
    parts.append(_png_chunk(b'IEND', b''))
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


def write_secret(path, text):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text + '\n')
    os.chmod(path, 0o600)


class Attachment:
    def __init__(self, path, name, content_type):
        self.path = path
        self.name = name
        self.content_type = content_type
        with open(path, 'rb') as f:
            data = f.read()
        self.size = len(data)
        self.sha256 = hashlib.sha256(data).hexdigest()


class Case:
    """One message: what dispatch-send is told, and what must come out of the parser."""

    def __init__(self, name, subject, body, from_name='Ann Example', from_addr='ann@example.org',
                 to=(BOB,), cc=(), bcc=(), attachments=(), workdir=None):
        self.name = name
        self.subject = subject
        self.body = body
        self.from_name = from_name
        self.from_addr = from_addr
        self.to = list(to)
        self.cc = list(cc)
        self.bcc = list(bcc)
        self.attachments = list(attachments)
        self.body_file = os.path.join(workdir, 'body-%s.txt' % name)
        # newline='' keeps every CR and LF exactly as written in `body`.
        with open(self.body_file, 'w', encoding='utf-8', newline='') as f:
            f.write(body)

    @property
    def from_header(self):
        return '%s <%s>' % (self.from_name, self.from_addr)

    @property
    def refused(self):
        return [a for a in self.to + self.cc + self.bcc if a == UNKNOWN]

    @property
    def accepted(self):
        return [a for a in self.to + self.cc + self.bcc if a != UNKNOWN]

    @property
    def expected_status(self):
        # 67 (EX_NOUSER): some recipients refused, the others served.
        return 67 if self.refused else 0

    @property
    def expected_text(self):
        # The engine reads CRLF, a lone CR and a lone LF alike as one line break and sends
        # each as CRLF; the parser gives CRLF back as LF.
        return self.body.replace('\r\n', '\n').replace('\r', '\n')

    def args(self):
        args = ['--from', self.from_header]
        for flag, addresses in (('--to', self.to), ('--cc', self.cc), ('--bcc', self.bcc)):
            for a in addresses:
                args += [flag, a]
        args += ['--subject', self.subject, '--body-file', self.body_file]
        for a in self.attachments:
            args += ['--attach', a.path]
        return args


DOTS_BODY = (
    'Hallo Bob,\n'
    '\n'
    '.this line starts with a dot\n'
    '.\n'
    '..\n'
    '...three\n'
    ' . a dot after a space\n'
    # 2,000 characters on one line, non-ASCII included, so that the encoder must wrap it;
    # with a dot every few characters some wrapped lines start with one.
    + ('. Wörter und Punkte ' * 100)[:2000] + '\n'
    'a bare CR follows\rand a bare LF follows\nand a CRLF\r\n'
    '.\r\n'
    'From the beginning of a line (mbox would mangle this)\n'
    '\n'
    '-- \n'
    'Ann\n'
)


def build_cases(workdir, big=True):
    """The message set every server receives. Writes the bodies and pictures into workdir."""
    small_png = os.path.join(workdir, 'Strandfoto – Grüße ✓.png')
    write_noise_png(small_png, 200 * 1000)
    cases = [
        Case('text-only', 'Plain text, nothing attached',
             'Hello Bob,\n\njust text, no attachment.\n\nAnn\n', workdir=workdir),
        Case('utf8', 'Grüße – ünïcødé ✓ test 📮',
             'Grüße aus Köln – ünïcødé ✓, ελληνικά, 日本語, emoji 📮\n',
             from_name='Änn Exämple – Grüße', to=(BOB, CAROL), bcc=(DAVE,),
             attachments=[Attachment(small_png, os.path.basename(small_png), 'image/png')],
             workdir=workdir),
        Case('dots', 'Dots, a long line and bare line ends', DOTS_BODY, workdir=workdir),
        Case('unknown-recipient', 'One of us does not exist',
             'To three people, one of whom the server does not know.\n',
             to=(BOB, UNKNOWN), cc=(CAROL,), bcc=(DAVE,), workdir=workdir),
    ]
    if big:
        big_png = os.path.join(workdir, 'big-picture.png')
        write_noise_png(big_png, BIG_IMAGE_BYTES)
        cases.append(Case('big', 'A 25 MB picture', 'The picture is attached.\n',
                          attachments=[Attachment(big_png, 'big-picture.png', 'image/png')],
                          workdir=workdir))
    return cases


# ─── Running dispatch-send ────────────────────────────────────────────────────────────────

def run_send(dispatch_send, args, timeout=SEND_TIMEOUT):
    """Runs dispatch-send; returns (exit status, stdout, stderr) as text."""
    try:
        p = subprocess.run([dispatch_send] + args, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return (None, (e.stdout or b'').decode('utf-8', 'replace'),
                (e.stderr or b'').decode('utf-8', 'replace')
                + '\n[killed after %ds]' % timeout)
    return (p.returncode, p.stdout.decode('utf-8', 'replace'),
            p.stderr.decode('utf-8', 'replace'))


def describe_run(status, out, err):
    return 'exit status: %r\n--- stdout ---\n%s\n--- stderr ---\n%s' % (status, out[-4000:], err[-8000:])


def secret_forms(password, user=USER):
    """The password as it could leak: raw, and base64 as AUTH PLAIN and LOGIN carry it."""
    pw = password.encode('utf-8')
    return [password,
            base64.b64encode(pw).decode('ascii'),
            base64.b64encode(b'\0' + user.encode() + b'\0' + pw).decode('ascii'),
            base64.b64encode(user.encode() + b'\0' + user.encode() + b'\0' + pw).decode('ascii')]


def leaks(password, *outputs):
    return [form for form in secret_forms(password) for out in outputs if form in out]


def check_send(tap, label, case, status, out, err, extra_diag=''):
    """The exit status and, for a partial refusal, that stderr names who was refused."""
    ok = tap.ok(status == case.expected_status, '%s: exits %d' % (label, case.expected_status),
                describe_run(status, out, err) + extra_diag)
    if case.refused:
        tap.ok(all(a in err for a in case.refused) and '550' in err,
               "%s: stderr names the refused recipient and the server's 550" % label,
               describe_run(status, out, err))
        refused_part = err.partition('Refused:')[2]
        tap.ok(refused_part and not any(a in refused_part for a in case.accepted),
               '%s: no accepted recipient is reported as refused' % label,
               describe_run(status, out, err))
    return ok


# ─── Checking what was delivered ──────────────────────────────────────────────────────────

# Headers the receiving server adds, which may name envelope recipients (Bcc ones included).
TRACE_HEADERS = {'received', 'return-path', 'delivered-to', 'x-original-to', 'envelope-to'}


def all_defects(msg):
    found = []
    for part in msg.walk():
        found += ['%s: %r' % (part.get_content_type(), d) for d in part.defects]
        for name, value in part.items():
            found += ['header %s: %r' % (name, d) for d in getattr(value, 'defects', ())]
    return found


def _specs(header):
    return sorted(a.addr_spec for a in header.addresses) if header is not None else []


def check_message(tap, label, raw, case, expect_no_bcc=True):
    """Parses one message and compares it with the case, field by field, attachments byte for
    byte. Works on the CRLF form (wire, .eml) and the LF form (a Maildir file) alike."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)

    defects = all_defects(msg)
    tap.ok(not defects, '%s: the MIME parser finds no defects' % label, '\n'.join(defects))

    tap.ok(str(msg['Subject']) == case.subject, '%s: Subject decodes to the input' % label,
           'expected %r, got %r, raw %r' % (case.subject, str(msg['Subject']),
                                             msg.get_all('Subject')))

    from_ = msg['From']
    from_ok = (from_ is not None and len(from_.addresses) == 1
               and from_.addresses[0].display_name == case.from_name
               and from_.addresses[0].addr_spec == case.from_addr)
    tap.ok(from_ok, '%s: From is %s' % (label, case.from_header), 'got %r' % (from_,))

    tap.ok(_specs(msg['To']) == sorted(case.to), '%s: To holds %s' % (label, ', '.join(case.to)),
           'got %r' % (msg['To'],))
    if case.cc:
        tap.ok(_specs(msg['Cc']) == sorted(case.cc), '%s: Cc holds %s' % (label, ', '.join(case.cc)),
               'got %r' % (msg['Cc'],))

    if case.bcc and expect_no_bcc:
        ends = [i for i in (raw.find(b'\r\n\r\n'), raw.find(b'\n\n')) if i >= 0]
        body_bytes = raw[min(ends):] if ends else b''
        leaked = [(name, str(value)) for name, value in msg.items()
                  if name.lower() not in TRACE_HEADERS
                  and any(b.lower() in str(value).lower() for b in case.bcc)]
        tap.ok(msg['Bcc'] is None and not leaked
               and not any(b.encode() in body_bytes for b in case.bcc),
               '%s: no Bcc header, the Bcc address in no header field or body' % label,
               'Bcc header %r; fields naming it %r' % (msg['Bcc'], leaked))

    date = msg['Date']
    tap.ok(date is not None and getattr(date, 'datetime', None) is not None,
           '%s: Date present and parsable' % label, 'got %r' % (date,))
    message_id = str(msg['Message-ID'] or '')
    tap.ok(message_id.startswith('<') and message_id.endswith('@%s>' % case.from_addr.split('@')[1]),
           "%s: Message-ID present, on the sender's domain" % label, 'got %r' % message_id)

    body = msg.get_body(preferencelist=('plain',))
    text = body.get_content().replace('\r\n', '\n') if body is not None else None
    if not tap.ok(text == case.expected_text,
                  '%s: body text identical, dots, long line and line ends included' % label):
        tap.diag('expected %r' % case.expected_text[:3000])
        tap.diag('got      %r' % (text[:3000] if text is not None else None))
        if body is not None:
            tap.diag('text part headers: %r' % (body.items(),))

    attachments = list(msg.iter_attachments()) if msg.is_multipart() else []
    if not case.attachments:
        tap.ok(not msg.is_multipart() and msg.get_content_type() == 'text/plain',
               '%s: a single text/plain part, no multipart' % label,
               'got %s' % msg.get_content_type())
        return msg

    tap.ok(len(attachments) == len(case.attachments),
           '%s: exactly %d attachment(s)' % (label, len(case.attachments)),
           'got %r' % [(a.get_content_type(), a.get_filename()) for a in attachments])
    for want, got in zip(case.attachments, attachments):
        tap.ok(got.get_filename() == want.name, '%s: attachment file name %r' % (label, want.name),
               'got %r (Content-Disposition %r)' % (got.get_filename(), got['Content-Disposition']))
        tap.ok(got.get_content_type() == want.content_type,
               '%s: attachment type %s' % (label, want.content_type),
               'got %r' % got.get_content_type())
        data = got.get_content()
        digest = hashlib.sha256(data).hexdigest() if isinstance(data, bytes) else None
        tap.ok(digest == want.sha256,
               '%s: attachment SHA-256 identical to the file (%d bytes)' % (label, want.size),
               'expected %s, got %s (%s bytes)' % (want.sha256, digest,
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


def check_stored_form(tap, label, raw):
    """A Maildir file as Postfix writes it: LF line ends. A CR in it can only be a bare CR
    that came over the wire (bare LFs Postfix itself refuses, smtpd_forbid_bare_newline)."""
    lines = raw.split(b'\n')
    too_long = [i for i, line in enumerate(lines) if len(line) > 998]
    tap.ok(b'\r' not in raw and not too_long,
           '%s: no bare CR arrived, no line over 998 octets' % label,
           'CRs: %d, long lines at %r' % (raw.count(b'\r'), too_long[:5]))


if __name__ == '__main__':
    sys.exit('mailcheck.py is a module for the integration tests, not a program')
