"""``qpv worker`` logs one JSON object a line, like the API."""

from __future__ import annotations

import json

from tests.jobs.conftest import WorkerPool


def test_a_worker_logs_json_lines_only(workers: WorkerPool) -> None:
    workers.start(1)
    workers.stop()
    lines = [line for line in workers.output().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is a JSON object
    assert any(e["message"].startswith("worker ready") for e in entries)
    for entry in entries:
        assert {"ts", "level", "logger", "message"} <= set(entry)
        assert entry["ts"].endswith("Z")
