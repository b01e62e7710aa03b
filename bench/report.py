#!/usr/bin/python3
# report.py — turns the benchmarks' JSON into bench/results/latest.md: tables, method notes, targets met or not.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: report.py --roundtrips RT.json --large LARGE.json [--gui GUI.json] --meta META.json
#                  --md OUT.md --json OUT.json
#
# Every number in the output comes from those files; nothing here is typed in but the targets.

import argparse
import json
import os

# The targets of the issue that asked for these benchmarks.
RSS_LIMIT_KB = 8 * 1024            # "at most 8 MB", in the KiB that GNU time reports
RSS_FLAT_KB = 512                  # 100 MB may cost at most this much more than 25 MB
WALL_RATIO = 0.5                   # "at most half of the fastest MIME-building client"
# Issue 10: EHLO, STARTTLS, the TLS handshake, EHLO, AUTH + envelope, BDAT LAST + QUIT — the
# message never leaves before the sign-in's 235, so one more than with everything in one flight.
REACHABLE_TURNS = 6
STALL_LIMIT_MS = 16                # "the longest main-loop stall during the send: under 16 ms"


def ms(seconds):
    return '—' if seconds is None else f'{seconds * 1000:.0f} ms'


def secs(seconds):
    return '—' if seconds is None else f'{seconds:.2f} s'


def mib(kb):
    return '—' if kb is None else f'{kb / 1024:.1f} MiB'


def yes(ok):
    if ok is None:
        return '— (no target set)'
    return '**yes**' if ok else '**no**'


def msf(value, digits=0):
    return '—' if value is None else f'{value:.{digits}f} ms'


def roundtrip_section(rt, out, targets):
    out.append('## Round trips: a small message over STARTTLS + AUTH, 50 ms round trip\n')
    if 'skipped' in rt:
        out.append(f'Not run: {rt["skipped"]}.\n')
        return
    out.append(f'{rt["server"]}, behind `bench/latency-proxy.py` adding {rt["delay_ms_each_way"]:g} ms '
               f'each way. Each client sends the same short text message to one recipient, checks the '
               f'server certificate against the test CA, signs in with AUTH PLAIN, and must exit 0. '
               f'{rt["runs"]} runs per client, interleaved, order rotated; median shown.\n')
    out.append('| Client | Options that save round trips | Round trips waited | Median wall time '
               '| Fastest – slowest | Floor: (waits + greeting) × 50 ms | Peak RSS |')
    out.append('|---|---|---:|---:|---:|---:|---:|')
    for c in rt['clients']:
        walls = [s['wall_s'] for s in c['samples'] if s['returncode'] == 0]
        turns = c['turns']
        turn_text = '—' if not turns else str(turns[0]) if len(turns) == 1 else \
            f'{c["median_turns"]:g} (varied: {", ".join(map(str, turns))})'
        floor = None if c['median_turns'] is None else (c['median_turns'] + 1) * 2 * rt['delay_ms_each_way'] / 1000
        failed = len(c['samples']) - c['ok_runs']
        name = f'**{c["name"]}**' if c['name'] == 'dispatch-send' else c['name']
        out.append(f'| {name}{f" ({failed} failed)" if failed else ""} | {c["options"] or "defaults"} '
                   f'| {turn_text} | {ms(c["median_wall_s"])} '
                   f'| {ms(min(walls)) if walls else "—"} – {ms(max(walls)) if walls else "—"} '
                   f'| {ms(floor)} | {mib(c["median_maxrss_kb"])} |')
    out.append('')
    out.append('"Round trips waited" is counted by the proxy, on the client side of the link. Take the '
               'client\'s sends and its close in time order; a send (or the close) is one round trip '
               'waited for when, since the client\'s previous send, server data reached the client that '
               'left the server at least one full round trip after that previous send — the client had '
               'stopped, an answer came back, and only then did it go on. The wait for the greeting '
               'after connecting is the same for every client and is left out; a close after waiting '
               'for "221" counts, a QUIT followed by hanging up at once does not. The TLS handshake is '
               'counted like any other exchange (TLS 1.3: one round trip). "Floor" is what the waits '
               'cost on this link with an infinitely fast client, greeting included; the rest of the '
               'wall time is the client\'s own work. Peak RSS with TLS includes whatever trust store '
               'the client loads.\n')

    flights = rt.get('dispatch_flights') or []
    if flights:
        out.append('What dispatch-send waited for, from its own `--transcript` (one more, untimed run; '
                   'the proxy also counts the TLS handshake\'s round trip, which the transcript does '
                   'not show):\n')
        for i, f in enumerate(flights, 1):
            sent = ', '.join(f['client'])
            # One code per reply: a multi-line reply's "250-" lines end with its "250 " line.
            got = ', '.join(line[:3] for line in f['server'] if line[3:4] != '-')
            out.append(f'{i}. {sent} → {got}')
        out.append('')

    dispatch = next((c for c in rt['clients'] if c['name'] == 'dispatch-send'), None)
    others = [c for c in rt['clients'] if c['name'] != 'dispatch-send' and c['median_turns'] is not None]
    if dispatch and dispatch['median_turns'] is not None and others:
        fewest_other = min(c['median_turns'] for c in others)
        best_wall = min(others, key=lambda c: c['median_wall_s'])
        targets.append(('Fewest round trips of all clients',
                        f'dispatch-send {dispatch["median_turns"]:g}, best other {fewest_other:g}',
                        dispatch['median_turns'] < fewest_other))
        targets.append((f'{REACHABLE_TURNS} round trips (AUTH + envelope, then message + QUIT)',
                        f'dispatch-send {dispatch["median_turns"]:g}',
                        dispatch['median_turns'] <= REACHABLE_TURNS))
        targets.append(('Lowest wall time of all clients (round trips)',
                        f'dispatch-send {ms(dispatch["median_wall_s"])}, best other '
                        f'{best_wall["name"]} {ms(best_wall["median_wall_s"])}',
                        dispatch['median_wall_s'] < best_wall['median_wall_s']))


