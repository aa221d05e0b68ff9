"""Real server processes for drills: ``boxoffice serve`` and ``boxoffice sandbox`` as OS processes that a test can
SIGKILL and restart on the same port."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A child process in its own session, logging to a file; ``kill()`` is SIGKILL, ``stop()`` is SIGTERM."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, *self.args],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        return self

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def _signal(self, sig: signal.Signals) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


async def wait_up(url: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient() as client:
        while asyncio.get_running_loop().time() < deadline:
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def server_env(database_url: str, port: int, tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "BOXOFFICE_DATABASE_URL": database_url,
        "BOXOFFICE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "BOXOFFICE_MAIL_DIR": str(tmp / "mail"),
        "BOXOFFICE_LOG_LEVEL": "WARNING",
        "BOXOFFICE_SECRET_KEY": "drill-secret",
        # Every client is 127.0.0.1 and drills sell hundreds of tickets: the limits per address are off (the caps per
        # email stay on).
        "BOXOFFICE_ORDER_RATE_PER_MINUTE": "0",
        "BOXOFFICE_MAX_HELD_TICKETS_PER_ADDRESS": "0",
        **extra,
    }


def boxoffice(port: int, env: dict[str, str], log: Path) -> Proc:
    return Proc(["-m", "boxoffice.cli", "serve", "--port", str(port)], env, log)


def sandbox(port: int, *, key: str, webhook_url: str, secret: str, log: Path, latency_ms: int = 0) -> Proc:
    return Proc(
        [
            "-m",
            "boxoffice.cli",
            "sandbox",
            "--port",
            str(port),
            "--api-key",
            key,
            "--webhook-url",
            webhook_url,
            "--webhook-secret",
            secret,
            "--checkout-latency-ms",
            str(latency_ms),
        ],
        {},
        log,
    )


@dataclass
class PaidServer:
    """A Boxoffice process with a test-mode key, paying at a sandbox process of its own (not started yet)."""

    server: Proc
    stripe: Proc
    box_url: str
    sb_url: str


def paid_server(database_url: str, tmp: Path, **extra: str) -> PaidServer:
    key, secret = f"sk_test_drill{secrets.token_hex(8)}", f"whsec_drill{secrets.token_hex(8)}"
    sb_port, box_port = free_port(), free_port()
    box_url, sb_url = f"http://127.0.0.1:{box_port}", f"http://127.0.0.1:{sb_port}"
    stripe = sandbox(sb_port, key=key, webhook_url=f"{box_url}/webhooks/stripe", secret=secret, log=tmp / "sandbox.log")
    env = server_env(
        database_url,
        box_port,
        tmp,
        STRIPE_SECRET_KEY=key,
        STRIPE_WEBHOOK_SECRETS=secret,
        STRIPE_API_BASE=sb_url,
        **extra,
    )
    return PaidServer(boxoffice(box_port, env, tmp / "server.log"), stripe, box_url, sb_url)
