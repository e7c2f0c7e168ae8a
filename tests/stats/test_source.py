"""Reading tagged tables: delimiters, encodings, byte order marks, padded names, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import InvalidInput, MissingColumns
from app.stats.source import provenance, read_table

ROWS = "qpv_status{d}admis{d} academie \nin{d}oui{d}Créteil\nout{d} non {d}\n"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_any_usual_delimiter_and_encoding_is_read(
    tmp_path: Path, delimiter: str, encoding: str
) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(ROWS.format(d=delimiter).encode(encoding))
    table = read_table(path, ["admis", "academie"])
    assert list(table.columns) == ["qpv_status", "admis", "academie"]
    assert table["academie"].tolist()[0] == "Créteil" and table["academie"].isna().tolist()[1]
    assert table["admis"].astype(str).str.strip().tolist() == ["oui", "non"]


def test_bytes_are_read_like_a_file() -> None:
    table = read_table(ROWS.format(d=";").encode(), ["admis"])
    assert len(table) == 2 and "academie" not in table


def test_a_missing_column_is_named_with_the_columns_there_are() -> None:
    with pytest.raises(MissingColumns, match=r"'sexe'.*'qpv_status', 'admis', 'academie'"):
        read_table(ROWS.format(d=",").encode(), ["sexe"])


@pytest.mark.parametrize("body", [b"", b"\n\n", b"a,b\n1,2,3\n"])
def test_an_empty_or_ragged_file_is_invalid_input(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        read_table(body, ["a"])


def test_provenance_lists_what_the_file_says_and_none_for_the_rest() -> None:
    text = "qpv_status,qpv_geography,qpv_dataset_version\nin,2024,4fc7cc183111\nout,2024,\n"
    found = provenance(read_table(text.encode(), []))
    assert found["qpv_geography"] == ["2024"]
    assert found["qpv_dataset_version"] == ["4fc7cc183111"]
    assert found["qpv_as_of"] is None and found["qpv_tagged_at"] is None
