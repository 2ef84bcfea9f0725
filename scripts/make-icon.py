#!/usr/bin/env python3
"""Draws assets/icon.png: a 256x256 door glyph (a rounded tile, a wall with an
arched, half-open door and a bright gap). Standard library only, so the icon
can be regenerated anywhere: python3 scripts/make-icon.py"""

import math
import os
import struct
import zlib

N = 256
TILE = (32, 64, 96)        # dark blue rounded tile
DOOR = (196, 132, 72)      # wooden door
FRAME = (236, 236, 230)    # light door frame
GAP = (255, 214, 102)      # light through the opening
KNOB = (60, 40, 20)


def inside_rounded(x, y, x0, y0, x1, y1, r):
    if x < x0 or x > x1 or y < y0 or y > y1:
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def inside_arch(x, y, x0, x1, top, bottom):
    """A rectangle from top to bottom whose top is a half circle."""
    if x < x0 or x > x1 or y > bottom:
        return False
    r = (x1 - x0) / 2
    cx = x0 + r
    if y >= top + r:
        return True
    return (x - cx) ** 2 + (y - (top + r)) ** 2 <= r * r


def pixel(x, y):
    px, py = x + 0.5, y + 0.5
    if not inside_rounded(px, py, 8, 8, 248, 248, 44):
        return (0, 0, 0, 0)
    if inside_arch(px, py, 70, 186, 40, 218):
        if not inside_arch(px, py, 82, 174, 52, 218):
            return FRAME + (255,)
        # The door is ajar: its right part shows the light behind it.
        if px > 150:
            return GAP + (255,)
        if (px - 136) ** 2 + (py - 140) ** 2 <= 49:
            return KNOB + (255,)
        return DOOR + (255,)
    if 52 <= px <= 204 and 218 <= py <= 228:
        return FRAME + (255,)
    return TILE + (255,)


def png(width, height, rows):
    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(v for px in row for v in px) for row in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main():
    rows = [[pixel(x, y) for x in range(N)] for y in range(N)]
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "assets", "icon.png")
    with open(out, "wb") as f:
        f.write(png(N, N, rows))
    print("wrote", os.path.normpath(out))


if __name__ == "__main__":
    _ = math
    main()
