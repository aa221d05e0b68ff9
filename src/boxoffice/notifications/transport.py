"""Email transports: SMTP (aiosmtplib) in production, ``.eml`` files in the embedded default."""

from __future__ import annotations

import os
import re
import tempfile
from abc import ABC, abstractmethod
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib


class TransportError(Exception):
    """Sending failed; the message may be retried."""


class EmailTransport(ABC):
    @abstractmethod
    async def send(self, message: EmailMessage) -> None: ...


class SMTPTransport(EmailTransport):
    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        start_tls: bool = False,
        timeout: float = 20.0,
    ) -> None:
        self.host, self.port = host, port
        self.username = username
        self._password = password
        self.use_tls, self.start_tls, self.timeout = use_tls, start_tls, timeout

    @classmethod
    def from_url(cls, url: str) -> SMTPTransport:
        """``smtp://user:pass@host:587?starttls=true`` or ``smtps://user:pass@host:465``."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("BOXOFFICE_SMTP_URL must look like smtp://user:password@host:port")
        query = parse_qs(parts.query)
        implicit = parts.scheme == "smtps"
        return cls(
            parts.hostname,
            parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit,
            start_tls=query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes"),
            timeout=float(query.get("timeout", ["20"])[0]),
        )

    def __repr__(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"SMTPTransport(smtp://{user}{self.host}:{self.port})"

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self._password,
                use_tls=self.use_tls,
                start_tls=self.start_tls,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # aiosmtplib's messages carry the server's reply, never our credentials.
            raise TransportError(
                f"SMTP delivery to {self.host}:{self.port} failed: {type(exc).__name__}: {exc}"
            ) from None


class FileTransport(EmailTransport):
    """Writes each message to ``<folder>/<message id>.eml`` atomically; the same Message-ID overwrites the file."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"FileTransport({str(self.folder)!r})"

    def path_for(self, message: EmailMessage) -> Path:
        raw = str(message.get("Message-ID", "")).strip("<>") or "message"
        return self.folder / (re.sub(r"[^A-Za-z0-9._-]+", "_", raw)[:180] + ".eml")

    async def send(self, message: EmailMessage) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self.path_for(message)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as out:
                out.write(message.as_bytes())
            os.replace(tmp, target)
        except OSError as exc:
            raise TransportError(f"could not write the email file: {exc}") from None


def make_transport(smtp_url: str | None, mail_dir: Path) -> EmailTransport:
    return SMTPTransport.from_url(smtp_url) if smtp_url else FileTransport(Path(mail_dir))
