#!/usr/bin/python3
# large.py — large attachments to Postfix's smtp-sink on loopback: wall time and peak RSS per client.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: large.py --dispatch-send PATH --data DIR --out FILE.json [--runs N] [--sizes 25,100]
#
# Every client builds its own MIME message from the same noise PNG (dispatch-send --attach,
# s-nail -a, swaks --attach, curl -F, smtplib + email), sends it to smtp-sink without TLS or
# AUTH, and runs under GNU time for its peak RSS. msmtp cannot build MIME: it sends a message
# dispatch-send wrote beforehand (--output), as a transport-only reference outside the ranking.
#
# Before anything is timed, each client sends a 1 MB image to a second smtp-sink that keeps what
# it receives, and Python's email parser must find the image's exact bytes in it: a client whose
# command line does not really attach the file would otherwise win every race.
#
# Runs are interleaved (run 1 of every client, then run 2, …) with the order rotated each time,
# so slow drifts of a shared machine spread over all clients instead of hitting one.

import argparse
import email
import email.policy
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import BODY, FROM, SUBJECT, TO, log

SINK_BACKLOG = '16'


def clients(dispatch_send, port, image, prebuilt):
    """name → (argv, stdin file or None, builds its own MIME)."""
    server = f'127.0.0.1:{port}'
    return {
        'dispatch-send': ([dispatch_send, '--server', server, '--security', 'none', '--from', FROM,
                           '--to', TO, '--subject', SUBJECT, '--body', BODY, '--attach', image,
                           '--quiet', '--timeout', '300'], None, True),
        's-nail': (['s-nail', '-:/', '-Sv15-compat', '-Ssmtp-auth=none', '-Sttycharset=utf-8', '-Ssendcharsets=utf-8',
                    f'-Smta=smtp://{server}', '-Ssmtp-hostname=localhost', '-r', FROM,
                    '-s', SUBJECT, '-a', image, TO], 'BODY', True),
        'swaks': (['swaks', '--server', server, '--from', FROM, '--to', TO, '--header',
                   f'Subject: {SUBJECT}', '--body', BODY, '--attach-type', 'image/png',
                   '--attach', '@' + image, '--silent', '2', '--timeout', '300'], None, True),
        'curl': (['curl', '-sS', '--max-time', '300', f'smtp://{server}', '--mail-from', FROM,
                  '--mail-rcpt', TO, '-H', f'Subject: {SUBJECT}', '-H', f'From: {FROM}',
                  '-H', f'To: {TO}', '-F', f'={BODY};type=text/plain; charset=utf-8',
                  '-F', f'=@{image};type=image/png;encoder=base64'], None, True),
        'python smtplib+email': ([sys.executable, os.path.join(benchlib.HERE, 'smtplib-send.py'),
                                  '--port', str(port), '--from', FROM, '--to', TO,
                                  '--subject', SUBJECT, '--body', BODY, '--attach', image], None, True),
        'msmtp (prebuilt message)': (['msmtp', '--host=127.0.0.1', f'--port={port}', '--tls=off',
                                      '--auth=off', f'--from={FROM}', TO], prebuilt, False),
    }


def start_sink(port, dump_dir=None):
    argv = ['smtp-sink', '-u', 'nobody']
    if dump_dir:
        argv += ['-d', os.path.join(dump_dir, 'm.')]
    argv += [f'127.0.0.1:{port}', SINK_BACKLOG]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    benchlib.wait_for_port(port)
    return process


