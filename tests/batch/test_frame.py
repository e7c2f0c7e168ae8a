"""tag_frame: the pipeline on a DataFrame, results as categoricals and floats."""

from __future__ import annotations

import pandas as pd
import pytest

from app.batch import Tagger, tag_frame
from app.batch import frame as frame_module
from app.errors import InvalidInput


def test_coordinates_and_addresses_in_a_frame(address_tagger: Tagger) -> None:
    df = pd.DataFrame(
        {
            "nom": ["a", "b", "c", "d"],
            "lat": [48.88699, "48,8907", None, 123.0],
            "lon": [2.35313, "2,38", None, 2.0],
            "adresse": [None, None, "4 rue Eric Tabarly 93140 Bondy", None],
        }
    )
    out = tag_frame(df, address_tagger, lat="lat", lon="lon", columns=["adresse"])
    assert list(out.columns[:4]) == ["nom", "lat", "lon", "adresse"]
    assert out["qpv_status"].tolist() == ["in", "out", "in", "invalid"]
    codes = [c if isinstance(c, str) else None for c in out["qpv_code"].tolist()]
    assert codes == ["QN07511M", None, "QN09314M", None]
    assert isinstance(out["qpv_status"].dtype, pd.CategoricalDtype)
    assert out["result_citycode"].tolist()[2] == "93010"
    assert out.index.equals(df.index)


def test_a_geodataframe_on_request_across_slices(
    tagger: Tagger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frame_module, "FRAME_BLOCK_ROWS", 2)
    df = pd.DataFrame({"lat": [48.88699, 48.8907, 91.0], "lon": [2.35313, 2.38, 2.0]})
    out = tag_frame(df, tagger, lat="lat", lon="lon", geo=True, as_of="2017-09-01")
    assert out.crs.to_epsg() == 4326
    assert out["qpv_code"].tolist()[0] == "QP075012"
    assert out.geometry.iloc[0].x == pytest.approx(2.35313)
    assert out.geometry.iloc[2] is None
    assert out["qpv_status"].tolist() == ["in", "out", "invalid"]


def test_bad_options_are_refused(tagger: Tagger) -> None:
    with pytest.raises(InvalidInput):
        tag_frame(pd.DataFrame({"lat": [1.0]}), tagger, lat="lat")
