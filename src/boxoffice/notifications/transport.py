"""Email transports: SMTP (aiosmtplib) in production, ``.eml`` files in a folder for the embedded default.

Every failure to hand a message over raises ``TransportError``, which the caller treats as retryable. Credentials
never appear in ``repr()``, in error messages or in logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import socket
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    import aiosmtplib

    from boxoffice.notifications.mime import ComposedEmail

__all__ = ["EmailTransport", "FileTransport", "Outgoing", "SMTPTransport", "TransportError", "make_transport"]

Outgoing: TypeAlias = "EmailMessage | ComposedEmail"
"""What a transport sends: an ``EmailMessage``, or an email already composed to bytes (``notifications/mime.py``,
imported where an email is sent: a web worker makes a transport but never sends through it)."""

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class TransportError(Exception):
    """Sending failed; the message may be retried. ``smtp_code`` is the server's reply code when there was one."""

    def __init__(self, message: str, *, smtp_code: int | None = None) -> None:
        super().__init__(message)
        self.smtp_code = smtp_code

    @property
    def permanent(self) -> bool:
        """The server said 5xx: retrying the same message is unlikely to help (callers may still retry)."""
        return self.smtp_code is not None and 500 <= self.smtp_code < 600


class EmailTransport(ABC):
    @abstractmethod
    async def send(self, message: Outgoing) -> None:
        """Hand the message over; ``TransportError`` if that failed."""

    async def send_many(self, messages: Sequence[Outgoing]) -> list[TransportError | None]:
        """Hand several messages over; for each, ``None`` when it was handed over, else its ``TransportError``.
        One message's failure does not stop the others. Transports override this to share the work of a batch."""
        errors: list[TransportError | None] = []
        for message in messages:
            try:
                await self.send(message)
            except TransportError as exc:
                errors.append(exc)
            else:
                errors.append(None)
        return errors


