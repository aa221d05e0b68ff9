"""What the lock files are made from, and whether they are still what pyproject.toml asks for (standard library only).

    python scripts/lockfile.py tools            the installer's own packages, locked too (one per line)
    python scripts/lockfile.py python           the oldest Python pyproject.toml allows (what the lock resolves for)
    python scripts/lockfile.py stamp FILE...    put the header (the inputs' digest) on freshly made lock files
    python scripts/lockfile.py check FILE...    exit 1, saying so, when a lock was made from other dependencies
    .venv/bin/python scripts/lockfile.py unlocked
                                                the packages installed in this Python that no lock names (left over
                                                from an older lock: scripts/bootstrap uninstalls them)

The digest covers the runtime and dev dependency lists, the build requirements, ``requires-python`` and the tools, each
list sorted: reformatting pyproject.toml changes nothing, adding, removing or re-pinning a dependency does.
``scripts/lock`` makes the locks, ``scripts/bootstrap`` checks them before installing, and so does a unit test
(``tests/platform/test_lock.py``).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LOCKS = (ROOT / "requirements" / "run.lock", ROOT / "requirements" / "dev.lock")
# Locked besides pyproject.toml's dependencies: pip, which installs the locks, and the build requirements, which build
# the project itself (``pip install --no-build-isolation``), so that nothing is installed unpinned.
TOOLS = ("pip",)
DIGEST_LINE = "# pyproject-dependencies-sha256: "


def inputs(pyproject: Path = PYPROJECT) -> dict[str, object]:
    data = tomllib.loads(pyproject.read_text())
    project = data["project"]
    return {
        "requires-python": project.get("requires-python", ""),
        "dependencies": sorted(project.get("dependencies", [])),
        "dev": sorted(project.get("optional-dependencies", {}).get("dev", [])),
        "build": sorted(data.get("build-system", {}).get("requires", [])),
        "tools": sorted(TOOLS),
    }


def digest(pyproject: Path = PYPROJECT) -> str:
    canonical = json.dumps(inputs(pyproject), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def recorded_digest(lock: Path) -> str | None:
    for line in lock.read_text().splitlines():
        if line.startswith(DIGEST_LINE):
            return line.removeprefix(DIGEST_LINE).strip()
        if not line.startswith("#"):
            return None
    return None


def tools(pyproject: Path = PYPROJECT) -> list[str]:
    """The requirements the lock adds to pyproject.toml's: the build requirements and pip."""
    data = tomllib.loads(pyproject.read_text())
    return [*data.get("build-system", {}).get("requires", []), *TOOLS]


def oldest_python(pyproject: Path = PYPROJECT) -> str:
    spec = tomllib.loads(pyproject.read_text())["project"].get("requires-python", "")
    found = re.search(r">=\s*(\d+\.\d+)", spec)
    if found is None:
        raise SystemExit(f"pyproject.toml's requires-python ({spec!r}) has no lower bound (>=3.x) to lock for")
    return found.group(1)


def stamp(lock: Path, pyproject: Path = PYPROJECT) -> None:
    title = f"# {lock.parent.name}/{lock.name}: "
    header = (
        f"{title}every package pinned with its hashes, made by scripts/lock from pyproject.toml (do not edit)\n"
        f"{DIGEST_LINE}{digest(pyproject)}\n"
    )
    lines = lock.read_text().splitlines(keepends=True)
    while lines and lines[0].startswith((title, DIGEST_LINE)):  # a header stamped before
        lines.pop(0)
    lock.write_text(header + "".join(lines))


def stale(lock: Path, pyproject: Path = PYPROJECT) -> str | None:
    """Why ``lock`` does not match pyproject.toml, or None when it does."""
    if not lock.is_file():
        return f"{lock.relative_to(ROOT)} is missing"
    if recorded_digest(lock) != digest(pyproject):
        return f"pyproject.toml's dependencies changed since {lock.relative_to(ROOT)} was made"
    return None


def locked_names(locks: tuple[Path, ...] = LOCKS) -> set[str]:
    """The normalized names of every package the locks pin."""
    pin = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", re.MULTILINE)
    return {normalize(name) for lock in locks for name in pin.findall(lock.read_text())}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def unlocked(installed: set[str], locks: tuple[Path, ...] = LOCKS) -> list[str]:
    """Of the ``installed`` distribution names, those no lock pins (the project itself aside). Both locks count, so
    that installing the runtime lock into a development environment removes none of the test tools."""
    project = normalize(tomllib.loads(PYPROJECT.read_text())["project"]["name"])
    return sorted(name for name in {normalize(n) for n in installed} - locked_names(locks) if name != project)


def main(argv: list[str]) -> int:
    command, files = (argv[0] if argv else ""), [Path(name).resolve() for name in argv[1:]]
    if command == "tools":
        print("\n".join(tools()))
    elif command == "python":
        print(oldest_python())
    elif command == "stamp":
        for lock in files:
            stamp(lock)
    elif command == "unlocked":
        from importlib.metadata import distributions

        print("\n".join(unlocked({dist.metadata["Name"] for dist in distributions()})))
    elif command == "check":
        problems = [problem for lock in files or LOCKS if (problem := stale(lock)) is not None]
        for problem in problems:
            print(f"{problem}: run scripts/lock (it needs PyPI), then commit requirements/", file=sys.stderr)
        return 1 if problems else 0
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
