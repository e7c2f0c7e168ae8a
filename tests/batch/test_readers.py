"""CSV records and fields found on raw bytes; encodings and delimiters detected."""

from __future__ import annotations

import io

import numpy as np
import pytest

from app.batch import TagOptions
from app.batch.readers import blocks, count_rows, records, resolve
from app.errors import InvalidInput


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a\nb\n", [b"a", b"b"]),
        (b"a\r\nb", [b"a", b"b"]),
        (b'a\n"b\nc"\n\nd', [b"a", b'"b\nc"', b"", b"d"]),
        (b'"x""\n"\ny', [b'"x""\n"', b"y"]),
    ],
)
def test_records_respect_quotes_and_line_endings(data: bytes, expected: list[bytes]) -> None:
    starts, ends = records(data, final=True)
    assert [data[a:b] for a, b in zip(starts, ends, strict=True)] == expected


@pytest.mark.parametrize(
    ("content", "encoding", "delimiter"),
    [
        ("a;b\n1;é\n".encode(), "utf-8", ";"),
        ("\ufeffa,b\n1,é\n".encode(), "utf-8-sig", ","),
        ("nom;prénom;ville\nNoël;Zoé;Besançon\n".encode("cp1252") * 20, "cp1252", ";"),
        (b"a\tb\n1\t2\n", "utf-8", "\t"),
        (b'"a|x"|b\n1|2\n', "utf-8", "|"),
    ],
)
def test_encoding_and_delimiter_are_detected(content: bytes, encoding: str, delimiter: str) -> None:
    source, options = resolve(io.BytesIO(content), TagOptions())
    assert (source.encoding, source.delimiter) == (encoding, delimiter)
    assert (options.encoding, options.delimiter) == (encoding, delimiter)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("48.5", 48.5),
        ("48,5", 48.5),
        ('"48,5"', 48.5),
        (" -2.25 ", -2.25),
        ("1e2", 100.0),
        ("", None),
        ("abc", None),
        ("1.2.3", None),
    ],
)
def test_numbers_accept_decimal_commas_and_refuse_text(field: str, value: float | None) -> None:
    content = f"id;v\n1;{field}\n2;3\n".encode()
    src = io.BytesIO(content)
    source, _ = resolve(src, TagOptions())
    (block,) = list(blocks(src, source))
    got = block.numbers(1)
    assert got[1] == 3.0
    assert np.isnan(got[0]) if value is None else got[0] == value


def test_rows_are_counted_without_the_header(tmp_path: object) -> None:
    content = b'h\n1\n"2\n2"\n\n3'
    assert count_rows(io.BytesIO(content), TagOptions()) == 4


@pytest.mark.parametrize(
    ("content", "parameter"),
    [(b"", "data"), (b"\xff\xfea\x00", "data"), (b"\x00\x01\x02", "data")],
)
def test_unreadable_inputs_are_refused(content: bytes, parameter: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve(io.BytesIO(content), TagOptions())
    assert caught.value.extra["parameter"] == parameter
