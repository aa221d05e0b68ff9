"""Ticket QR codes as PNG images for emails: made once per ticket code and kept, and made cheaply.

Two costs made a confirmation email slow (about 4.5 ms a ticket): segno scoring all eight data masks, as the QR
specification suggests an encoder does (3.2 ms), and segno's PNG writer (1.2 ms). Here the mask is fixed: every
mask is valid and every reader tries them all, the score only avoids patterns that might confuse a poor scanner,
and a ticket code is random-looking base32 after its id, where no mask stands out (the tests decode codes made this
way with zxing-cpp). The PNG is written directly: a 1-bit grayscale image, each row built once per module row and
repeated ``scale`` times, then one zlib stream (level 3: level 9 took a quarter of a millisecond for 100 fewer
bytes). The images are kept per (code, scale, border) in a small LRU: a ticket's code is the same in its
confirmation, in a resend and in the reminder, so its image is made once.

Making the symbol itself (segno's encoder, about 0.9 ms on a quiet machine, 2 ms on a loaded one) is done here too
for what a ticket code is (ASCII in byte mode): a symbol is linear in its message bits. The modules that do not
depend on the message (finder, timing and alignment patterns, format and version information, the mask over an
all-zero message) are made once per version and error level with segno's own functions, with the positions its
codeword placement gives each message bit; a code then costs its data codewords, their Reed-Solomon error correction
(segno's tables, the division as a shift register in one integer), one permutation of the message's bits into
module order and one XOR, all of it in strings and integers rather than module by module (0.2 ms). The PNG's rows
spread eight modules to their pixels by a table. The tests compare the symbol with
``segno.make_qr`` for codes of every length; anything else (digits only, the alphanumeric set, non-ASCII) goes to
segno.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Any

import segno
from segno import consts as _segno_consts
from segno import encoder as _segno_encoder

__all__ = ["QR_BORDER", "QR_MASK", "QR_SCALE", "qr_png"]

QR_SCALE = 6
QR_BORDER = 4  # the quiet zone the QR specification asks for
QR_MASK = 4  # fixed (see above); any of 0..7 decodes
KEPT = 4096  # images kept per process (a version 4 code at scale 6 is about 600 bytes)

# segno's encoder functions and tables (not its public API, untyped; the tests compare our symbols with its own)
_encoder: Any = _segno_encoder
_consts: Any = _segno_consts

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_cache: OrderedDict[tuple[str, int, int], tuple[bytes, int]] = OrderedDict()
_lock = Lock()  # the file transport renders nothing, but a caller may render from threads


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@functools.lru_cache(maxsize=8)
def _spread(scale: int) -> tuple[bytes, ...]:
    """For each byte of eight module bits (1 = light), the ``scale`` bytes of its pixels."""
    return tuple(
        int("".join(("1" if value >> (7 - bit) & 1 else "0") * scale for bit in range(8)), 2).to_bytes(scale, "big")
        for value in range(256)
    )


_TO_LIGHT = str.maketrans("01", "10")  # a module string (1 = dark) to pixel bits (1 = light)


def _png(width: int, modules: str, scale: int, border: int) -> tuple[bytes, int]:
    """A 1-bit grayscale PNG of a QR symbol ``width`` modules wide (``modules``: "1" dark, "0" light, row by row) in
    a light ``border`` of modules, each module ``scale`` pixels square."""
    size = width + 2 * border
    pixels = size * scale
    line_bytes = -(-pixels // 8)
    spread = _spread(scale)
    edge = "1" * border
    pad = "1" * ((-size) % 8)  # light modules up to a whole byte of modules; cut to the line's bytes below
    module_bytes = (size + len(pad)) // 8
    light = modules.translate(_TO_LIGHT)

    def line(row: str) -> bytes:
        packed = int(edge + row + edge + pad, 2).to_bytes(module_bytes, "big")
        return b"\x00" + b"".join([spread[value] for value in packed])[:line_bytes]  # filter 0, then the pixels

    blank = line("1" * width) * (scale * border)
    chunks = [blank]
    chunks += [line(light[at : at + width]) * scale for at in range(0, width * width, width)]
    chunks.append(blank)
    header = struct.pack(">IIBBBBB", pixels, pixels, 1, 0, 0, 0, 0)
    data = _PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"".join(chunks), 3))
    return data + _chunk(b"IEND", b""), pixels


@dataclass(frozen=True)
class _Layout:
    """What a symbol of one version and error level is without its message: the modules of an all-zero message
    (function patterns, format and version information, the mask applied) as one integer, row by row, the first
    module the highest bit; for each module, the message bit placed there (``sentinel``, an always-zero bit, for
    the modules that carry none); the (data, error correction) codewords of each block."""

    width: int
    zero: int
    source: tuple[int, ...]
    sentinel: int
    blocks: tuple[tuple[int, int], ...]


@functools.lru_cache(maxsize=16)
def _layout(version: int, error: int) -> _Layout:
    width = _encoder.calc_matrix_size(version)
    matrix = _encoder.make_matrix(width, width)
    _encoder.add_finder_patterns(matrix, width, width)
    _encoder.add_alignment_patterns(matrix, width, width)
    blocks = tuple(
        (info.num_data, info.num_total - info.num_data)
        for info in _consts.ECC[version][error]
        for _ in range(info.num_blocks)
    )
    message_bits = 8 * sum(data + ecc for data, ecc in blocks)
    # The placement of segno's add_codewords: two-module columns from the right, alternately up and down, skipping
    # the timing column, taking every module still free (0x2); the remainder bits after the message are zero.
    source = [message_bits] * (width * width)
    placed = 0
    for right in range(width - 1, 0, -2):
        if right <= 6:
            right -= 1
        for vertical in range(width):
            for z in range(2):
                j = right - z
                upwards = ((right & 2) == 0) ^ (j < 6)
                i = (width - 1 - vertical) if upwards else vertical
                if matrix[i][j] == 0x2:
                    if placed < message_bits:
                        source[i * width + j] = placed
                    placed += 1
    _encoder.add_codewords(matrix, [0] * placed, version)
    _, matrix = _encoder.find_and_apply_best_mask(matrix, width, width, QR_MASK)
    _encoder.add_format_info(matrix, version, error, QR_MASK)
    _encoder.add_version_info(matrix, version)
    zero = int("".join("1" if module & 1 else "0" for row in matrix for module in row), 2)
    return _Layout(width, zero, tuple(source), message_bits, blocks)


@functools.lru_cache(maxsize=32)
def _ecc_table(count: int) -> tuple[tuple[int, ...], int, int]:
    """For the Reed-Solomon generator of ``count`` codewords (segno's tables): each byte value times the generator,
    as one integer; the shift to the register's top byte; the register's mask."""
    log, exp, generator = _consts.GALIOS_LOG, _consts.GALIOS_EXP, _consts.GEN_POLY[count]
    table = [0] + [
        int.from_bytes(bytes(exp[log[value] + power] for power in generator), "big") for value in range(1, 256)
    ]
    return tuple(table), 8 * (count - 1), (1 << 8 * count) - 1


def _ecc(data: bytes | bytearray, count: int) -> bytes:
    """The ``count`` Reed-Solomon error correction codewords of ``data``: the remainder of the division by the
    generator polynomial, as a shift register of ``count`` bytes held in one integer."""
    table, top, mask = _ecc_table(count)
    register = 0
    for value in data:
        register = ((register << 8) & mask) ^ table[value ^ (register >> top)]
    return register.to_bytes(count, "big")


_BYTE_MODE = (
    _consts.CHAR_COUNT_INDICATOR_LENGTH[_consts.MODE_BYTE][_consts.VERSION_RANGE_01_09],
    _consts.CHAR_COUNT_INDICATOR_LENGTH[_consts.MODE_BYTE][_consts.VERSION_RANGE_10_26],
    _consts.CHAR_COUNT_INDICATOR_LENGTH[_consts.MODE_BYTE][_consts.VERSION_RANGE_27_40],
)
_LEVELS = (_consts.ERROR_LEVEL_M, _consts.ERROR_LEVEL_Q, _consts.ERROR_LEVEL_H)  # M, then boosted as segno does


def _byte_mode_symbol(data: bytes) -> tuple[int, str] | None:
    """The symbol ``segno.make_qr(data, error="m", mask=QR_MASK)`` makes for ``data`` in byte mode (its width and
    its modules, "1" dark, row by row), or None when it needs more than version 40."""
    for version in range(1, 41):
        count_bits = _BYTE_MODE[0 if version < 10 else 1 if version < 27 else 2]
        bits = 4 + count_bits + 8 * len(data)
        if _consts.SYMBOL_CAPACITY[version][_LEVELS[0]] >= bits:
            break
    else:
        return None
    error = _LEVELS[0]
    for level in _LEVELS[1:]:  # segno's boost_error: a higher level when the data still fits the same version
        if _consts.SYMBOL_CAPACITY[version][level] >= bits:
            error = level
        else:
            break
    layout = _layout(version, error)
    capacity = sum(data_words for data_words, _ in layout.blocks)
    # Mode 0100, the count, the bytes, a terminator of up to four zero bits, then as segno writes it: 8 - length % 8
    # zero bits (a whole zero byte when the stream is already byte-aligned), no more than the capacity, pad words.
    stream = (0b0100 << count_bits | len(data)) << 8 * len(data) | int.from_bytes(data, "big")
    length = 4 + count_bits + 8 * len(data)
    terminator = min(capacity * 8 - length, 4)
    stream <<= terminator + 8 - (length + terminator) % 8
    length += terminator + 8 - (length + terminator) % 8
    words = stream.to_bytes(length // 8, "big")[:capacity]
    pads = capacity - len(words)
    words += (b"\xec\x11" * (pads // 2 + 1))[:pads]
    data_blocks, ecc_blocks, at = [], [], 0
    for data_words, ecc_words in layout.blocks:
        data_blocks.append(words[at : at + data_words])
        ecc_blocks.append(_ecc(words[at : at + data_words], ecc_words))
        at += data_words
    longest = max(len(block) for block in data_blocks)
    message = bytes(block[k] for k in range(longest) for block in data_blocks if k < len(block))
    message += bytes(block[k] for k in range(len(ecc_blocks[0])) for block in ecc_blocks)
    message_bits = format(int.from_bytes(message, "big"), f"0{8 * len(message)}b") + "0"  # + the sentinel
    placed = int("".join(map(message_bits.__getitem__, layout.source)), 2)
    width = layout.width
    return width, format(layout.zero ^ placed, f"0{width * width}b")


_ALPHANUMERIC = frozenset(_consts.ALPHANUMERIC_CHARS)


def _symbol(code: str) -> tuple[int, str]:
    """The QR code for ``code``: its width in modules and its modules ("1" dark), row by row."""
    if code.isascii() and code:
        data = code.encode("ascii")
        if not _ALPHANUMERIC.issuperset(data):  # segno's byte mode (digits and the alphanumeric set have theirs)
            symbol = _byte_mode_symbol(data)
            if symbol is not None:
                return symbol
    matrix = segno.make_qr(code, error="m", mask=QR_MASK).matrix
    return len(matrix), "".join("1" if module & 1 else "0" for row in matrix for module in row)


def qr_png(code: str, *, scale: int = QR_SCALE, border: int = QR_BORDER) -> tuple[bytes, int]:
    """The QR code (error correction M) for ``code`` as PNG bytes, and its width (= height) in pixels."""
    key = (code, scale, border)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    made = _png(*_symbol(code), scale, border)
    with _lock:
        _cache[key] = made
        while len(_cache) > KEPT:
            _cache.popitem(last=False)
    return made