def large_section(large, out, targets):
    out.append('## Large attachments: to Postfix\'s smtp-sink on loopback, no TLS\n')
    if 'skipped' in large:
        out.append(f'Not run: {large["skipped"]}.\n')
        return
    sizes = large['sizes']
    out.append(f'Each client attaches a PNG of noise (made by bench/benchlib.py, the same bytes on every '
               f'machine) to a short text and sends it to `smtp-sink`, which reads and discards it. '
               f'{large["runs"]} runs per client and size, interleaved, order rotated; medians shown. '
               f'Wall time is measured around the process; CPU (user + system) and peak RSS are '
               f'`/usr/bin/time -v`\'s, for the client alone; smtp-sink\'s own CPU for the same message '
               f'is read from /proc. CPU time is much less disturbed by other work on the machine '
               f'than wall time. The client and smtp-sink run at the same time on the two cores, so '
               f'a wall time near the larger of the two CPU figures is as fast as this setup allows.\n')
    header = '| Client | MIME built by |'
    rule = '|---|---|'
    for s in sizes:
        header += f' {s["mb"]} MB: wall | CPU | peak RSS | smtp-sink CPU |'
        rule += '---:|---:|---:|---:|'
    out.append(header)
    out.append(rule)
    names = [c['name'] for c in sizes[0]['clients']]
    for name in names:
        rows = [next(c for c in s['clients'] if c['name'] == name) for s in sizes]
        builder = 'itself' if rows[0]['builds_mime'] else 'dispatch-send --output (not timed)'
        label = f'**{name}**' if name == 'dispatch-send' else name
        problem = large.get('validation', {}).get(name)
        if problem:
            label += f' (left out: {problem})'
        cells = ''
        for r in rows:
            failed = len(r['samples']) - r['ok_runs']
            note = f' ({failed} failed)' if failed else ''
            cells += (f' {secs(r["median_wall_s"])}{note} | {secs(r.get("median_cpu_s"))} '
                      f'| {mib(r["median_maxrss_kb"])} | {secs(r.get("median_sink_cpu_s"))} |')
        out.append(f'| {label} | {builder} |{cells}')
    out.append('')
    files = '; '.join(f'{s["image"]}: {s["image_bytes"]:,} bytes, SHA-256 {s["image_sha256"][:16]}…, '
                      f'message as dispatch-send writes it {s["message_bytes"]:,} bytes' for s in sizes)
    out.append(f'Images: {files}. Before timing, every client sent a 1 MB image to an smtp-sink that kept '
               f'it, and Python\'s email parser found the image\'s exact bytes in what arrived. msmtp '
               f'cannot build MIME; it sends the message dispatch-send wrote beforehand and is a '
               f'transport-only reference, outside the comparison.\n')

    for s in sizes:
        dispatch = next(c for c in s['clients'] if c['name'] == 'dispatch-send')
        builders = [c for c in s['clients'] if c['builds_mime'] and c['name'] != 'dispatch-send'
                    and c['median_wall_s'] is not None]
        if dispatch['median_wall_s'] is None or not builders:
            continue
        fastest = min(builders, key=lambda c: c['median_wall_s'])
        ratio = dispatch['median_wall_s'] / fastest['median_wall_s']
        cpu_note = ''
        if dispatch.get('median_cpu_s') and fastest.get('median_cpu_s'):
            cpu_note = (f' (CPU {secs(dispatch["median_cpu_s"])} vs {secs(fastest["median_cpu_s"])}: '
                        f'{dispatch["median_cpu_s"] / fastest["median_cpu_s"]:.2f})')
        targets.append((f'{s["mb"]} MB: wall time at most half of the fastest MIME-building client',
                        f'dispatch-send {secs(dispatch["median_wall_s"])}, {fastest["name"]} '
                        f'{secs(fastest["median_wall_s"])}: ratio {ratio:.3f}{cpu_note}',
                        ratio <= WALL_RATIO))
    rss = [next(c for c in s['clients'] if c['name'] == 'dispatch-send') for s in sizes]
    if all(r['max_maxrss_kb'] is not None for r in rss):
        worst = max(r['max_maxrss_kb'] for r in rss)
        targets.append(('Peak RSS of dispatch-send at most 8 MiB',
                        'highest of all runs ' + mib(worst), worst <= RSS_LIMIT_KB))
        if len(rss) > 1:
            growth = rss[-1]['median_maxrss_kb'] - rss[0]['median_maxrss_kb']
            targets.append((f'Peak RSS flat from {sizes[0]["mb"]} MB to {sizes[-1]["mb"]} MB '
                            f'(grows < {RSS_FLAT_KB} KiB)',
                            f'{mib(rss[0]["median_maxrss_kb"])} → {mib(rss[-1]["median_maxrss_kb"])} '
                            f'({growth:+d} KiB)', growth < RSS_FLAT_KB))


