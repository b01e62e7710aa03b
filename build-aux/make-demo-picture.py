#!/usr/bin/python3
# make-demo-picture.py — write a small PNG (a colour gradient with an envelope) for the demo.
# SPDX-License-Identifier: GPL-3.0-or-later
import struct
import sys
import zlib

WIDTH, HEIGHT = 320, 200


def pixel(x, y):
    # An envelope outline on a blue-to-teal gradient: recognisable in any mail reader.
    left, top, right, bottom = 80, 50, 240, 150
    on_edge = (left <= x <= right and top <= y <= bottom and
               (x in (left, right) or y in (top, bottom) or
                (x <= (left + right) // 2 and abs((y - top) - (x - left) * (bottom - top) / (right - left)) < 1.5) or
                (x >= (left + right) // 2 and abs((y - top) - (right - x) * (bottom - top) / (right - left)) < 1.5)))
    if on_edge:
        return (255, 255, 255)
    return (30, 90 + y * 100 // HEIGHT, 160 + x * 80 // WIDTH)


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(WIDTH)) for y in range(HEIGHT))
png = (b"\x89PNG\r\n\x1a\n" +
       chunk(b"IHDR", struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)) +
       chunk(b"IDAT", zlib.compress(rows, 9)) +
       chunk(b"IEND", b""))
with open(sys.argv[1], "wb") as out:
    out.write(png)
