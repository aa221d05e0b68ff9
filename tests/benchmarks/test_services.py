"""The benchmarks stop every process they started, however they end: an exception inside ``process``, or SIGTERM to
the benchmark itself (``stop_on_sigterm`` unwinds it like Ctrl-C)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from benchmarks.services import process
from tests.processes import ROOT

# A process with a child of its own, as `boxoffice serve --workers 2` has.
PARENT = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); time.sleep(120)"
)


def gone(pids: list[int]) -> bool:
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True


def family(pid: int) -> list[int]:
    deadline = time.monotonic() + 30
    while True:  # the child is started by the parent a moment after it starts
        children = psutil.Process(pid).children(recursive=True)
        if children or time.monotonic() > deadline:
            return [pid, *(c.pid for c in children)]
        time.sleep(0.05)


def wait_gone(pids: list[int]) -> bool:
    deadline = time.monotonic() + 30
    while not gone(pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.integration
def test_a_failing_benchmark_stops_its_processes_and_their_children(tmp_path: Path) -> None:
    pids: list[int] = []
    with (
        pytest.raises(RuntimeError, match="the benchmark failed"),
        process([sys.executable, "-c", PARENT], dict(os.environ), tmp_path / "log") as proc,
    ):
        pids = family(proc.pid)
        assert len(pids) == 2
        raise RuntimeError("the benchmark failed")
    assert wait_gone(pids)


@pytest.mark.integration
def test_sigterm_to_a_benchmark_stops_what_it_started(tmp_path: Path) -> None:
    bench = textwrap.dedent(
        f"""
        import os, sys, time
        from pathlib import Path
        from benchmarks.services import process, stop_on_sigterm
        stop_on_sigterm()
        with process([sys.executable, "-c", {PARENT!r}], dict(os.environ), Path({str(tmp_path / "log")!r})) as proc:
            print(proc.pid, flush=True)
            time.sleep(120)
        """
    )
    runner = subprocess.Popen([sys.executable, "-c", bench], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert runner.stdout is not None
        started = int(runner.stdout.readline())
        pids = family(started)
        assert len(pids) == 2
        runner.send_signal(signal.SIGTERM)
        runner.wait(30)
        assert wait_gone(pids)
    finally:
        if runner.poll() is None:
            runner.kill()