def gui_section(gui, out, targets):
    out.append('## The window: sending 100 MB from the real application\n')
    if 'skipped' in gui:
        out.append(f'Not run: {gui["skipped"]}.\n')
        return
    out.append(f'`bench/gui-stall.c` runs Dispatch in its own process as `dispatch --attach IMAGE mailto:…` '
               f'would start it, on a fresh Xvfb ({gui["screen"]}) with a private D-Bus session, '
               f'GSK_RENDERER={gui["renderer"]} (software drawing, the same on every machine) and GTK\'s '
               f'accessibility on. {gui["settle_ms"]} ms after the first frame it presses Send; the message '
               f'({gui["image"]}, {gui["image_bytes"]:,} bytes) goes to `smtp-sink` on loopback. A 1 ms '
               f'timeout at high priority measures every gap in the main loop from Send until '
               f'{gui["tail_ms"]} ms after the result is shown; a gap minus the 1 ms is a stall. A tick '
               f'callback sees the frames. {gui["runs"]} runs, one after the other; medians of the runs '
               f'that sent the message. Measured {gui["date"]} at commit `{gui["commit"]}`'
               f'{" with uncommitted changes" if gui.get("dirty") else ""}, load average {gui["load_before"]} before, '
               f'{gui["load_after"]} after: a stall on a busy machine also counts time the process was '
               f'not scheduled, so the main thread\'s own CPU time in the longest stall is shown too.\n')
    ok = [s['result'] for s in gui['samples'] if s['returncode'] == 0 and s.get('result', {}).get('sent')]
    out.append('| Run | Longest stall (CPU in it) | p99 stall | Stalls > 16 ms | Longest frame gap '
               '| Longest frame: layout + paint | Most CPU in one turn outside frames | Send '
               '| Launch → first frame |')
    out.append('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for i, s in enumerate(gui['samples'], 1):
        r = s.get('result')
        if s['returncode'] != 0 or not r or not r.get('sent'):
            reason = (r or {}).get('error') or f'exit {s["returncode"]}'
            out.append(f'| {i} | failed: {reason} | | | | | | | |')
            continue
        send = r['send']
        out.append(f'| {i} | {msf(send["max_stall_ms"], 1)} ({msf(send["max_stall_cpu_ms"], 1)}) '
                   f'| {msf(send["p99_stall_ms"], 1)} | {send["stalls_over_16ms"]} | {msf(send["frame_max_ms"], 1)} '
                   f'| {msf(send["frame_work_max_ms"], 1)} | {msf(send["max_cpu_outside_frames_ms"], 1)} '
                   f'| {secs(r["send_s"])} | {msf(r["start_to_first_frame_ms"])} |')
    m = gui['median']
    if ok:
        out.append(f'| **median** | **{msf(m["max_stall_ms"], 1)}** ({msf(m["max_stall_cpu_ms"], 1)}) '
                   f'| {msf(m["p99_stall_ms"], 1)} | {m["stalls_over_16ms"]:g} | {msf(m["frame_max_ms"], 1)} '
                   f'| {msf(m["frame_work_max_ms"], 1)} | {msf(m["max_cpu_outside_frames_ms"], 1)} '
                   f'| {secs(m["send_s"])} | **{msf(m["start_to_first_frame_ms"])}** |')
    out.append('')
    if ok:
        out.append(f'Launch → first frame runs from the kernel\'s start time of the process (10 ms steps) to '
                   f'the end of the window\'s first paint ("after-paint" of its frame clock); of it, main() '
                   f'→ window constructed took {msf(m["main_to_window_ms"])} and main() → first frame '
                   f'{msf(m["main_to_first_frame_ms"])} (medians). "Longest frame: layout + paint" is the '
                   f'frame clock\'s work for one frame; "outside frames" is the main thread\'s CPU in one '
                   f'main-loop turn spent on anything else — signal handlers, idles, I/O callbacks. Before '
                   f'Send, with the window idle, the longest stall was {msf(m["settle_max_stall_ms"], 1)}.\n')
        targets.append((f'The window: longest main-loop stall during a {gui["image_bytes"] // 1_000_000} MB '
                        f'send under {STALL_LIMIT_MS} ms',
                        f'median {msf(m["max_stall_ms"], 1)} (runs: '
                        f'{", ".join(msf(r["send"]["max_stall_ms"], 1) for r in ok)}), p99 '
                        f'{msf(m["p99_stall_ms"], 1)}',
                        m['max_stall_ms'] < STALL_LIMIT_MS))
        targets.append(('The window: launch to first frame',
                        f'median {msf(m["start_to_first_frame_ms"])} (runs: '
                        f'{", ".join(msf(r["start_to_first_frame_ms"]) for r in ok)})', None))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--roundtrips', required=True)
    parser.add_argument('--large', required=True)
    parser.add_argument('--gui', help='the window benchmark (gui.py); left out of the report when not given')
    parser.add_argument('--meta', required=True)
    parser.add_argument('--md', required=True)
    parser.add_argument('--json', required=True)
    args = parser.parse_args()

    def load(path):
        if not os.path.exists(path):
            return {'skipped': 'no result file (the run stopped early)'}
        with open(path, encoding='utf-8') as f:
            return json.load(f)

    rt, large, meta = load(args.roundtrips), load(args.large), load(args.meta)
    gui = load(args.gui) if args.gui else None

    out = ['# Dispatch benchmarks: latest results\n']
    out.append(f'Made by `bench/run{" --quick" if meta.get("quick") else ""}` on {meta["date"]}, '
               f'commit `{meta["commit"]}`{" with uncommitted changes" if meta.get("dirty") else ""}, '
               f'release build. Machine: {meta["machine"]}; load average {meta["load_before"]} before, '
               f'{meta["load_after"]} after (other work shares this machine, so wall times carry its '
               f'noise; round-trip counts, CPU times and memory hardly depend on it). How it works: '
               f'[bench/README.md](../README.md).\n')
    if meta.get('quick'):
        out.append('**Quick mode**: fewer runs and the 25 MB size only; use the full run for decisions.\n')
    out.append('Versions: ' + '; '.join(f'{k}: {v}' for k, v in meta['versions'].items()) + '.\n')

    targets = []
    roundtrip_section(rt, out, targets)
    large_section(large, out, targets)
    if gui is not None:
        gui_section(gui, out, targets)

    out.append('## Targets\n')
    out.append('| Target | Measured | Met |')
    out.append('|---|---|---|')
    for name, measured, ok in targets:
        out.append(f'| {name} | {measured} | {yes(ok)} |')
    out.append('')
    if gui is None:
        out.append('## Not measured yet\n')
        out.append('- The GUI main-loop stall during a send (how long the window stops drawing): run '
                   '`bench/run` to include it.\n')

    with open(args.md, 'w', encoding='utf-8') as f:
        f.write('\n'.join(out))
    with open(args.json, 'w', encoding='utf-8') as f:
        json.dump({'meta': meta, 'roundtrips': rt, 'large': large,
                   **({'gui': gui} if gui is not None else {}),
                   'targets': [{'target': n, 'measured': m, 'met': ok} for n, m, ok in targets]},
                  f, indent=1, sort_keys=True)
        f.write('\n')


if __name__ == '__main__':
    main()
