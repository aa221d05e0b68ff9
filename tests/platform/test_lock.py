"""The lock files (requirements/run.lock, dev.lock) are what pyproject.toml asks for: made from its current dependency
lists (a digest of them in the header), every package pinned with its hashes, every dependency present, and the
runtime pins the same as the dev pins. No network: a stale lock fails here before anyone installs from it."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import ROOT


def load_lockfile() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lockfile", ROOT / "scripts" / "lockfile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lockfile = load_lockfile()
normalized: Callable[[str], str] = lockfile.normalize  # PEP 503 names, as the lock tool compares them
RUN, DEV = ROOT / "requirements" / "run.lock", ROOT / "requirements" / "dev.lock"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)(?:\s*;\s*(?P<marker>[^\\]+?))?\s*$")


def requirement_name(requirement: str) -> str:
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert found is not None, requirement
    return normalized(found.group(0))


def entries(lock: Path) -> list[tuple[str, list[str]]]:
    """Each requirement of a lock with its options (continuation lines joined, comments dropped)."""
    found: list[tuple[str, list[str]]] = []
    joined = re.sub(r"\\\n\s*", " ", lock.read_text())
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        requirement, *options = re.split(r"\s+(?=--)", line)
        found.append((requirement, options))
    return found


def pins(lock: Path) -> dict[str, set[str]]:
    versions: dict[str, set[str]] = {}
    for requirement, _ in entries(lock):
        match = PIN.match(requirement)
        assert match is not None, f"{lock.name}: {requirement!r} is not pinned with =="
        versions.setdefault(normalized(match["name"]), set()).add(match["version"])
    return versions


@pytest.mark.parametrize("lock", [RUN, DEV], ids=["run", "dev"])
def test_the_lock_was_made_from_the_current_dependencies(lock: Path) -> None:
    assert lockfile.stale(lock) is None, "pyproject.toml's dependencies changed: run scripts/lock and commit"


def test_the_digest_follows_the_dependency_lists_not_the_formatting(tmp_path: Path) -> None:
    original = (ROOT / "pyproject.toml").read_text()
    base = lockfile.digest(ROOT / "pyproject.toml")
    cases = {
        "reordered": original.replace('  "fastapi>=0.115,<1",\n', "").replace(
            '  "alembic>=1.14",\n', '  "alembic>=1.14",\n    "fastapi>=0.115,<1",   # moved\n'
        ),
        "runtime added": original.replace('  "alembic>=1.14",\n', '  "alembic>=1.14",\n  "argon2-cffi>=23",\n'),
        "dev added": original.replace('  "pytest>=8.3",\n', '  "pytest>=8.3",\n  "openpyxl>=3.1",\n'),
        "re-pinned": original.replace('"stripe==16.1.0"', '"stripe==16.2.0"'),
        "python": original.replace('requires-python = ">=3.11"', 'requires-python = ">=3.12"'),
        "build": original.replace('requires = ["setuptools>=68", "wheel"]', 'requires = ["setuptools>=70", "wheel"]'),
        "unrelated": original.replace("line-length = 120", "line-length = 100"),
    }
    digests = {}
    for name, text in cases.items():
        assert text != original, name
        changed = tmp_path / f"{name}.toml"
        changed.write_text(text)
        digests[name] = lockfile.digest(changed)
    assert digests.pop("reordered") == base
    assert digests.pop("unrelated") == base
    assert all(value != base for value in digests.values()), digests


@pytest.mark.parametrize("lock", [RUN, DEV], ids=["run", "dev"])
def test_every_package_is_pinned_with_its_hashes(lock: Path) -> None:
    found = entries(lock)
    assert len(found) > 20
    for requirement, options in found:
        assert PIN.match(requirement), f"{lock.name}: {requirement!r} is not pinned with =="
        hashes = [option for option in options if option.startswith("--hash=sha256:")]
        assert hashes and len(hashes) == len(options), f"{lock.name}: {requirement} needs sha256 hashes only"


def test_every_dependency_is_in_its_lock() -> None:
    data = lockfile.inputs()
    runtime = {requirement_name(r) for r in [*data["dependencies"], *data["build"], *data["tools"]]}
    dev = {requirement_name(r) for r in data["dev"]}
    run_pins, dev_pins = pins(RUN), pins(DEV)
    assert runtime - set(run_pins) == set()
    assert (runtime | dev) - set(dev_pins) == set()
    assert "prometheus-client" in run_pins


def test_the_runtime_pins_are_the_dev_pins() -> None:
    dev_pins = pins(DEV)
    for name, versions in pins(RUN).items():
        assert versions <= dev_pins.get(name, set()), f"{name}: run.lock {versions}, dev.lock {dev_pins.get(name)}"


def test_what_no_lock_names_is_found_and_the_locked_packages_are_not() -> None:
    dev_only = next(iter(set(pins(DEV)) - set(pins(RUN))))
    installed = {"Uvicorn", "watchfiles", "Some_Old.Package", "boxoffice", dev_only, "pip"}
    assert lockfile.unlocked(installed) == ["some-old-package", "watchfiles"]
