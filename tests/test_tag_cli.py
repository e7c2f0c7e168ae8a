"""``qpv tag``: in-process tagging from the command line, errors on one line, exit 2."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest

from app.cli import main
from tests.batch.conftest import awkward_csv


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, geocoded_sqlite_url: str) -> None:
    """The CLI reads the loaded SQLite file with the offline geocoder."""
    monkeypatch.setenv("QPV_DATABASE_URL", geocoded_sqlite_url)
    monkeypatch.setenv("QPV_GEOCODERS", '["local"]')


def _statuses(path: Path, encoding: str = "utf-8", delimiter: str = ";") -> list[str]:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding), newline=""), delimiter=delimiter))
    return [r[rows[0].index("qpv_status")] for r in rows[1:]]


@pytest.mark.usefixtures("env")
def test_tag_writes_every_row_and_prints_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content, expected = awkward_csv("cp1252")
    (tmp_path / "in.csv").write_bytes(content)
    code = main(
        [
            "tag",
            str(tmp_path / "in.csv"),
            "-o",
            str(tmp_path / "out.csv"),
            "--lat",
            "lat",
            "--lon",
            "lon",
        ]
    )
    assert code == 0
    assert _statuses(tmp_path / "out.csv", "cp1252") == [s for _, s in expected]
    err = capsys.readouterr().err
    assert "qpv: 8 rows in" in err and "invalid 5, in 2, out 1" in err


@pytest.mark.usefixtures("env")
def test_tag_reads_stdin_and_writes_stdout(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    data = b"adresse,cp\n4 rue Eric Tabarly,93140\nrue Polonceau,75018\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["tag", "-", "-o", "-", "--columns", "adresse", "--postcode", "cp", "-q"]) == 0
    out = capsysbinary.readouterr().out.decode()
    rows = list(csv.reader(io.StringIO(out)))
    assert [r[2] for r in rows[1:]] == ["in", "street_partial"]
    assert rows[1][3] == "QN09314M"


@pytest.mark.usefixtures("env")
def test_the_output_format_follows_the_suffix(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    (tmp_path / "in.csv").write_bytes(b"lat;lon\n48,88699;2,35313\n")
    assert (
        main(
            [
                "tag",
                str(tmp_path / "in.csv"),
                "-o",
                str(tmp_path / "out.parquet"),
                "--lat",
                "lat",
                "--lon",
                "lon",
                "-q",
            ]
        )
        == 0
    )
    assert pq.read_table(tmp_path / "out.parquet").column("qpv_code").to_pylist() == ["QN07511M"]


@pytest.mark.usefixtures("env")
def test_workers_split_the_file_and_keep_the_order(tmp_path: Path) -> None:
    content, expected = awkward_csv("utf-8")
    (tmp_path / "in.csv").write_bytes(content)
    args = ["tag", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"), "--lat", "lat"]
    args += ["--lon", "lon", "--workers", "2", "--chunk-rows", "3", "-q"]
    assert main(args) == 0
    assert _statuses(tmp_path / "out.csv") == [s for _, s in expected]


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lat", "nope", "--lon", "lon"], "qpv: error: lat: no column 'nope'"),
        (["--lat", "lat"], "qpv: error: lon: lat= names a column"),
        (["--lat", "lat", "--lon", "lon", "--provider", "nope"], "qpv: error: provider:"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    content, _ = awkward_csv("utf-8")
    (tmp_path / "in.csv").write_bytes(content)
    assert main(["tag", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(message)


@pytest.mark.usefixtures("env")
def test_a_missing_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tag", str(tmp_path / "nope.csv"), "-o", "-", "--lat", "a", "--lon", "b"]) == 2
    assert capsys.readouterr().err.strip().endswith("no such file")