class SMTPTransport(EmailTransport):
    """SMTP through aiosmtplib: one connection per ``send``, one per batch with ``send_many``.

    ``start_tls``: ``True`` requires STARTTLS, ``False`` never uses it, ``None`` upgrades when the server offers it.
    With credentials, ``None`` means ``True``: a password is never sent in clear because a server (or someone in
    between, stripping the offer) did not offer STARTTLS. Only an explicit ``False`` (``?starttls=false``) allows it.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        start_tls: bool | None = None,
        timeout: float = 20.0,
        local_hostname: str | None = None,
    ) -> None:
        if use_tls and start_tls:
            raise ValueError("implicit TLS (smtps://) and STARTTLS exclude each other")
        if timeout <= 0:
            raise ValueError("the SMTP timeout must be positive")
        if start_tls is None and not use_tls and (username or password):
            start_tls = True  # credentials travel over TLS or not at all
        self.host = host
        self.port = port
        self.username = username
        self.__password = password  # name-mangled and left out of repr()
        self.use_tls = use_tls
        self.start_tls = start_tls
        self.timeout = timeout
        self.local_hostname = local_hostname
        # The name we greet with when none is configured: aiosmtplib looks it up (socket.getfqdn, a thread hop and
        # perhaps a DNS query) on every connection; it is looked up once here, the same way, and kept.
        self._found_hostname: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SMTPTransport:
        """``smtp://user:pass@host:587?starttls=true``, ``smtps://user:pass@host:465`` (implicit TLS),
        ``smtp://host:25?starttls=false&timeout=10&helo=mail.example.com``. User and password are percent-decoded.
        With credentials and no ``starttls``, STARTTLS is required; ``starttls=false`` sends them in clear.

        Errors never quote the URL, which may carry a password."""
        try:
            parts = urlsplit(url.strip())
            host, port = parts.hostname, parts.port
            username = unquote(parts.username) if parts.username else None
            password = unquote(parts.password) if parts.password is not None else None
        except ValueError:
            raise ValueError("the SMTP URL could not be parsed (expected smtp://user:password@host:port)") from None
        if parts.scheme not in ("smtp", "smtps") or not host:
            raise ValueError("the SMTP URL must look like smtp://user:password@host:port or smtps://...")
        query = {key.lower(): values[-1] for key, values in parse_qs(parts.query).items()}
        implicit = parts.scheme == "smtps"
        start_tls: bool | None = None
        if "starttls" in query:
            flag = query["starttls"].lower()
            if flag not in _TRUE + _FALSE:
                raise ValueError("starttls in the SMTP URL must be true or false")
            start_tls = flag in _TRUE
        if implicit:
            if start_tls:
                raise ValueError("smtps:// already uses TLS; leave out starttls=true")
            start_tls = False
        try:
            timeout = float(query.get("timeout", "20"))
        except ValueError:
            raise ValueError("timeout in the SMTP URL must be a number of seconds") from None
        return cls(
            host,
            port or (465 if implicit else 587 if start_tls else 25),
            username=username,
            password=password,
            use_tls=implicit,
            start_tls=start_tls,
            timeout=timeout,
            local_hostname=query.get("helo") or None,
        )

    def __repr__(self) -> str:
        scheme = "smtps" if self.use_tls else "smtp"
        user = ""
        if self.username:
            user = f"{self.username}:***@" if self.__password else f"{self.username}@"
        elif self.__password:
            user = ":***@"
        tls = "" if self.start_tls is None else f"?starttls={str(self.start_tls).lower()}"
        return f"SMTPTransport({scheme}://{user}{self.host}:{self.port}{tls})"

    __str__ = __repr__

    async def _greeting_name(self) -> str:
        if self.local_hostname:
            return self.local_hostname
        if self._found_hostname is None:
            self._found_hostname = await asyncio.to_thread(socket.getfqdn)
        return self._found_hostname

    def _client(self, local_hostname: str) -> aiosmtplib.SMTP:
        import aiosmtplib  # here, not at the top: only a process that sends by SMTP loads it (not a web worker)

        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.__password,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            timeout=self.timeout,
            local_hostname=local_hostname,
        )

    async def send(self, message: Outgoing) -> None:
        error = (await self.send_many([message]))[0]
        if error is not None:
            raise error from None  # nothing chained: a cause could carry what the server or the OS said about us

    async def send_many(self, messages: Sequence[Outgoing]) -> list[TransportError | None]:
        """The messages over one connection (connect, authenticate and TLS once per batch, not per message). A
        refusal of one message (the server's reply) fails that message only; a broken connection fails it and the
        rest of the batch (retried later, like any transport failure)."""
        import aiosmtplib

        from boxoffice.notifications.mime import ComposedEmail

        errors: list[TransportError | None] = []
        if not messages:
            return errors
        try:
            client = self._client(await self._greeting_name())
            await client.connect()
        except Exception as exc:
            error = self._error(exc)
            return [error] * len(messages)
        try:
            for index, message in enumerate(messages):
                try:
                    if isinstance(message, ComposedEmail):
                        await client.sendmail(message.envelope_from, list(message.recipients), message.data)
                    else:
                        await client.send_message(message)
                except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused) as exc:
                    errors.append(self._error(exc))  # this message refused: the next one may go through
                    with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                        await client.rset()
                    if not client.is_connected:
                        rest = len(messages) - index - 1
                        errors += [TransportError(f"SMTP server {self.host}:{self.port} closed the connection")] * rest
                        break
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                    errors += [self._error(exc)] * (len(messages) - index)
                    break
                else:
                    errors.append(None)
        finally:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.quit()
            client.close()
        return errors

    def _error(self, exc: BaseException) -> TransportError:
        """The failure as a ``TransportError``: the server's reply when there was one, never our credentials."""
        import aiosmtplib

        if isinstance(exc, aiosmtplib.SMTPResponseException):
            # The server's reply (code and text); aiosmtplib never puts our credentials in it.
            return TransportError(
                f"SMTP server {self.host}:{self.port} refused the message: {exc.code} {exc.message}",
                smtp_code=exc.code,
            )
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            codes = [r.code for r in exc.recipients]
            return TransportError(
                f"SMTP server {self.host}:{self.port} refused every recipient: "
                + "; ".join(f"{r.code} {r.message}" for r in exc.recipients),
                smtp_code=min(codes) if codes else None,
            )
        if isinstance(exc, aiosmtplib.SMTPException) and self.start_tls and "starttls" in str(exc).lower():
            return TransportError(
                f"SMTP server {self.host}:{self.port} does not offer STARTTLS: not sending "
                + ("the credentials in clear" if self.username or self.__password else "without TLS")
                + " (add ?starttls=false to BOXOFFICE_SMTP_URL only for a trusted local relay)"
            )
        return TransportError(f"SMTP delivery to {self.host}:{self.port} failed: {type(exc).__name__}: {exc}")


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._@-]+")
_EML_NAME = re.compile(r"\d{8}T\d{6}\d{6}Z-(.+)\.eml")


