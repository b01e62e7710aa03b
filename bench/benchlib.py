# benchlib.py — what the benchmarks share: test images, timed runs, servers stopped by PID, versions.
# SPDX-License-Identifier: GPL-3.0-or-later

import hashlib
import json
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

FROM = 'ann@example.org'
TO = 'bob@example.net'
SUBJECT = 'Dispatch benchmark'
BODY = 'Hello Bob,\n\nthis message was sent by the Dispatch benchmark.\n\n-- \nAnn\n'


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ─── Test images ────────────────────────────────────────────────────────────────────────────

PNG_WIDTH = 2048          # pixels, RGB: 6144 bytes of noise and one filter byte per row


def _png_chunk(kind, data):
    body = kind + data
    return struct.pack('>I', len(data)) + body + struct.pack('>I', zlib.crc32(body) & 0xffffffff)


def write_noise_png(path, approx_bytes, seed):
    """Writes a valid RGB PNG of pseudo-random noise, about approx_bytes long, the same bytes on
    every machine: SHAKE-256 of the seed and a block counter (its output is fixed by FIPS 202),
    stored with zlib level 0 because noise does not compress and a photo-sized attachment is
    what we want to move. Streams in 1 MiB pieces so making 100 MB needs little memory."""
    row = PNG_WIDTH * 3
    height = max(1, approx_bytes // (row + 1))
    compressor = zlib.compressobj(level=0)
    tmp = path + '.part'
    with open(tmp, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n')
        f.write(_png_chunk(b'IHDR', struct.pack('>IIBBBBB', PNG_WIDTH, height, 8, 2, 0, 0, 0)))
        rows_per_block = max(1, (1 << 20) // (row + 1))
        block = 0
        for first in range(0, height, rows_per_block):
            n = min(rows_per_block, height - first)
            noise = hashlib.shake_256(seed.encode() + struct.pack('>Q', block)).digest(n * row)
            block += 1
            raw = b''.join(b'\x00' + noise[i * row:(i + 1) * row] for i in range(n))
            data = compressor.compress(raw)
            if data:
                f.write(_png_chunk(b'IDAT', data))
        data = compressor.flush()
        if data:
            f.write(_png_chunk(b'IDAT', data))
        f.write(_png_chunk(b'IEND', b''))
    os.replace(tmp, path)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for piece in iter(lambda: f.read(1 << 20), b''):
            digest.update(piece)
    return digest.hexdigest()


def ensure_image(directory, name, approx_bytes):
    """The named image, made once and kept: its name carries size and seed, so a cached file
    is always the one this code would make."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        log(f'making {path}')
        write_noise_png(path, approx_bytes, seed=name)
    return path


# ─── Processes ──────────────────────────────────────────────────────────────────────────────

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f'nothing listens on 127.0.0.1:{port} after {timeout} s')


def stop(process, timeout=10):
    """Stops one process we started, by its PID only."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


_MAXRSS = re.compile(r'Maximum resident set size \(kbytes\): (\d+)')
_CPU = re.compile(r'(?:User|System) time \(seconds\): ([0-9.]+)')


def timed_run(argv, stdin_path=None, env=None, timeout=600):
    """Runs argv under GNU time -v. Wall time is ours (perf_counter, finer than time's 10 ms);
    peak RSS is the kernel's ru_maxrss as time reports it."""
    with tempfile.NamedTemporaryFile('r', suffix='.time') as report:
        stdin = open(stdin_path, 'rb') if stdin_path else subprocess.DEVNULL
        try:
            start = time.perf_counter()
            done = subprocess.run(['/usr/bin/time', '-v', '-o', report.name] + argv,
                                  stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env, timeout=timeout)
            wall = time.perf_counter() - start
        finally:
            if stdin_path:
                stdin.close()
        text = report.read()
    match = _MAXRSS.search(text)
    return {
        'returncode': done.returncode,
        'wall_s': wall,
        'maxrss_kb': int(match.group(1)) if match else None,
        # CPU time of the client (and any child it waited for): far less disturbed by other
        # work on the machine than wall time.
        'cpu_s': sum(float(t) for t in _CPU.findall(text)) if _CPU.search(text) else None,
        'stdout': done.stdout.decode('utf-8', 'replace')[-2000:],
        'stderr': done.stderr.decode('utf-8', 'replace')[-4000:],
    }


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ─── What was measured with what ────────────────────────────────────────────────────────────

def _first_line(argv):
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
        text = out.stdout.decode('utf-8', 'replace').strip()
        return text.splitlines()[0] if text else '?'
    except (OSError, subprocess.TimeoutExpired):
        return 'not installed'


def versions(dispatch_send):
    curl = _first_line(['curl', '--version']).split()
    return {
        'dispatch-send': _first_line([dispatch_send, '--version']),
        'msmtp': _first_line(['msmtp', '--version']),
        # The name, the version and the TLS library; the rest of the line lists features.
        'curl': ' '.join(curl[:2] + [w for w in curl if w.startswith(('OpenSSL/', 'GnuTLS/'))]),
        'swaks': _first_line(['swaks', '--version']),
        's-nail': _first_line(['s-nail', '-V']),
        'python3': _first_line([sys.executable, '--version']),
        'postfix': _first_line(['postconf', '-d', '-h', 'mail_version']),
    }


def write_json(path, data):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write('\n')
