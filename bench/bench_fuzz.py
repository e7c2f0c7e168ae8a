"""schemathesis against the served OpenAPI of the production topology, every check on.

``python -m bench.bench_fuzz [--max-examples 30]`` brings up deploy/topology.py (PostGIS, two
replicas behind nginx, closed with an API key of every scope) and runs ``schemathesis run``
on one replica's ``/openapi.json`` with all checks (no 5xx, every response matching the
schema: status codes, content types, headers, bodies). schemathesis is a tool, not a project
dependency: ``.venv/bin/pip install schemathesis`` first. Its summary is printed as is; the
exit code is schemathesis's own.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from deploy.topology import ROOT, topology


def main() -> int:
    """Run schemathesis on the topology; its exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=30)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "geodata")
    args = parser.parse_args()
    tool = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if tool is None:
        print("schemathesis is not installed: .venv/bin/pip install schemathesis")
        return 2
    with topology(args.data_dir, replicas=1, workers=1) as topo:
        replica = topo.replicas[0]
        done = subprocess.run(
            [
                tool,
                "run",
                f"{replica}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                str(args.max_examples),
                "--header",
                f"Authorization: Bearer {topo.key}",
                "--url",
                replica,
                "--seed",
                "7",
            ],
            check=False,
        )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
