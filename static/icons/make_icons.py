"""Draw the app icons (PNG 192/512, apple-touch-icon 180) with a tiny pure-Python PNG writer.

A white pulse line (a circuit's heartbeat) on the magenta accent, full bleed so the icon also
works as a maskable icon and as an iOS home-screen icon. Not served (only .png are).
Run: python static/icons/make_icons.py
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from pathlib import Path

MAGENTA = (226, 0, 116)
WHITE = (255, 255, 255)
PULSE = ((0.16, 0.56), (0.34, 0.56), (0.44, 0.28), (0.56, 0.74), (0.65, 0.48), (0.84, 0.48))
LINE = 0.05  # half-width of the line, as a fraction of the icon
DOT = 0.065  # radius of the end points
SUPERSAMPLE = 3


def _segment_distance(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - (ax + t * dx), y - (ay + t * dy))


def _inside(x: float, y: float) -> bool:
    if min(_segment_distance(x, y, a, b) for a, b in itertools.pairwise(PULSE)) <= LINE:
        return True
    return any(math.hypot(x - px, y - py) <= DOT for px, py in (PULSE[0], PULSE[-1]))


def render(size: int) -> bytes:
    """RGB rows of one icon, anti-aliased by supersampling."""
    rows = bytearray()
    n = SUPERSAMPLE
    for j in range(size):
        rows.append(0)  # PNG filter type 0 for this row
        for i in range(size):
            hits = sum(
                _inside((i + (a + 0.5) / n) / size, (j + (b + 0.5) / n) / size)
                for a in range(n)
                for b in range(n)
            )
            share = hits / (n * n)
            rows.extend(round(m + (w - m) * share) for m, w in zip(MAGENTA, WHITE, strict=True))
    return bytes(rows)


def png(size: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(render(size), 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    here = Path(__file__).parent
    for name, size in (("icon-192.png", 192), ("icon-512.png", 512), ("apple-touch-icon.png", 180)):
        (here / name).write_bytes(png(size))


if __name__ == "__main__":
    main()
