"""The render videos: a stick figure of the motion seen from the side, one PNG-coded frame per
motion frame, in an MP4 (ISO base media) file written box by box.

PNG is a video codec of the QuickTime family (`png `) that FFmpeg, and so PyAV, decode; a
mostly flat frame compresses to a few hundred bytes with zlib alone, which keeps the emulator
free of any video library. Browsers do not play PNG video: the files are for code that decodes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable

from ._motion import PARENTS, Motion

WIDTH = 160
HEIGHT = 120
SCALE = 60.0
"""Pixels per metre."""


def _box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", version << 24 | flags), *parts)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_gray(pixels: bytes | bytearray, width: int, height: int) -> bytes:
    """An 8-bit grayscale PNG of `pixels` (rows top to bottom, no filtering)."""
    rows = b"".join(b"\x00" + bytes(pixels[y * width : (y + 1) * width]) for y in range(height))
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)),
            _png_chunk(b"IDAT", zlib.compress(rows, 6)),
            _png_chunk(b"IEND", b""),
        )
    )


def _line(canvas: bytearray, x0: float, y0: float, x1: float, y1: float, value: int) -> None:
    """A line two pixels wide; ends outside the frame are moved to its edge (the frame is
    convex, so every point between them is inside too)."""
    x0, x1 = (min(max(x, 0.0), WIDTH - 2.0) for x in (x0, x1))
    y0, y1 = (min(max(y, 0.0), HEIGHT - 1.0) for y in (y0, y1))
    pair = bytes((value, value))
    steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    dx, dy = (x1 - x0) / steps, (y1 - y0) / steps
    for i in range(steps + 1):
        at = int(y0 + dy * i) * WIDTH + int(x0 + dx * i)
        canvas[at : at + 2] = pair


def frames(motion: Motion, *, overlay: bool) -> Iterable[bytes]:
    """PNG frames of the stick figure: on black for the render, on a gradient backdrop (a
    stand-in for the input video) for the overlay."""
    if overlay:
        background = b"".join(bytes([40 + (y * 120) // HEIGHT]) * WIDTH for y in range(HEIGHT))
    else:
        background = bytes(WIDTH * HEIGHT)
    for frame, root in zip(motion.world, motion.root_positions, strict=True):
        canvas = bytearray(background)
        points = [(WIDTH / 2 + (z - root[2]) * SCALE, HEIGHT - 8 - y * SCALE) for _, y, z in frame]
        for j, parent in enumerate(PARENTS):
            if parent >= 0:
                _line(canvas, *points[parent], *points[j], 255)
        yield png_gray(canvas, WIDTH, HEIGHT)


def mp4(motion: Motion, *, overlay: bool = False) -> bytes:
    """An MP4 of one video track (`png ` samples, one per motion frame, at the motion's rate);
    the index comes before the media data, so a reader can start before the end."""
    samples = list(frames(motion, overlay=overlay))
    count = len(samples)
    rate = motion.frame_rate
    movie_scale = 1000
    duration = count * movie_scale // rate
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2mp41")

    def moov(data_offset: int) -> bytes:
        mvhd = _full_box(
            b"mvhd", 0, 0,
            struct.pack(">IIII", 0, 0, movie_scale, duration),
            struct.pack(">IH10x", 0x10000, 0x100), matrix, b"\x00" * 24, struct.pack(">I", 2),
        )  # fmt: skip
        tkhd = _full_box(
            b"tkhd", 0, 3,
            struct.pack(">IIIII", 0, 0, 1, 0, duration), b"\x00" * 8,
            struct.pack(">hhhH", 0, 0, 0, 0), matrix,
            struct.pack(">II", WIDTH << 16, HEIGHT << 16),
        )  # fmt: skip
        mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, rate, count, 0x55C4, 0))
        hdlr = _full_box(b"hdlr", 0, 0, struct.pack(">I4s12x", 0, b"vide"), b"VideoHandler\x00")
        vmhd = _full_box(b"vmhd", 0, 1, b"\x00" * 8)
        dinf = _box(
            b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1))
        )
        entry = _box(
            b"png ",
            b"\x00" * 6, struct.pack(">H", 1), b"\x00" * 16,
            struct.pack(">HHIIIH", WIDTH, HEIGHT, 0x480000, 0x480000, 0, 1),
            bytes([3]) + b"png".ljust(31, b"\x00"), struct.pack(">hh", 24, -1),
        )  # fmt: skip
        stbl = _box(
            b"stbl",
            _full_box(b"stsd", 0, 0, struct.pack(">I", 1), entry),
            _full_box(b"stts", 0, 0, struct.pack(">III", 1, count, 1)),
            _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, count, 1)),
            _full_box(
                b"stsz", 0, 0, struct.pack(">II", 0, count),
                struct.pack(f">{count}I", *(len(s) for s in samples)),
            ),
            _full_box(b"stco", 0, 0, struct.pack(">II", 1, data_offset)),
        )  # fmt: skip
        minf = _box(b"minf", vmhd, dinf, stbl)
        trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))
        return _box(b"moov", mvhd, trak)

    size = len(moov(0))
    media = b"".join(samples)
    return b"".join(
        (ftyp, moov(len(ftyp) + size + 8), struct.pack(">I4s", 8 + len(media), b"mdat"), media)
    )
