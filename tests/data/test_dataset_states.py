"""A file that differs too much from the dataset in use is refused unless forced; every
dataset stays listed with its state, and a previous one is made current again in one command."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from app.cli import main
from app.data.importer import ImportOptions, import_qpv_file, list_datasets
from app.db.session import make_engine
from tests.conftest import GEODATA, QPV2024_GEOJSON
from tests.data.stored import counts

QPV2015_DIR = GEODATA / "qpv2015"


def _states(url: str) -> list[tuple[int, str, int]]:
    engine = make_engine(url)
    states = [(d.id, d.state, d.feature_count) for d in list_datasets(engine)]
    engine.dispose()
    return states


def _three_features(folder: Path) -> Path:
    source = json.loads(QPV2024_GEOJSON.read_text(encoding="utf-8"))
    path = folder / "three.geojson"
    path.write_text(json.dumps({**source, "features": source["features"][:3]}))
    return path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], list[str]]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def test_a_three_feature_file_does_not_replace_1584_qpv_unless_forced_and_can_be_undone(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QPV_DATABASE_URL", database_url)
    official = import_qpv_file(make_engine(database_url), QPV2024_GEOJSON).dataset_id
    three = _three_features(tmp_path)

    code, _, err = _run(["data", "import", str(three)], capsys)
    assert code == 2 and len(err) == 1
    assert err[0] == (
        "qpv: error: three.geojson differs too much from the dataset in use (feature count, "
        f"codes gone, total area past the limits): compared with dataset {official}: 3 QPV "
        "instead of 1584 (-99.8%), 1581 codes gone (QN00104M, QN00105I, QN00106M, ...), 0 new, "
        "total area 1.0 km² instead of 1090.4 km² (-99.9%); import it anyway with --force"
    )
    assert counts(database_url) == (1, 1584)

    code, out, _ = _run(["data", "import", str(three), "--force"], capsys)
    assert code == 0
    assert out[0].startswith(f"imported: three.geojson -> dataset {official + 1} (current)")
    assert out[1].startswith(f"changes: compared with dataset {official}: 3 QPV instead of 1584")
    assert _states(database_url) == [(official + 1, "current", 3), (official, "previous", 1584)]

    # Undo by importing the previous file again: it becomes current, nothing is stored twice.
    code, out, _ = _run(["data", "import", str(QPV2024_GEOJSON)], capsys)
    assert code == 0 and out[0].startswith("made current: qpv2024_wgs84_rounded4.geojson")
    assert _states(database_url) == [(official + 1, "previous", 3), (official, "current", 1584)]

    code, out, _ = _run(["data", "use", str(official + 1)], capsys)
    assert code == 0 and out[0].startswith(f"dataset {official + 1} (three.geojson, 3 QPV) is now")
    code, out, _ = _run(["data", "list"], capsys)
    assert [line.split("\t")[:4] for line in out] == [
        [str(official + 1), "current", "2024", "3 QPV"],
        [str(official), "previous", "2024", "1584 QPV"],
    ]
    assert counts(database_url) == (2, 1587)


def test_using_a_dataset_that_does_not_exist_is_one_error_line(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QPV_DATABASE_URL", sqlite_url)
    assert _run(["data", "use", "42"], capsys)[1:] == (
        [],
        ["qpv: error: no dataset 42: `qpv data list` shows the stored ones"],
    )


def test_a_second_member_of_the_same_zip_is_imported_not_already_imported(
    database_url: str, tmp_path: Path
) -> None:
    archive = tmp_path / "territories.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for stem in ("QP_GUYANE_RGF95_UTM22N", "QP_MAYOTTE_RGM04_UTM38S"):
            for part in QPV2015_DIR.glob(f"{stem}.*"):
                out.write(part, f"shp/{part.name}")
    engine = make_engine(database_url)
    forced = ImportOptions(force=True)  # Mayotte shares no code with Guyane
    guyane = import_qpv_file(engine, archive, member="QP_GUYANE_RGF95_UTM22N.shp")
    mayotte = import_qpv_file(engine, archive, member="QP_MAYOTTE_RGM04_UTM38S.shp", options=forced)
    again = import_qpv_file(engine, archive, member="QP_GUYANE_RGF95_UTM22N.shp")
    assert (guyane.outcome, mayotte.outcome, again.outcome) == (
        "imported",
        "imported",
        "made current",
    )
    assert again.dataset_id == guyane.dataset_id != mayotte.dataset_id
    assert mayotte.dataset.source_name == "territories.zip/QP_MAYOTTE_RGM04_UTM38S.shp"
    assert (guyane.feature_count, mayotte.feature_count) == (32, 36)
    assert [(d.member, d.state) for d in list_datasets(engine)] == [
        ("shp/QP_MAYOTTE_RGM04_UTM38S.shp", "previous"),
        ("shp/QP_GUYANE_RGF95_UTM22N.shp", "current"),
    ]
    engine.dispose()


def test_sync_leaves_the_dataset_the_operator_chose_current(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QPV_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("QPV_DATA_DIR", str(GEODATA))
    assert main(["data", "sync", "--offline"]) == 0
    assert _run(["data", "import", str(_three_features(tmp_path)), "--force"], capsys)[0] == 0
    chosen = _states(sqlite_url)[0]
    assert chosen[1:] == ("current", 3)
    code, out, _ = _run(["data", "sync", "--offline"], capsys)
    assert code == 0
    assert [line.split(":")[0] for line in out] == ["already imported"] * 3
    assert "(previous), geography 2024, 1584 QPV" in out[1]
    assert _states(sqlite_url)[0] == chosen
