"""Ticket QR codes as PNG images for emails: made once per ticket code and kept, and made cheaply.

Two costs made a confirmation email slow (about 4.5 ms a ticket): segno scoring all eight data masks, as the QR
specification suggests an encoder does (3.2 ms), and segno's PNG writer (1.2 ms). Here the mask is fixed: every
mask is valid and every reader tries them all, the score only avoids patterns that might confuse a poor scanner,
and a ticket code is random-looking base32 after its id, where no mask stands out (the tests decode codes made this
way with zxing-cpp). The PNG is written directly: a 1-bit grayscale image, each row built once per module row and
repeated ``scale`` times, then one zlib stream. The images are kept per (code, scale, border) in a small LRU: a
ticket's code is the same in its confirmation, in a resend and in the reminder, so its image is made once.
"""

from __future__ import annotations

import struct
import zlib
from collections import OrderedDict
from threading import Lock

import segno

__all__ = ["QR_BORDER", "QR_MASK", "QR_SCALE", "qr_png"]

QR_SCALE = 6
QR_BORDER = 4  # the quiet zone the QR specification asks for
QR_MASK = 4  # fixed (see above); any of 0..7 decodes
KEPT = 4096  # images kept per process (a version 4 code at scale 6 is about 600 bytes)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_cache: OrderedDict[tuple[str, int, int], tuple[bytes, int]] = OrderedDict()
_lock = Lock()  # the file transport renders nothing, but a caller may render from threads


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(matrix: tuple[bytearray, ...], scale: int, border: int) -> tuple[bytes, int]:
    """A 1-bit grayscale PNG of the QR ``matrix`` (1 = dark) in a light ``border`` of modules, each module ``scale``
    pixels square."""
    size = len(matrix) + 2 * border
    width = size * scale
    pad = "1" * ((-width) % 8)
    light, dark = "1" * scale, "0" * scale  # in 1-bit grayscale 0 is black
    pixels = (light, dark)
    edge = light * border
    blank = b"\x00" + int(light * size + pad, 2).to_bytes(-(-width // 8), "big")
    raw = bytearray(blank * (scale * border))
    for row in matrix:
        bits = edge + "".join([pixels[module & 1] for module in row]) + edge + pad
        raw += (b"\x00" + int(bits, 2).to_bytes(-(-width // 8), "big")) * scale  # each line: filter 0, then pixels
    raw += blank * (scale * border)
    header = struct.pack(">IIBBBBB", width, width, 1, 0, 0, 0, 0)
    data = _PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    return data + _chunk(b"IEND", b""), width


def qr_png(code: str, *, scale: int = QR_SCALE, border: int = QR_BORDER) -> tuple[bytes, int]:
    """The QR code (error correction M) for ``code`` as PNG bytes, and its width (= height) in pixels."""
    key = (code, scale, border)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    qr = segno.make_qr(code, error="m", mask=QR_MASK)
    made = _png(qr.matrix, scale, border)
    with _lock:
        _cache[key] = made
        while len(_cache) > KEPT:
            _cache.popitem(last=False)
    return made
