#!/usr/bin/python3
# smtp-server.py — a real SMTP server (aiosmtpd) that files what it receives in a Maildir, for tests and demos.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The point of this server is that none of its SMTP code is ours: aiosmtpd speaks the protocol,
# this file only wires options to it and stores the result, so a test that passes against it
# shows that Dispatch interoperates with someone else's reading of RFC 5321/3207/4954.
#
# Debian ships aiosmtpd for /usr/bin/python3 only, hence the absolute shebang.

import argparse
import asyncio
import hmac
import json
import logging
import mailbox
import os
import signal
import ssl
import sys
import warnings

from aiosmtpd.controller import UnthreadedController
from aiosmtpd.smtp import AuthResult, LoginPassword


def read_first_line(path):
    # Same convention as dispatch-send --password-file: the first line, without its line ending,
    # so that a file written by `echo` works on both sides.
    with open(path, 'rb') as f:
        return f.readline().rstrip(b'\r\n')


class SingleUserAuthenticator:
    """Accepts exactly one login/password pair, for AUTH PLAIN and LOGIN."""

    def __init__(self, user, password):
        self._user = user
        self._password = password

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        # Both comparisons run every time so a wrong user and a wrong password take equally long.
        user_ok = hmac.compare_digest(auth_data.login, self._user)
        password_ok = hmac.compare_digest(auth_data.password, self._password)
        # handled=False lets aiosmtpd send its own 535 reply, which is what the client must show.
        return AuthResult(success=user_ok and password_ok, handled=False,
                          auth_data=auth_data.login if user_ok and password_ok else None)


class MaildirHandler:
    """Stores each message byte for byte and logs its envelope."""

    def __init__(self, maildir, envelope_log, known_recipients=None):
        self._maildir = mailbox.Maildir(maildir, factory=None, create=True) if maildir else None
        self._envelope_log = envelope_log
        self._known = ({a.lower() for a in known_recipients}
                       if known_recipients else None)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # Like a real mailbox server, refuse addresses it has no mailbox for, so that a
        # partly refused envelope can be tested; aiosmtpd itself accepts everyone.
        if self._known is not None and address.lower() not in self._known:
            return '550 5.1.1 <%s>: Recipient address rejected: User unknown' % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        # original_content is what came off the wire after dot-unstuffing, before any decoding;
        # re-serialising a parsed message would hide exactly the bugs the tests look for.
        data = envelope.original_content
        key = None
        if self._maildir is not None:
            # For bytes, mailbox only maps b'\n' to os.linesep (b'\n' here), so CRLFs survive.
            key = self._maildir.add(data)
        if self._envelope_log:
            record = {
                'mail_from': envelope.mail_from,
                'rcpt_tos': list(envelope.rcpt_tos),
                'mail_options': list(envelope.mail_options),
                'rcpt_options': list(envelope.rcpt_options),
                'size': len(data),
                'maildir_key': key,
                'auth_user': (session.auth_data.decode('utf-8', 'replace')
                              if isinstance(session.auth_data, bytes) else None),
                # session.ssl is only filled in by STARTTLS; the transport knows either way.
                'tls': server.transport.get_extra_info('ssl_object') is not None,
            }
            # One write per line, flushed at once, so a reader polling the file never sees half.
            with open(self._envelope_log, 'a', encoding='utf-8') as log:
                log.write(json.dumps(record, ensure_ascii=False) + '\n')
        return '250 2.0.0 OK: message stored'


