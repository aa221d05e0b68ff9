"""Composing a MIME message straight to bytes, for the emails sent in bulk (the ticket confirmation).

Building an ``email.message.EmailMessage`` tree and flattening it cost about 3 ms an email: the standard library
parses every header and every MIME parameter it is given (and again when it writes them out). A confirmation always
has the same shape, so it is written here directly: headers that are short printable ASCII as they are, any other
through the standard library's own header folding (RFC 2047 encoded words, folding; kept in a small cache, since
the sender, the organizer and the subject repeat through a sale), text as quoted-printable (7bit when it can be),
binary parts as base64, CRLF line endings. ``ComposedEmail.as_message`` parses the bytes back for whoever wants the
``EmailMessage`` API (tests, previews); the transports send the bytes as they are.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP, default

__all__ = ["ComposedEmail", "Part", "address", "binary_part", "compose", "header", "multipart", "text_part"]

_PLAIN_HEADER = re.compile(r"[ -~]*")  # printable ASCII and spaces, nothing that needs encoding or escaping
_MAX_LINE = 78
# dot-atoms of letters, digits, "_", "+" and "-" on both sides of the @: an address the standard library's parser
# reads as it is written (no quoting, no comment, no folding white space)
_PLAIN_ADDRESS = re.compile(r"([A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*)@([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)")


def address(addr_spec: str, display_name: str = "") -> Address:
    """``Address(display_name=..., addr_spec=...)``, the same object, without the standard library's parse of a
    plain address (a twentieth of a confirmation email's CPU): one of dot-atoms is given as its two parts, which
    ``Address`` takes as they are; any other goes through the parse, and its errors."""
    plain = _PLAIN_ADDRESS.fullmatch(addr_spec)
    if plain is None:
        return Address(display_name=display_name, addr_spec=addr_spec)
    return Address(display_name=display_name, username=plain[1], domain=plain[2])


@dataclass(frozen=True)
class ComposedEmail:
    """An email ready to hand over: its bytes (CRLF line endings), its Message-ID and its envelope."""

    data: bytes
    message_id: str
    envelope_from: str
    recipients: tuple[str, ...]

    def as_message(self) -> EmailMessage:
        """The same email as an ``EmailMessage`` (parsed from the bytes, with the line endings Python uses inside)."""
        message = BytesParser(policy=default).parsebytes(self.data.replace(b"\r\n", b"\n"))
        assert isinstance(message, EmailMessage)
        return message


@functools.lru_cache(maxsize=1024)
def _folded(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:  # as EmailMessage refuses them: a line break would start a new header
        raise ValueError("header values may not contain line breaks")
    return str(SMTP.header_factory(name, value).fold(policy=SMTP))


def header(name: str, value: str) -> str:
    """``Name: value`` and CRLF: as it is when it is short printable ASCII, otherwise encoded and folded."""
    if len(name) + len(value) + 2 <= _MAX_LINE and _PLAIN_HEADER.fullmatch(value):
        return f"{name}: {value}\r\n"
    return _folded(name, value)


@functools.lru_cache(maxsize=256)
def envelope_address(value: str) -> str:
    """The address of a header value such as ``Boxoffice <tickets@example.com>`` (for ``MAIL FROM``)."""
    addresses = SMTP.header_factory("From", value).addresses
    if len(addresses) != 1:
        raise ValueError("the sender must be exactly one address")
    return str(addresses[0].addr_spec)


@dataclass(frozen=True)
class Part:
    """A MIME part: its header lines (each ending in CRLF) and its encoded body (CRLF line endings)."""

    headers: str
    body: bytes

    def to_bytes(self) -> bytes:
        return self.headers.encode("ascii") + b"\r\n" + self.body


def text_part(subtype: str, text: str) -> Part:
    """``text/<subtype>`` in UTF-8: 7bit when the text is ASCII in short lines, otherwise quoted-printable."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    content_type = f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
    if text.isascii() and all(len(line) <= _MAX_LINE and not line.endswith((" ", "\t")) for line in lines):
        body = "\r\n".join(lines).encode("ascii")
        return Part(content_type + "Content-Transfer-Encoding: 7bit\r\n", body)
    encoded = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True, header=False)
    return Part(content_type + "Content-Transfer-Encoding: quoted-printable\r\n", encoded.replace(b"\n", b"\r\n"))


def binary_part(headers: Sequence[str], data: bytes) -> Part:
    """A base64 part; ``headers`` are its header lines (with CRLF), Content-Transfer-Encoding is added."""
    body = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return Part("".join(headers) + "Content-Transfer-Encoding: base64\r\n", body)


def _boundary() -> str:
    return f"=_bx_{secrets.token_hex(12)}"  # "=_" never occurs in quoted-printable or base64 text


def multipart(subtype: str, parts: Sequence[Part], *, extra: Sequence[str] = ()) -> Part:
    """``multipart/<subtype>`` of ``parts``; ``extra`` are more header lines of its own (with CRLF)."""
    boundary = _boundary()
    delimiter = f"--{boundary}\r\n".encode("ascii")
    chunks = []
    for part in parts:
        data = part.to_bytes()
        if boundary.encode("ascii") in data:  # a 7bit text quoting our random boundary: try another
            return multipart(subtype, parts, extra=extra)
        chunks.append(delimiter + data + b"\r\n")
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode("ascii")
    return Part(f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n' + "".join(extra), body)


def compose(headers: Sequence[tuple[str, str]], body: Part, *, sender: str, to: Address) -> ComposedEmail:
    """The whole email: ``headers`` (name, value) first, then MIME-Version and the body part's own headers."""
    lines = "".join(header(name, value) for name, value in headers)
    top = lines + "MIME-Version: 1.0\r\n" + body.headers
    message_id = next(value for name, value in headers if name == "Message-ID")
    return ComposedEmail(
        data=top.encode("ascii") + b"\r\n" + body.body,
        message_id=message_id,
        envelope_from=envelope_address(sender),
        recipients=(to.addr_spec,),
    )
