#!/usr/bin/python3
# smtplib-send.py — the benchmark's Python client: the standard library's smtplib and email, used the usual way.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: smtplib-send.py --port N [--starttls --cafile PEM --user U --password-file F]
#                        --from A --to B --subject S --body TEXT [--attach FILE…]
#
# Written as the library's documentation shows it: an EmailMessage, add_attachment() with the
# file's bytes, SMTP.send_message(). Nothing is tuned, so what it costs is what a script costs.

import argparse
import mimetypes
import os
import smtplib
import ssl
from email.message import EmailMessage


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--starttls', action='store_true')
    parser.add_argument('--cafile')
    parser.add_argument('--user')
    parser.add_argument('--password-file')
    parser.add_argument('--from', dest='sender', required=True)
    parser.add_argument('--to', required=True)
    parser.add_argument('--subject', default='')
    parser.add_argument('--body', default='')
    parser.add_argument('--attach', action='append', default=[])
    args = parser.parse_args()

    message = EmailMessage()
    message['From'] = args.sender
    message['To'] = args.to
    message['Subject'] = args.subject
    message.set_content(args.body)
    for path in args.attach:
        kind, _ = mimetypes.guess_type(path)
        maintype, subtype = (kind or 'application/octet-stream').split('/', 1)
        with open(path, 'rb') as f:
            message.add_attachment(f.read(), maintype=maintype, subtype=subtype,
                                   filename=os.path.basename(path))

    with smtplib.SMTP(args.host, args.port, timeout=120) as smtp:
        if args.starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=args.cafile))
        if args.user:
            with open(args.password_file, encoding='utf-8') as f:
                smtp.login(args.user, f.readline().rstrip('\r\n'))
        smtp.send_message(message)


if __name__ == '__main__':
    main()
