"""``tag_frame``: the pipeline on a pandas DataFrame, for notebooks.

Results come back as typed columns: statuses, codes, names and geographies as pandas
categoricals built straight from the pipeline's integer codes, distances and positions as
floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.batch.options import TagOptions
from app.batch.pipeline import Tagger, run_sync
from app.batch.results import Column, Results, result_columns
from app.spatial.geography import Geography

FRAME_BLOCK_ROWS = 200_000


class FrameBlock:
    """Rows of a DataFrame slice, read column by column."""

    def __init__(self, frame: Any) -> None:
        self.frame = frame
        self.n = len(frame)
        self.width = frame.shape[1]

    def field_counts(self) -> NDArray[np.int64]:
        """Every row has the frame's width (a row of missing values counts as empty)."""
        empty = self.frame.isna().all(axis=1).to_numpy()
        return np.where(empty, 0, self.width).astype(np.int64)

    def texts(self, k: int) -> list[str | None]:
        """Column ``k`` as text, None where missing."""
        column = self.frame.iloc[:, k]
        values: list[Any] = column.tolist()
        return [None if _missing(v) else _cell(v) for v in values]

    def numbers(self, k: int) -> NDArray[np.float64]:
        """Column ``k`` as floats (decimal comma accepted), NaN where missing or malformed."""
        import pandas as pd

        column = self.frame.iloc[:, k]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            numbers: NDArray[np.float64] = column.to_numpy(dtype=np.float64, na_value=np.nan)
            return numbers
        text = column.astype("string").str.strip().str.replace(",", ".", regex=False)
        out: NDArray[np.float64] = pd.to_numeric(text, errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        return out

    def rows(self) -> list[list[Any]]:
        """Every value of every row."""
        rows: list[list[Any]] = self.frame.to_numpy(dtype=object).tolist()
        return rows


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or str(value) == "<NA>"


def _cell(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def tag_frame(
    df: Any,
    tagger: Tagger,
    *,
    columns: Sequence[str] = (),
    postcode: str | None = None,
    citycode: str | None = None,
    lat: str | None = None,
    lon: str | None = None,
    x: str | None = None,
    y: str | None = None,
    geography: Geography | str | None = None,
    as_of: date | str | None = None,
    provider: str | None = None,
    result_columns: Sequence[str] | None = None,
    distances: bool = False,
    geo: bool = False,
) -> Any:
    """A copy of ``df`` with the result columns appended (a GeoDataFrame when ``geo``)."""
    import pandas as pd

    options = TagOptions(
        columns=tuple(columns),
        postcode=postcode,
        citycode=citycode,
        lat=lat,
        lon=lon,
        x=x,
        y=y,
        geography=Geography(geography) if geography is not None else None,
        as_of=date.fromisoformat(as_of) if isinstance(as_of, str) else as_of,
        provider=provider,
        result_columns=tuple(result_columns) if result_columns is not None else None,
        distances=distances,
    ).check()
    header = [str(c) for c in df.columns]
    parts = []
    positions = []
    for start in range(0, max(len(df), 1), FRAME_BLOCK_ROWS):
        block = FrameBlock(df.iloc[start : start + FRAME_BLOCK_ROWS])
        results = run_sync(tagger.tag_block(header, block, options))
        cols = _frame_columns(result_columns_of(tagger, results, options), block.frame.index)
        parts.append(pd.DataFrame(cols, index=block.frame.index))
        positions.append((results.lon, results.lat))
    tagged = pd.concat(parts) if len(parts) > 1 else parts[0]
    for name, column in tagged.items():
        if isinstance(column.dtype, pd.CategoricalDtype):
            # Slices saw different categories in use: keep the full, shared vocabulary.
            tagged[name] = column.astype(pd.CategoricalDtype(column.cat.categories))
    out = pd.concat([df, tagged], axis=1)
    if not geo:
        return out
    import geopandas

    lon_all = np.concatenate([p[0] for p in positions])[: len(df)]
    lat_all = np.concatenate([p[1] for p in positions])[: len(df)]
    geometry = geopandas.points_from_xy(lon_all, lat_all, crs="EPSG:4326")
    geometry[np.isnan(lon_all)] = None
    return geopandas.GeoDataFrame(out, geometry=geometry, crs="EPSG:4326")


def result_columns_of(tagger: Tagger, results: Results, options: TagOptions) -> dict[str, Column]:
    """The options' result columns of one block."""
    return result_columns(tagger.labels, results, options.output_columns)


def _frame_columns(columns: dict[str, Column], index: Any) -> dict[str, Any]:
    """pandas columns: categoricals from integer codes, floats, text."""
    import pandas as pd

    out: dict[str, Any] = {}
    for name, column in columns.items():
        if column.kind == "category":
            assert column.categories is not None
            # Names repeat across geographies: map codes onto the distinct names.
            categories, remap = np.unique(np.array(column.categories), return_inverse=True)
            codes = np.asarray(column.values)
            codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
            out[name] = pd.Categorical.from_codes(codes, categories=categories)
        elif column.kind == "float":
            out[name] = np.asarray(column.values, dtype=np.float64)
        else:
            out[name] = pd.array(column.values, dtype="string")
    return out
