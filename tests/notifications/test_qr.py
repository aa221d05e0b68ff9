"""Ticket QR codes: readable by a real decoder (zxing-cpp), the same pixels as segno's own PNG writer for the same
symbol, and made once per ticket code (a second email for the same ticket reuses the image)."""

from __future__ import annotations

import io
import random
import secrets

import pytest
import segno
import zxingcpp
from PIL import Image

from boxoffice.notifications import qr
from boxoffice.notifications.codes import sign_ticket_code, ticket_code

SECRET = b"qr-test-secret"


def decode(png: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1
    return str(found[0].text)


def test_codes_decode_at_their_stated_size() -> None:
    codes = [sign_ticket_code(f"tkt_{secrets.token_hex(12)}", SECRET) for _ in range(100)]
    codes += [ticket_code(f"tkt_{secrets.token_hex(12)}", 7, SECRET), sign_ticket_code("t", SECRET)]
    for code in codes:
        png, width = qr.qr_png(code)
        image = Image.open(io.BytesIO(png))
        assert image.size == (width, width)
        assert decode(png) == code


def test_pixels_match_segnos_writer() -> None:
    code = sign_ticket_code("tkt_pixels", SECRET)
    symbol = segno.make_qr(code, error="m", mask=qr.QR_MASK)
    out = io.BytesIO()
    symbol.save(out, kind="png", scale=qr.QR_SCALE, border=qr.QR_BORDER)
    theirs = Image.open(out).convert("L")
    ours = Image.open(io.BytesIO(qr.qr_png(code)[0])).convert("L")
    assert ours.size == theirs.size
    assert ours.tobytes() == theirs.tobytes()


def test_same_ticket_same_image_made_once() -> None:
    code = sign_ticket_code(f"tkt_{secrets.token_hex(12)}", SECRET)
    first = qr.qr_png(code)
    assert (code, qr.QR_SCALE, qr.QR_BORDER) in qr._cache
    again = qr.qr_png(code)
    assert again is first  # the kept image, not a new one
    assert decode(again[0]) == code
    other = qr.qr_png(sign_ticket_code(f"tkt_{secrets.token_hex(12)}", SECRET))
    assert other[0] != first[0]


def test_the_cache_keeps_a_bounded_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qr, "KEPT", 3)
    codes = [sign_ticket_code(f"tkt_bound{i}", SECRET) for i in range(5)]
    for code in codes:
        qr.qr_png(code)
    assert len(qr._cache) <= 3
    assert (codes[-1], qr.QR_SCALE, qr.QR_BORDER) in qr._cache
    assert (codes[0], qr.QR_SCALE, qr.QR_BORDER) not in qr._cache


def segnos_modules(code: str) -> tuple[int, str]:
    matrix = segno.make_qr(code, error="m", mask=qr.QR_MASK).matrix
    return len(matrix), "".join("1" if module & 1 else "0" for row in matrix for module in row)


def test_the_symbol_is_segnos_for_every_length() -> None:
    """Our byte-mode encoder makes, module for module, the symbol segno makes (versions 1 to 40, error levels M, Q
    and H as segno boosts them, every way the data meets the codeword boundary)."""
    rng = random.Random(15)
    printable = [chr(c) for c in range(0x21, 0x7F)]
    lengths = [*range(1, 200), 271, 400, 1000, 2331]  # 2331 bytes: the most version 40-M holds
    for length in lengths:
        code = "".join(rng.choice(printable) for _ in range(length))
        if set(code) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"):
            continue  # segno's numeric or alphanumeric mode, which we leave to segno
        assert qr._byte_mode_symbol(code.encode("ascii")) is not None
        assert qr._symbol(code) == segnos_modules(code), length
    for _ in range(50):
        code = sign_ticket_code(f"tkt_{secrets.token_hex(12)}", SECRET)
        assert qr._symbol(code) == segnos_modules(code)


def test_codes_segno_encodes_otherwise_go_to_segno() -> None:
    for code in ["12345678", "TKT-ABC.123", "tkt_é.ABC"]:  # numeric, alphanumeric, not ASCII
        assert qr._symbol(code) == segnos_modules(code)
    assert qr._byte_mode_symbol(b"x" * 2400) is None  # more than version 40 holds
    with pytest.raises(segno.DataOverflowError):
        qr._symbol("x" * 2400)  # segno says so
