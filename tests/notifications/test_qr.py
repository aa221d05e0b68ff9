"""Ticket QR codes: readable by a real decoder (zxing-cpp), the same pixels as segno's own PNG writer for the same
symbol, and made once per ticket code (a second email for the same ticket reuses the image)."""

from __future__ import annotations

import io
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
