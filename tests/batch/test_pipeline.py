"""The pipeline end to end on files: every row back, in order, with the right status."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path

import pytest

from app.addresses import AddressResolver
from app.batch import OutputFormat, Tagger, TagOptions
from app.batch.options import RESULT_COLUMNS
from app.errors import InvalidInput
from app.settings import Settings
from app.spatial.index import QpvIndex
from tests.batch.conftest import GOUTTE_DOR, L93_GOUTTE_DOR, FailingGeocoder, awkward_csv, write

COORDS = TagOptions(lat="lat", lon="lon")


def read_csv(path: Path, encoding: str, delimiter: str) -> list[list[str]]:
    """Rows of a CSV written by the pipeline (header first)."""
    text = path.read_bytes().decode(encoding)
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8-sig", ";"), ("cp1252", ";"), ("utf-8", ","), ("utf-8", "\t"), ("cp1252", "|")],
)
def test_awkward_csv_comes_back_with_every_row_in_order_and_the_right_status(
    backend_tagger: Tagger, tmp_path: Path, encoding: str, delimiter: str
) -> None:
    content, expected = awkward_csv(encoding, delimiter)
    src = write(tmp_path, "in.csv", content)
    summary = backend_tagger.tag_file(src, tmp_path / "out.csv", COORDS)
    rows = read_csv(tmp_path / "out.csv", encoding, delimiter)
    header, data = rows[0], rows[1:]
    assert header == ["id", "nom", "nom", "lat", "lon", *RESULT_COLUMNS]
    assert [(r[0], r[5]) for r in data] == expected
    assert all(len(r) == len(header) for r in data)
    assert summary.rows == len(expected)
    assert summary.counts == {"in": 2, "out": 1, "invalid": 5}
    by_id = {r[0]: dict(zip(header, r, strict=True)) for r in data if r[0]}
    assert by_id["1"]["qpv_code"] == "QN07511M"
    assert by_id["1"]["qpv_geography"] == "2024"
    assert "Hélène" in data[2][1] and "\n" in data[2][1]
    raw_lon = '"2,3530"' if delimiter == "," else "2,3530"
    assert by_id["3"]["lon"] == f"{raw_lon}{delimiter}de trop"  # extra fields kept, not lost
    assert "out of range" in by_id["4"]["qpv_reason"]
    assert by_id["5"]["qpv_reason"] == "no coordinates in this row"
    assert data[1][5:7] == ["invalid", ""]
    assert data[1][header.index("qpv_reason")] == "empty row"


def test_input_records_are_kept_byte_for_byte(tagger: Tagger, tmp_path: Path) -> None:
    content, _ = awkward_csv("cp1252")
    src = write(tmp_path, "in.csv", content)
    tagger.tag_file(src, tmp_path / "out.csv", COORDS)
    out = (tmp_path / "out.csv").read_bytes()
    lines_in = content.split(b"\r\n")
    for line in (lines_in[0], lines_in[1], lines_in[-2]):
        assert line + b";" in out
    assert out.count(b"\r\n") == content.count(b"\r\n")


def test_xlsx_with_a_formula_and_a_date_comes_back_in_order(
    backend_tagger: Tagger, tmp_path: Path
) -> None:
    from openpyxl import Workbook, load_workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["id", "né le", "lat", "lon", "calcul"])
    sheet.append([1, datetime(2005, 3, 14), GOUTTE_DOR[0], GOUTTE_DOR[1], "=1+1"])
    sheet.append([2, date(2006, 1, 2), "48,8907", "2,38", None])
    sheet.append([None, None, None, None, None])
    sheet.append([4, None, 123.0, 2.0, "=A4*2"])
    book.save(tmp_path / "in.xlsx")
    summary = backend_tagger.tag_file(tmp_path / "in.xlsx", tmp_path / "out.xlsx", COORDS)
    rows = list(load_workbook(tmp_path / "out.xlsx", read_only=True).active.values)
    header = list(rows[0])
    assert header == ["id", "né le", "lat", "lon", "calcul", *RESULT_COLUMNS]
    status = header.index("qpv_status")
    assert [r[status] for r in rows[1:]] == ["in", "out", "invalid", "invalid"]
    assert rows[1][1] == datetime(2005, 3, 14)
    assert rows[1][header.index("qpv_code")] == "QN07511M"
    assert summary.rows == 4


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_output_format_has_every_row_and_column(
    tagger: Tagger, tmp_path: Path, fmt: OutputFormat
) -> None:
    content, expected = awkward_csv("utf-8")
    src = write(tmp_path, "in.csv", content)
    dst = tmp_path / f"out.{fmt}"
    tagger.tag_file(src, dst, COORDS.with_(output_format=fmt))
    statuses = [s for _, s in expected]
    names = ["id", "nom", "nom.1", "lat", "lon", *RESULT_COLUMNS]
    if fmt is OutputFormat.PARQUET:
        import pyarrow.parquet as pq

        table = pq.read_table(dst)
        assert table.column_names == names
        assert table.column("qpv_status").to_pylist() == statuses
    elif fmt is OutputFormat.GEOJSON:
        features = json.loads(dst.read_bytes())["features"]
        assert [f["properties"]["qpv_status"] for f in features] == statuses
        assert list(features[0]["properties"]) == names
        assert features[0]["geometry"]["coordinates"] == [GOUTTE_DOR[1], GOUTTE_DOR[0]]
        assert features[1]["geometry"] is None
    elif fmt is OutputFormat.XLSX:
        from openpyxl import load_workbook

        rows = list(load_workbook(dst, read_only=True).active.values)
        assert [r[5] for r in rows[1:]] == statuses
    else:
        rows = read_csv(dst, "utf-8", ";")
        assert [r[5] for r in rows[1:]] == statuses


def test_result_columns_picks_a_subset_in_the_order_given(tagger: Tagger, tmp_path: Path) -> None:
    src = write(tmp_path, "in.csv", b"lat,lon\n48.88699,2.35313\n")
    options = COORDS.with_(result_columns=("qpv_code", "qpv_status"))
    tagger.tag_file(src, tmp_path / "out.csv", options)
    assert (tmp_path / "out.csv").read_bytes() == (
        b"lat,lon,qpv_code,qpv_status\n48.88699,2.35313,QN07511M,in\n"
    )


@pytest.mark.parametrize(
    ("options", "code"),
    [
        (TagOptions(x="x", y="y"), "QN07511M"),
        (TagOptions(x="x", y="y", as_of=date(2017, 9, 1)), "QP075012"),
        (TagOptions(x="x", y="y", geography="2015"), "QP075012"),  # type: ignore[arg-type]
    ],
)
def test_lambert93_columns_and_the_geography_choice(
    tagger: Tagger, tmp_path: Path, options: TagOptions, code: str
) -> None:
    x, y = L93_GOUTTE_DOR
    src = write(tmp_path, "in.csv", f"x;y\n{x};{y}\n".encode())
    tagger.tag_file(src, tmp_path / "out.csv", options)
    row = read_csv(tmp_path / "out.csv", "utf-8", ";")[1]
    assert row[2:5] == ["in", code, "Goutte D'Or"]


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        (TagOptions(lat="nope", lon="lon"), "lat"),
        (TagOptions(lat="lat"), "lon"),
        (TagOptions(lat="nom", lon="lon"), "lat"),  # duplicated column name
        (TagOptions(lat="lat", lon="lon", geography="2024", as_of=date(2020, 1, 1)), "as_of"),  # type: ignore[arg-type]
        (TagOptions(lat="lat", lon="lon", result_columns=("qpv_colour",)), "result_columns"),
        (TagOptions(), "columns"),
        (TagOptions(columns=("nom",)), "columns"),  # no geocoder configured
        (TagOptions(lat="lat", lon="lon", delimiter="#"), "delimiter"),
    ],
)
def test_bad_options_name_the_parameter(
    tagger: Tagger, tmp_path: Path, options: TagOptions, parameter: str
) -> None:
    content, _ = awkward_csv("utf-8")
    src = write(tmp_path, "in.csv", content)
    with pytest.raises(InvalidInput) as caught:
        tagger.tag_file(src, tmp_path / "out.csv", options)
    assert caught.value.extra["parameter"] == parameter


def test_addresses_and_coordinates_in_one_file(address_tagger: Tagger, tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "in.csv",
        b"adresse;cp;lat;lon\n"
        b"4 rue Eric Tabarly;93140;;\n"
        b";;48.88699;2.35313\n"
        b"rue Polonceau;75018;;\n"
        b"rue qui n'existe nulle part;75018;;\n"
        b";;;\n",
    )
    options = TagOptions(columns=("adresse",), postcode="cp", lat="lat", lon="lon")
    summary = address_tagger.tag_file(src, tmp_path / "out.csv", options)
    rows = read_csv(tmp_path / "out.csv", "utf-8", ";")
    header = rows[0]
    got = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    assert [g["qpv_status"] for g in got] == [
        "in",
        "in",
        "street_partial",
        "not_found",
        "invalid",
    ]
    assert got[0]["qpv_code"] == "QN09314M"
    assert got[0]["result_type"] == "housenumber" and got[0]["result_citycode"] == "93010"
    assert got[1]["result_label"] == ""
    assert summary.rows == 5


def test_rows_the_geocoder_cannot_answer_get_geocoder_error(
    qpv_index: QpvIndex, tmp_path: Path
) -> None:
    settings = Settings(geocoders=["ban"])
    tagger = Tagger(
        qpv_index, AddressResolver(qpv_index, {"ban": FailingGeocoder()}, settings), settings
    )
    src = write(tmp_path, "in.csv", b"q\n1 rue de Paris\n2 rue de Lyon\n")
    summary = tagger.tag_file(src, tmp_path / "out.csv", TagOptions(columns=("q",)))
    rows = read_csv(tmp_path / "out.csv", "utf-8", ",")
    assert [r[1] for r in rows[1:]] == ["geocoder_error", "geocoder_error"]
    assert "timeout" in rows[1][6]
    assert summary.counts == {"geocoder_error": 2}