class _DropNotices(logging.Filter):
    """Drops aiosmtpd log lines that say nothing about the client and only clutter test logs."""

    def __init__(self, texts):
        super().__init__()
        self._texts = texts

    def filter(self, record):
        message = record.getMessage()
        return not any(text in message for text in self._texts)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description='Run an aiosmtpd SMTP server that stores messages in a Maildir.')
    p.add_argument('--host', default='127.0.0.1', help='address to listen on (default 127.0.0.1)')
    p.add_argument('--port', type=int, default=0, help='port to listen on; 0 picks a free one')
    p.add_argument('--hostname', default='localhost',
                   help='name used in the greeting; fixed so start-up never waits on DNS')
    p.add_argument('--maildir', help='store each message as a file in this Maildir')
    p.add_argument('--tls-cert', help='PEM certificate chain; enables STARTTLS')
    p.add_argument('--tls-key', help='PEM private key for --tls-cert')
    p.add_argument('--require-starttls', action='store_true',
                   help='refuse MAIL, AUTH and the rest until STARTTLS has been done')
    p.add_argument('--tls-implicit', action='store_true',
                   help='the whole listener speaks TLS (like port 465) instead of STARTTLS')
    p.add_argument('--auth-user', help='enable AUTH PLAIN/LOGIN for this user and require it')
    p.add_argument('--auth-password-file', help='file whose first line is the password')
    p.add_argument('--auth-allow-plaintext', action='store_true',
                   help='offer AUTH on a connection that is not encrypted')
    p.add_argument('--ready-file', help='write the bound port here once listening')
    p.add_argument('--envelope-log', help='append one JSON line per message received')
    p.add_argument('--max-size', type=int, default=32 * 1024 * 1024,
                   help='largest message accepted, in bytes (SIZE)')
    p.add_argument('--no-smtputf8', action='store_true',
                   help='do not offer SMTPUTF8 (RFC 6531)')
    p.add_argument('--known-recipient', action='append', metavar='ADDRESS',
                   help='accept RCPT only for these addresses (repeat); default: everyone')
    args = p.parse_args(argv)

    if bool(args.tls_cert) != bool(args.tls_key):
        p.error('--tls-cert and --tls-key go together')
    if (args.require_starttls or args.tls_implicit) and not args.tls_cert:
        p.error('--require-starttls and --tls-implicit need --tls-cert and --tls-key')
    if args.require_starttls and args.tls_implicit:
        p.error('--require-starttls makes no sense with --tls-implicit')
    if bool(args.auth_user) != bool(args.auth_password_file):
        p.error('--auth-user and --auth-password-file go together')
    return args


def write_ready_file(path, port):
    # Written to a temporary name and renamed, so a poller sees either nothing or the whole port.
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='ascii') as f:
        f.write('%d\n' % port)
    os.replace(tmp, path)


def main(argv):
    args = parse_args(argv)
    # aiosmtpd 1.4 warns about its own deprecated Session.login_data on every successful AUTH.
    notices = ['login_data is deprecated']
    if args.tls_implicit:
        # Its "AUTH without TLS" warning is a false alarm when the listener itself is TLS.
        notices.append('auth_require_tls == False')
        warnings.filterwarnings('ignore', message='Requiring AUTH while not requiring TLS')
    logging.getLogger('mail.log').addFilter(_DropNotices(notices))

    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)

    smtp_kwargs = {
        'data_size_limit': args.max_size,
        'enable_SMTPUTF8': not args.no_smtputf8,
        'require_starttls': args.require_starttls,
    }
    if tls is not None and not args.tls_implicit:
        smtp_kwargs['tls_context'] = tls

    if args.auth_user:
        smtp_kwargs['authenticator'] = SingleUserAuthenticator(
            args.auth_user.encode('utf-8'), read_first_line(args.auth_password_file))
        smtp_kwargs['auth_required'] = True
        # aiosmtpd only counts a STARTTLS upgrade as "TLS"; on an implicit-TLS listener the
        # connection is already encrypted, so its plaintext guard must be lifted there.
        smtp_kwargs['auth_require_tls'] = not (args.auth_allow_plaintext or args.tls_implicit)
    else:
        smtp_kwargs['auth_require_tls'] = not args.auth_allow_plaintext

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = MaildirHandler(args.maildir, args.envelope_log, args.known_recipient)
    # The unthreaded controller binds inside begin() and lets us read the real port back; the
    # threaded one would try to connect to port 0 to "trigger" the server.
    controller = UnthreadedController(
        handler, hostname=args.host, port=args.port, loop=loop,
        ssl_context=tls if args.tls_implicit else None,
        server_hostname=args.hostname, **smtp_kwargs)
    controller.begin()
    port = controller.server.sockets[0].getsockname()[1]

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, loop.stop)

    print('smtp-server.py: listening on %s:%d%s' % (
        args.host, port,
        ' (implicit TLS)' if args.tls_implicit else ' (STARTTLS)' if tls else ''),
        file=sys.stderr, flush=True)
    if args.ready_file:
        write_ready_file(args.ready_file, port)

    try:
        loop.run_forever()
    finally:
        controller.end()
        loop.close()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
