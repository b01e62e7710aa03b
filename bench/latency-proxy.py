#!/usr/bin/python3
# latency-proxy.py — a TCP proxy that delays each direction and counts the round trips a client waited for.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: latency-proxy.py --target HOST:PORT [--listen-port N] [--delay-ms 25] --log FILE
#
# Prints {"port": N} on one line once it listens, then serves until SIGTERM or SIGINT. Every
# connection, when it ends, appends one JSON object to --log (see Connection.summary()).
#
# The model is a link with a fixed one-way delay and no bandwidth limit: a piece of data read
# on one side is written to the other side --delay-ms later, in order. Opening the upstream
# connection is delayed too, so the client's wait for the greeting is one full round trip, as a
# TCP handshake would make it.
#
# What "a round trip the client waited for" means here, measured at the proxy's client side:
#
#     client ──C1──►            ◄──D── server data delivered to the client
#                  ◄──D── …  ──C2──►     C2 comes after a delivery: one turn
#
# Take the client's sends (and its close) in time order. A send is a *turn* when, since the
# client's previous send, server data reached the client that left the server at least one full
# round trip (2 × delay) after that previous send: the client had stopped talking, an answer came
# back, and only then did it talk again. Each turn costs at least one round trip of the link,
# whatever the client does. The round-trip condition keeps one server flight from counting twice:
# when Postfix's "221" and its TLS close_notify arrive as two pieces microseconds apart and the
# client answers between them, the second piece cannot be an answer to that client data (an
# answer needs 2 × delay), so the client's close after it is not a new turn.
#
# A close (or reset) counts like a send: a client that waits for "221" before hanging up has
# waited for it; one that sends QUIT and hangs up at once has not.
#
# The first turn, waiting for the greeting after connecting, is the same for every client and is
# reported apart ("greeting_turn"); "turns" counts the ones after it. With 25 ms each way a client
# has 50 ms to send everything of one flight before an answer could split it: real clients need
# microseconds.

import argparse
import asyncio
import json
import os
import signal
import sys
import time

READ_SIZE = 65536


def describe(data):
    """A short, password-free label for one piece of traffic, for the per-turn log."""
    if not data:
        return ''
    # TLS record types (RFC 8446 §5.1): after STARTTLS the content is opaque to us.
    kinds = {0x14: 'TLS change-cipher-spec', 0x15: 'TLS alert', 0x16: 'TLS handshake',
             0x17: 'TLS application data'}
    if data[0] in kinds and len(data) >= 5 and data[1] == 0x03:
        return kinds[data[0]]
    lines = data.split(b'\r\n')
    shown = []
    for line in lines[:6]:
        if not line:
            continue
        text = line[:60].decode('ascii', 'replace')
        upper = text.upper()
        # The proxy sees plaintext AUTH only on a connection without TLS; keep the mechanism,
        # drop the credentials.
        if upper.startswith('AUTH '):
            text = ' '.join(text.split()[:2]) + ' …'
        elif not text.isprintable() or (shown and shown[-1].startswith('AUTH')):
            text = '…'
        shown.append(text)
    if len(lines) > 6:
        shown.append('…')
    return ' | '.join(shown)