class FileTransport(EmailTransport):
    """Writes each message to ``<folder>/<UTC timestamp>-<safe Message-ID>.eml``.

    Atomic (a temporary file in the same folder, flushed to disk, then renamed), and idempotent per Message-ID:
    sending a message whose Message-ID was already written replaces that same file, keeping its name. A message
    without a Message-ID is named after a hash of its content. Files sort by the time they were first written.

    The folder's names are read once and kept, with the folder's modification time: while no other process writes
    to the folder, a send looks its Message-ID up without listing the folder again (listing it for every send made
    sending n emails cost n² directory entries); when another process has written, the folder is listed again.
    """

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()  # two sends of one Message-ID from this process never race for the name
        self._names: dict[str, Path] = {}  # safe Message-ID -> its file, as of ``_listed``
        self._listed: int | None = None  # the folder's st_mtime_ns when ``_names`` was right

    def __repr__(self) -> str:
        return f"FileTransport({str(self.folder)!r})"

    @staticmethod
    def safe_id(message: Outgoing, data: bytes) -> str:
        from boxoffice.notifications.mime import ComposedEmail

        if isinstance(message, ComposedEmail):
            raw = message.message_id.strip().strip("<>")
        else:
            raw = str(message.get("Message-ID", "") or "").strip().strip("<>")
        safe = _UNSAFE_NAME.sub("_", raw).strip("._")[:150]
        if not safe:
            return "nomsgid_" + hashlib.sha256(data).hexdigest()[:32]
        if safe != raw:  # keep distinct ids distinct once made safe
            safe = f"{safe}_{hashlib.sha256(raw.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"
        return safe

    def _folder_mtime(self) -> int | None:
        try:
            return os.stat(self.folder).st_mtime_ns
        except FileNotFoundError:
            return None

    def _existing(self, safe_id: str) -> Path | None:
        mtime = self._folder_mtime()
        if mtime is None:
            return None
        if mtime != self._listed:
            names: dict[str, Path] = {}
            for name in sorted(os.listdir(self.folder)):  # the earliest file of a Message-ID wins
                match = _EML_NAME.fullmatch(name)
                if match:
                    names.setdefault(match.group(1), self.folder / name)
            self._names, self._listed = names, mtime
        return self._names.get(safe_id)

    def path_for(self, message: Outgoing) -> Path:
        """Where ``message`` is (or would be) written."""
        safe = self.safe_id(message, self._bytes(message))
        with self._lock:
            return self._existing(safe) or self._new_path(safe)

    def _new_path(self, safe_id: str) -> Path:
        return self.folder / f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}Z-{safe_id}.eml"

    @staticmethod
    def _bytes(message: Outgoing) -> bytes:
        from boxoffice.notifications.mime import ComposedEmail

        if isinstance(message, ComposedEmail):
            return message.data
        return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))  # RFC 5322 line endings

    def _write(self, message: Outgoing) -> Path:
        data = self._bytes(message)
        self.folder.mkdir(parents=True, exist_ok=True)
        safe = self.safe_id(message, data)
        with self._lock:
            target = self._existing(safe) or self._new_path(safe)
            listed = self._listed is not None
            self._atomic_write(target, data)
            if listed:
                # Our own write changed the folder, and we know how. (Should another process write in that very
                # moment, one of its Message-IDs is missed until the folder changes again: at worst a second file.)
                self._names[safe] = target
                self._listed = self._folder_mtime()
        return target

    def _atomic_write(self, target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".eml.tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    async def send(self, message: Outgoing) -> None:
        error = (await self.send_many([message]))[0]
        if error is not None:
            raise error from None  # nothing chained: a cause could carry what the server or the OS said about us

    async def send_many(self, messages: Sequence[Outgoing]) -> list[TransportError | None]:
        """Every file written by one thread hop (not one per message); each file is still flushed to disk before
        it is named, so a message reported sent is on disk."""
        return await asyncio.to_thread(self._write_all, messages)

    def _write_all(self, messages: Sequence[Outgoing]) -> list[TransportError | None]:
        errors: list[TransportError | None] = []
        for message in messages:
            try:
                self._write(message)
            except OSError as exc:
                errors.append(TransportError(f"could not write the email file: {type(exc).__name__}: {exc.strerror}"))
            else:
                errors.append(None)
        return errors


def make_transport(smtp_url: str | None, mail_dir: Path | str) -> EmailTransport:
    """SMTP when a URL is configured, otherwise ``.eml`` files in ``mail_dir``."""
    return SMTPTransport.from_url(smtp_url) if smtp_url else FileTransport(Path(mail_dir))
