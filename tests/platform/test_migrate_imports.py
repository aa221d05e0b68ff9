"""The web app checks the schema's revision (/readyz) without importing Alembic: the head is read from the migration
files and agrees with Alembic's own; the database's revision is read from its version table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from boxoffice import migrate
from tests.processes import ROOT


def test_the_head_read_from_the_files_is_alembics_head() -> None:
    assert migrate.head_revision() == ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


def test_two_heads_are_refused(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (versions / "b.py").write_text('revision: str = "b"\ndown_revision: str | None = "a"\n')
    (versions / "c.py").write_text('revision = "c"\ndown_revision = "a"\n')
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(migrate, "MIGRATIONS_DIR", tmp_path)
        with pytest.raises(RuntimeError, match=r"2 heads, not one: \['b', 'c'\]"):
            migrate.head_revision()
        (versions / "d.py").write_text('revision = "d"\ndown_revision = ("b", "c")\n')  # a merge
        assert migrate.head_revision() == "d"


async def test_the_revision_of_an_empty_and_of_a_migrated_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'rev.db'}"
    assert await migrate.current_revision(url) is None
    await migrate.upgrade(url)
    assert await migrate.current_revision(url) == migrate.head_revision()
    assert await migrate.is_current(url)


def test_a_web_process_loads_no_alembic(tmp_path: Path) -> None:
    code = (
        "import json, os, sys\n"
        f"os.environ['BOXOFFICE_DATABASE_URL'] = 'sqlite+aiosqlite:///{tmp_path / 'web.db'}'\n"
        "from boxoffice.web.app import create_app\n"
        "create_app()\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako'})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
