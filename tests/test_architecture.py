"""The import contracts of pyproject.toml hold, and a planted upward import breaks them."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the ``app`` package found under ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],  # reads root/pyproject.toml
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        # the cycle of issue 7: the spatial core loading itself from the database
        ("app/spatial/index.py", "import app.db.repositories", "Layers point one way"),
        # repositories taking the reader's types
        ("app/db/repositories.py", "import app.data.reader", "Layers point one way"),
        ("app/geocoding/base.py", "import app.spatial.index", "Layers point one way"),
        ("app/addresses.py", "import app.api.problems", "Layers point one way"),
        ("app/spatial/geography.py", "import fastapi", "know no web framework"),
        ("app/spatial/territories.py", "import sqlalchemy", "know no database"),
        # the offline geocoder loading itself from the database (issue 7, point 6)
        ("app/geocoding/local/geocoder.py", "import sqlalchemy", "know no database"),
        ("app/geocoding/local/tables.py", "import app.db.ban_repository", "Layers point one way"),
        ("app/geocoding/ban_file.py", "import app.data.ban_import", "Layers point one way"),
    ],
)
def test_a_planted_forbidden_import_breaks_a_contract(
    tmp_path: Path, module: str, planted: str, contract: str
) -> None:
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{planted}  # planted by the test\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert any(contract in line for line in broken), result.stdout
    assert planted.split()[-1] in result.stdout


MAX_FUNCTION_LINES = 60


def test_no_function_in_app_is_longer_than_60_lines() -> None:
    long = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name}:{node.lineno} {node.name} ({lines} lines)")
    assert not long