def process_cpu_s(pid):
    """User + system CPU a running process has used so far, from /proc."""
    with open(f'/proc/{pid}/stat', encoding='ascii') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def prebuild(dispatch_send, image, path):
    done = subprocess.run([dispatch_send, '--from', FROM, '--to', TO, '--subject', SUBJECT,
                           '--body', BODY, '--attach', image, '--output', path],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise RuntimeError('dispatch-send --output failed: ' + done.stderr.decode())


def validate(dispatch_send, data_dir, work):
    """Sends the 1 MB image with every client; returns name → problem (None when the bytes
    arrived intact)."""
    image = benchlib.ensure_image(data_dir, 'noise-1mb.png', 1_000_000)
    with open(image, 'rb') as f:
        expected = f.read()
    prebuilt = os.path.join(work, 'prebuilt-1mb.eml')
    prebuild(dispatch_send, image, prebuilt)

    dump_dir = tempfile.mkdtemp(prefix='sink-', dir=work)
    os.chmod(dump_dir, 0o777)      # smtp-sink writes as nobody
    port = benchlib.free_port()
    sink = start_sink(port, dump_dir)
    problems = {}
    try:
        for name, (argv, stdin, _) in clients(dispatch_send, port, image, prebuilt).items():
            for old in glob.glob(os.path.join(dump_dir, 'm.*')):
                os.unlink(old)
            stdin_path = _stdin(stdin, work)
            done = benchlib.timed_run(argv, stdin_path)
            if done['returncode'] != 0:
                problems[name] = f'exit {done["returncode"]}: {done["stderr"].strip()[-300:]}'
                continue
            problems[name] = _check_dump(dump_dir, expected)
    finally:
        benchlib.stop(sink)
        shutil.rmtree(dump_dir, ignore_errors=True)
    return problems


def _check_dump(dump_dir, expected):
    # smtp-sink closes the dump file when the transaction ends, shortly after the client.
    deadline = time.monotonic() + 5
    while True:
        dumps = glob.glob(os.path.join(dump_dir, 'm.*'))
        if dumps or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if len(dumps) != 1:
        return f'{len(dumps)} messages received instead of 1'
    with open(dumps[0], 'rb') as f:
        message = email.message_from_binary_file(f, policy=email.policy.default)
    for part in message.walk():
        if part.get_content_maintype() != 'multipart' and part.get_payload(decode=True) == expected:
            return None
    return 'the image bytes were not found in the received message'


def _stdin(stdin, work):
    if stdin != 'BODY':
        return stdin
    path = os.path.join(work, 'body.txt')
    if not os.path.exists(path):
        with open(path, 'w', encoding='utf-8') as f:
            f.write(BODY)
    return path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--dispatch-send', required=True)
    parser.add_argument('--data', required=True, help='directory for the test images (kept)')
    parser.add_argument('--out', required=True)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--sizes', default='25,100', help='attachment sizes in MB (10^6 bytes)')
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix='dispatch-bench-large-')
    os.chmod(work, 0o711)          # smtp-sink, running as nobody, dumps below it
    try:
        problems = validate(args.dispatch_send, args.data, work)
        for name, problem in problems.items():
            log(f'validation {name}: {problem or "ok"}')

        results = {'runs': args.runs, 'sizes': [], 'validation': problems}
        for mb in [int(s) for s in args.sizes.split(',')]:
            image = benchlib.ensure_image(args.data, f'noise-{mb}mb.png', mb * 1_000_000)
            prebuilt = os.path.join(work, f'prebuilt-{mb}mb.eml')
            prebuild(args.dispatch_send, image, prebuilt)
            port = benchlib.free_port()
            sink = start_sink(port)
            table = clients(args.dispatch_send, port, image, prebuilt)
            names = list(table)
            samples = {name: [] for name in names}
            try:
                for run in range(args.runs):
                    order = names[run % len(names):] + names[:run % len(names)]
                    for name in order:
                        argv, stdin, _ = table[name]
                        if problems.get(name):
                            continue
                        sink_before = process_cpu_s(sink.pid)
                        done = benchlib.timed_run(argv, _stdin(stdin, work))
                        # The client exits after the final reply, so the sink has read it all.
                        done['sink_cpu_s'] = process_cpu_s(sink.pid) - sink_before
                        log(f'{mb} MB run {run + 1} {name}: {done["wall_s"]:.3f} s, '
                            f'{done["maxrss_kb"]} kB, exit {done["returncode"]}')
                        samples[name].append({k: done[k] for k in ('returncode', 'wall_s', 'maxrss_kb', 'cpu_s',
                                                                   'sink_cpu_s')}
                                             | ({'stderr': done['stderr']} if done['returncode'] else {}))
            finally:
                benchlib.stop(sink)
            results['sizes'].append({
                'mb': mb,
                'image': os.path.basename(image),
                'image_bytes': os.path.getsize(image),
                'image_sha256': benchlib.sha256_file(image),
                'message_bytes': os.path.getsize(prebuilt),
                'clients': [{
                    'name': name,
                    'builds_mime': table[name][2],
                    'argv': [a if a != BODY else '<body>' for a in table[name][0]],
                    'samples': samples[name],
                    'ok_runs': sum(1 for s in samples[name] if s['returncode'] == 0),
                    'median_wall_s': benchlib.median([s['wall_s'] for s in samples[name]
                                                      if s['returncode'] == 0]),
                    'median_maxrss_kb': benchlib.median([s['maxrss_kb'] for s in samples[name]
                                                         if s['returncode'] == 0]),
                    'median_cpu_s': benchlib.median([s['cpu_s'] for s in samples[name]
                                                     if s['returncode'] == 0]),
                    'median_sink_cpu_s': benchlib.median([s['sink_cpu_s'] for s in samples[name]
                                                          if s['returncode'] == 0]),
                    'max_maxrss_kb': max([s['maxrss_kb'] for s in samples[name] if s['returncode'] == 0],
                                         default=None),
                } for name in names],
            })
        benchlib.write_json(args.out, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
