#!/usr/bin/python3
# gui.py — the window: Dispatch sends a 100 MB attachment from its real window under Xvfb; main-loop stalls, launch to first frame.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: gui.py --bench PATH --schemas DIR --data DIR --out FILE.json [--runs 3] [--mb 100]
#
# PATH is bench-gui-stall (bench/gui-stall.c): the application itself, in-process, started as
# `dispatch --attach IMAGE mailto:…` would start it, pressing Send once its window has drawn and
# settled. It measures from inside: launch to first frame, and every gap in the main loop while
# the message goes to Postfix's smtp-sink on loopback (no TLS, no AUTH). See gui-stall.c for how.
#
# Each run gets its own X server (xvfb-run -a, 1600×1200×24) and D-Bus session bus
# (dbus-run-session), as a desktop session would provide: the application registers its name
# and GTK finds the accessibility bus there. GSK_RENDERER=cairo draws in software, the same on
# every machine with or without a GPU; settings stay in memory (GSETTINGS_BACKEND=memory) with
# the build's compiled schema. Runs are sequential; medians are reported.

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

import benchlib
from benchlib import log
from large import start_sink

SCREEN = '1600x1200x24'
RENDERER = 'cairo'
TIMEOUT_S = 600

# The figures report.py shows, each the median over the runs that sent the message.
MEDIANS = {
    'max_stall_ms': ('send', 'max_stall_ms'),
    'max_stall_cpu_ms': ('send', 'max_stall_cpu_ms'),
    'p99_stall_ms': ('send', 'p99_stall_ms'),
    'stalls_over_16ms': ('send', 'stalls_over_16ms'),
    'frame_max_ms': ('send', 'frame_max_ms'),
    'frame_work_max_ms': ('send', 'frame_work_max_ms'),
    'frame_work_p50_ms': ('send', 'frame_work_p50_ms'),
    'max_cpu_outside_frames_ms': ('send', 'max_cpu_outside_frames_ms'),
    'settle_max_stall_ms': ('settle', 'max_stall_ms'),
    'send_s': (None, 'send_s'),
    'start_to_first_frame_ms': (None, 'start_to_first_frame_ms'),
    'main_to_first_frame_ms': (None, 'main_to_first_frame_ms'),
    'main_to_window_ms': (None, 'main_to_window_ms'),
}


def environment(schemas):
    env = dict(os.environ)
    # A Wayland or X display of the caller's, or its session bus, must not leak in.
    for name in ('DISPLAY', 'WAYLAND_DISPLAY', 'DBUS_SESSION_BUS_ADDRESS', 'GTK_A11Y', 'GSK_RENDERER',
                 'GDK_DEBUG', 'GTK_DEBUG', 'G_DEBUG', 'G_MESSAGES_DEBUG', 'GTK_THEME'):
        env.pop(name, None)
    env.update({
        'GSETTINGS_SCHEMA_DIR': schemas,
        'GSETTINGS_BACKEND': 'memory',
        'GSK_RENDERER': RENDERER,
        'GDK_BACKEND': 'x11',
        'GIO_USE_VFS': 'local',
        'LC_ALL': 'C.UTF-8',
    })
    return env


def run_once(bench, image, port, env):
    argv = ['dbus-run-session', '--', 'xvfb-run', '-a', '-s', f'-screen 0 {SCREEN}',
            bench, '--port', str(port), '--image', image]
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, timeout=TIMEOUT_S)
    stdout = done.stdout.decode('utf-8', 'replace')
    stderr = done.stderr.decode('utf-8', 'replace')
    line = next((l for l in stdout.splitlines() if l.startswith('{')), None)
    sample = {'returncode': done.returncode}
    if line is not None:
        sample['result'] = json.loads(line)
    if done.returncode != 0 or line is None:
        sample['stderr'] = stderr[-4000:]
    return sample


def load_average():
    with open('/proc/loadavg', encoding='ascii') as f:
        return ' '.join(f.read().split()[:3])


def git(*args):
    # --no-optional-locks: reading the state must not rewrite the index.
    done = subprocess.run(['git', '--no-optional-locks', '-C', benchlib.ROOT, *args],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return done.stdout.decode().strip() if done.returncode == 0 else ''


def pick(result, where, key):
    return result.get(key) if where is None else result.get(where, {}).get(key)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--bench', required=True, help='bench-gui-stall from the build')
    parser.add_argument('--schemas', required=True, help="the build's data/ with gschemas.compiled")
    parser.add_argument('--data', required=True, help='directory for the test images (kept)')
    parser.add_argument('--out', required=True)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--mb', type=int, default=100, help='attachment size in MB (10^6 bytes)')
    args = parser.parse_args()

    image = benchlib.ensure_image(args.data, f'noise-{args.mb}mb.png', args.mb * 1_000_000)
    env = environment(os.path.abspath(args.schemas))
    load_before = load_average()

    port = benchlib.free_port()
    sink = start_sink(port)
    samples = []
    try:
        for run in range(args.runs):
            start = time.monotonic()
            sample = run_once(args.bench, image, port, env)
            samples.append(sample)
            result = sample.get('result', {})
            if sample['returncode'] == 0:
                log(f'window run {run + 1}: longest stall {result["send"]["max_stall_ms"]:.1f} ms, '
                    f'p99 {result["send"]["p99_stall_ms"]:.2f} ms, send {result["send_s"]:.2f} s, '
                    f'first frame {result["start_to_first_frame_ms"]:.0f} ms '
                    f'({time.monotonic() - start:.1f} s with Xvfb)')
            else:
                log(f'window run {run + 1}: exit {sample["returncode"]}: '
                    f'{result.get("error") or sample.get("stderr", "").strip()[-300:]}')
    finally:
        benchlib.stop(sink)

    ok = [s['result'] for s in samples if s['returncode'] == 0 and s.get('result', {}).get('sent')]
    benchlib.write_json(args.out, {
        'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        # bench/run --gui adds this section to an older report: it says what it measured itself.
        'commit': git('rev-parse', '--short', 'HEAD') or 'unknown',
        'dirty': bool(git('status', '--porcelain', '--untracked-files=no')),
        'load_before': load_before,
        'load_after': load_average(),
        'runs': args.runs,
        'ok_runs': len(ok),
        'image': os.path.basename(image),
        'image_bytes': os.path.getsize(image),
        'image_sha256': benchlib.sha256_file(image),
        'renderer': RENDERER,
        'screen': SCREEN,
        'settle_ms': ok[0]['settle_ms'] if ok else None,
        'tail_ms': ok[0]['tail_ms'] if ok else None,
        'samples': samples,
        'median': {name: benchlib.median([pick(r, where, key) for r in ok])
                   for name, (where, key) in MEDIANS.items()},
        'worst_max_stall_ms': max((r['send']['max_stall_ms'] for r in ok), default=None),
    })
    sys.exit(0 if len(ok) == args.runs else 1)


if __name__ == '__main__':
    main()