class Connection:
    def __init__(self, number, delay):
        self.number = number
        self.delay = delay
        self.start = time.monotonic()
        # (time, kind, bytes, label): 'C' client data read, 'E' client closed its side,
        # 'S' server data read, 'D' server data written to the client.
        self.events = []

    def note(self, kind, data=b''):
        self.events.append((time.monotonic() - self.start, kind, len(data), describe(data)))

    def summary(self, with_events=False):
        events = sorted(self.events, key=lambda e: e[0])
        turns = []
        delivered = []          # server data delivered since the client last spoke
        answered = False        # … of which some could be an answer to it
        flight = []             # what the client sent since its last turn
        last_send = 0.0         # the connection's start stands for the first send
        round_trip = 2 * self.delay - 0.001     # asyncio timers may fire a hair early
        for t, kind, size, label in events:
            if kind not in 'CDE':       # server reads and errors are for the event log only
                continue
            if kind == 'D':
                delivered.append(label)
                answered = answered or t - last_send >= round_trip
                continue
            if answered:
                turns.append({'at_ms': round(t * 1000, 1),
                              'after_client_sent': flight,
                              'waited_for': delivered})
                flight = []
            delivered = []
            answered = False
            last_send = t
            flight.append(label if kind == 'C' else '(close)')
        greeting_turn = bool(turns) and turns[0]['after_client_sent'] == []
        return {
            'connection': self.number,
            'delay_ms': self.delay * 1000,
            'duration_ms': round((time.monotonic() - self.start) * 1000, 1),
            'client_bytes': sum(e[2] for e in events if e[1] == 'C'),
            'server_bytes': sum(e[2] for e in events if e[1] == 'D'),
            'greeting_turn': greeting_turn,
            'turns': len(turns) - (1 if greeting_turn else 0),
            'turn_log': turns,
            'trailing_client_flight': flight,
        } | ({'events': [[round(t * 1000, 2), k, n, label] for t, k, n, label in events]}
             if with_events else {})


async def delayed_pump(reader, writer, delay, on_read, on_write):
    """Copies reader to writer, each piece written `delay` seconds after it was read, in order."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def read_side():
        try:
            while True:
                data = await reader.read(READ_SIZE)
                on_read(data)
                await queue.put((loop.time() + delay, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            # A reset is a close too: a client that hangs up with data unread (a TLS
            # close_notify, say) resets the connection instead of closing it.
            on_read(b'')
            await queue.put((loop.time() + delay, b''))

    async def write_side():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                on_write(data)
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                return

    await asyncio.gather(read_side(), write_side())


class Proxy:
    def __init__(self, target_host, target_port, delay, log_path, with_events):
        self.target = (target_host, target_port)
        self.with_events = with_events
        self.delay = delay
        self.log_path = log_path
        self.count = 0

    async def handle(self, client_reader, client_writer):
        self.count += 1
        conn = Connection(self.count, self.delay)
        server_writer = None
        try:
            # The SYN's way to the server; the greeting's way back is the pump's delay.
            await asyncio.sleep(self.delay)
            server_reader, server_writer = await asyncio.open_connection(*self.target)
            await asyncio.gather(
                delayed_pump(client_reader, server_writer, self.delay,
                             lambda d: conn.note('C' if d else 'E', d), lambda d: None),
                delayed_pump(server_reader, client_writer, self.delay,
                             lambda d: conn.note('S', d), lambda d: conn.note('D', d)))
        except (ConnectionError, OSError) as e:
            conn.events.append((time.monotonic() - conn.start, 'X', 0, str(e)))
        finally:
            for w in (client_writer, server_writer):
                if w is not None:
                    w.close()
            with open(self.log_path, 'a', encoding='utf-8') as log:
                log.write(json.dumps(conn.summary(self.with_events)) + '\n')


async def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--target', required=True, help='HOST:PORT to forward to')
    parser.add_argument('--listen-port', type=int, default=0, help='port on 127.0.0.1 (0: any free one)')
    parser.add_argument('--delay-ms', type=float, default=25.0, help='one-way delay (default 25)')
    parser.add_argument('--log', required=True, help='file to append one JSON line per connection to')
    parser.add_argument('--events', action='store_true', help='also log every read and delivery')
    args = parser.parse_args()

    host, _, port = args.target.rpartition(':')
    proxy = Proxy(host.strip('[]'), int(port), args.delay_ms / 1000.0, args.log, args.events)
    server = await asyncio.start_server(proxy.handle, '127.0.0.1', args.listen_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    print(json.dumps({'port': server.sockets[0].getsockname()[1], 'pid': os.getpid()}), flush=True)
    async with server:
        await stop.wait()


if __name__ == '__main__':
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
