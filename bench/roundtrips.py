#!/usr/bin/python3
# roundtrips.py — a small message over STARTTLS + AUTH through a 50 ms round-trip link: wall time and waits per client.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: roundtrips.py --dispatch-send PATH --out FILE.json [--runs N] [--delay-ms 25]
#
# Starts a private Postfix + Dovecot (tests/postfix-instance.py: STARTTLS required, AUTH PLAIN
# and LOGIN, PIPELINING, CHUNKING) and latency-proxy.py in front of its submission port, then
# sends the same short text message with each client, one at a time, runs interleaved with the
# order rotated. Every client checks the server's certificate against the test CA, signs in,
# and must exit 0; the proxy's record of the connection gives the round trips it waited for.
#
# Each client gets the options its documentation offers for fewer round trips (msmtp pipelines
# by itself; swaks --pipeline; curl --sasl-ir) so that Dispatch is compared with their best.

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import BODY, FROM, SUBJECT, TO, log

POSTFIX_INSTANCE = os.path.join(benchlib.ROOT, 'tests', 'postfix-instance.py')
PROXY = os.path.join(benchlib.HERE, 'latency-proxy.py')
CA = os.path.join(benchlib.ROOT, 'tests', 'files', 'ca.pem')
EXIT_MISSING = 77


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
        f.write(text)
    return path


def clients(dispatch_send, port, user, password, work):
    """name → (argv, stdin file or None, options worth naming in the table)."""
    password_file = write_private(os.path.join(work, 'password'), password + '\n')
    netrc = write_private(os.path.join(work, 'netrc'),
                          f'machine 127.0.0.1 login {user} password {password}\n')
    msmtprc = write_private(os.path.join(work, 'msmtprc'), '')
    message = os.path.join(work, 'message.eml')
    with open(message, 'w', encoding='ascii', newline='') as f:
        # CRLF already: curl sends the file as it is, and Postfix refuses bare LF.
        f.write(f'From: {FROM}\r\nTo: {TO}\r\nSubject: {SUBJECT}\r\n\r\n'
                + BODY.replace('\n', '\r\n'))
    body = os.path.join(work, 'body.txt')
    with open(body, 'w', encoding='utf-8') as f:
        f.write(BODY)
    server = f'127.0.0.1:{port}'
    return {
        'dispatch-send': ([dispatch_send, '--server', server, '--user', user,
                           '--password-file', password_file, '--ca-file', CA, '--from', FROM,
                           '--to', TO, '--subject', SUBJECT, '--body', BODY, '--quiet'], None, ''),
        'msmtp': (['msmtp', f'--file={msmtprc}', '--host=127.0.0.1', f'--port={port}', '--tls=on',
                   '--tls-starttls=on', f'--tls-trust-file={CA}', '--auth=plain', f'--user={user}',
                   f'--passwordeval=cat {password_file}', f'--from={FROM}', TO], message, ''),
        'curl': (['curl', '-sS', '--sasl-ir', '--ssl-reqd', '--cacert', CA, '--netrc-file', netrc,
                  f'smtp://{server}/localhost', '--mail-from', FROM, '--mail-rcpt', TO,
                  '--upload-file', message], None, '--sasl-ir'),
        'swaks': (['swaks', '--silent', '2', '--pipeline', '--server', server, '--tls',
                   '--tls-verify', '--tls-ca-path', CA, '--auth', 'PLAIN', '--auth-user', user,
                   f'--auth-password={password}', '--from', FROM, '--to', TO,
                   '--header', f'Subject: {SUBJECT}', '--body', BODY], None, '--pipeline'),
        # s-nail does not match 127.0.0.1 against the certificate's IP entry: it connects as localhost.
        's-nail': (['s-nail', '-:/', '-Sv15-compat', f'-Smta=smtp://{user}@localhost:{port}',
                    '-Ssmtp-use-starttls', f'-Stls-ca-file={CA}', '-Stls-ca-no-defaults',
                    '-Ssmtp-auth=plain', f'-Spassword={password}', '-Sttycharset=utf-8',
                    '-r', FROM, '-s', SUBJECT, TO], body, ''),
        'python smtplib': ([sys.executable, os.path.join(benchlib.HERE, 'smtplib-send.py'),
                            '--port', str(port), '--starttls', '--cafile', CA, '--user', user,
                            '--password-file', password_file, '--from', FROM, '--to', TO,
                            '--subject', SUBJECT, '--body', BODY], None, ''),
    }


def shown_argv(argv, password):
    return ['<password>' if a == password else
            a.replace(password, '<password>') if password in a else
            '<body>' if a == BODY else a for a in argv]


class ProxyLog:
    """Reads the connection records the proxy appends, one per finished connection."""

    def __init__(self, path):
        self.path = path
        self.seen = 0

    def next_records(self, want=1, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            with open(self.path, encoding='utf-8') as f:
                lines = f.readlines()
            if len(lines) - self.seen >= want or time.monotonic() > deadline:
                records = [json.loads(l) for l in lines[self.seen:]]
                self.seen = len(lines)
                return records
            time.sleep(0.02)


def transcript_flights(transcript):
    """Dispatch's own transcript, cut where it waited: each group of client lines and the
    server lines that answered it."""
    flights = []
    for line in transcript.splitlines():
        side, _, text = line.partition(': ')
        if side not in ('C', 'S'):
            continue
        if side == 'C' and (not flights or flights[-1]['server']):
            flights.append({'client': [], 'server': []})
        if flights:
            flights[-1]['client' if side == 'C' else 'server'].append(text)
    return flights


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--dispatch-send', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--runs', type=int, default=7)
    parser.add_argument('--delay-ms', type=float, default=25.0)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix='dispatch-bench-rt-')
    os.chmod(work, 0o711)          # Postfix and Dovecot run as their own users below it
    instance_dir = os.path.join(work, 'postfix')
    proxy = None
    started = False
    try:
        start = subprocess.run([sys.executable, POSTFIX_INSTANCE, 'start', instance_dir],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        if start.returncode != 0:
            reason = start.stderr.decode('utf-8', 'replace').strip().splitlines()
            benchlib.write_json(args.out, {'skipped': 'private Postfix did not start: '
                                           + (reason[-1] if reason else f'exit {start.returncode}')})
            return 0 if start.returncode == EXIT_MISSING else 1
        started = True
        instance = json.loads(start.stdout)
        with open(instance['password_file'], encoding='utf-8') as f:
            password = f.readline().rstrip('\r\n')

        proxy_log = os.path.join(work, 'proxy.jsonl')
        open(proxy_log, 'w').close()
        proxy = subprocess.Popen([sys.executable, PROXY, '--target', f'127.0.0.1:{instance["submission"]}',
                                  '--delay-ms', str(args.delay_ms), '--log', proxy_log],
                                 stdout=subprocess.PIPE)
        port = json.loads(proxy.stdout.readline())['port']
        records = ProxyLog(proxy_log)

        table = clients(args.dispatch_send, port, instance['user'], password, work)
        names = list(table)
        samples = {name: [] for name in names}
        turn_logs = {}
        for run in range(args.runs):
            order = names[run % len(names):] + names[:run % len(names)]
            for name in order:
                argv, stdin, _ = table[name]
                done = benchlib.timed_run(argv, stdin, timeout=120)
                found = records.next_records()
                record = found[-1] if len(found) == 1 else None
                sample = {'returncode': done['returncode'], 'wall_s': done['wall_s'],
                          'maxrss_kb': done['maxrss_kb'],
                          'turns': record['turns'] if record else None,
                          'greeting_turn': record['greeting_turn'] if record else None}
                if done['returncode'] != 0 or record is None:
                    sample['problem'] = (done['stderr'].replace(password, '<password>')[-600:]
                                         if done['returncode'] else f'{len(found)} connections seen')
                samples[name].append(sample)
                turn_logs.setdefault(name, record)
                log(f'run {run + 1} {name}: {done["wall_s"] * 1000:.0f} ms, '
                    f'{sample["turns"]} round trips, exit {done["returncode"]}')

        # One more Dispatch send, untimed, for its transcript: which wait was for what.
        argv = [a for a in table['dispatch-send'][0] if a != '--quiet'] + ['--transcript']
        shown = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        transcript = shown.stderr.decode('utf-8', 'replace').replace(password, '<password>')
        records.next_records()

        benchlib.write_json(args.out, {
            'runs': args.runs,
            'delay_ms_each_way': args.delay_ms,
            'server': 'Postfix ' + benchlib.versions(args.dispatch_send)['postfix']
                      + ' + Dovecot SASL (tests/postfix-instance.py), submission port with STARTTLS',
            'clients': [{
                'name': name,
                'options': table[name][2],
                'argv': shown_argv(table[name][0], password),
                'samples': samples[name],
                'ok_runs': sum(1 for s in samples[name] if s['returncode'] == 0 and s['turns'] is not None),
                'median_wall_s': benchlib.median([s['wall_s'] for s in samples[name] if s['returncode'] == 0]),
                'median_maxrss_kb': benchlib.median([s['maxrss_kb'] for s in samples[name] if s['returncode'] == 0]),
                'turns': sorted({s['turns'] for s in samples[name] if s['turns'] is not None}),
                'median_turns': benchlib.median([s['turns'] for s in samples[name] if s['returncode'] == 0]),
                'turn_log': turn_logs.get(name),
            } for name in names],
            'dispatch_transcript': transcript,
            'dispatch_flights': transcript_flights(transcript),
        })
        return 0
    finally:
        benchlib.stop(proxy)
        if started:
            subprocess.run([sys.executable, POSTFIX_INSTANCE, 'stop', instance_dir],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
