"""Tiles: the plan covers the image, the blend weights sum to one, and tiled output matches
untiled output without seams."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from imagexform.errors import UserError
from imagexform.family import IOSpec, TileHints
from imagexform.io.images import read_image
from imagexform.runtime import load_model
from imagexform.runtime.tiling import axis_weights, fit_tile, plan_axis

pytest.importorskip("onnx")
import onnx_models as om  # needs onnx, hence after importorskip

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "photos"


def photo_crop(size: int) -> np.ndarray:
    image = read_image(PHOTOS / "astronaut.jpg")
    return np.ascontiguousarray(image[40 : 40 + size, 100 : 100 + size])


@pytest.mark.parametrize(
    ("length", "tile", "overlap"),
    [(256, 64, 16), (257, 64, 16), (1000, 96, 8), (65, 64, 16), (130, 64, 0), (3, 64, 16)],
)
@pytest.mark.parametrize("scale", [1, 2, 3])
def test_tiles_cover_the_axis_and_weights_sum_to_one(length, tile, overlap, scale):
    spans = plan_axis(length, tile, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(stop - start == min(tile, length) for start, stop in spans)
    assert all(b[0] - a[1] <= -overlap + 1 for a, b in itertools.pairwise(spans))
    total = np.zeros(length * scale)
    for (start, stop), weight in zip(spans, axis_weights(spans, scale, overlap), strict=True):
        assert weight.shape == ((stop - start) * scale,)
        total[start * scale : stop * scale] += weight
    assert np.allclose(total, 1.0, atol=1e-6)


@pytest.mark.parametrize("length", [65, 130, 257, 275, 500, 1000, 4000])
@pytest.mark.parametrize(("tile", "overlap", "multiple"), [(256, 16, 1), (64, 30, 4), (176, 16, 8)])
def test_fitted_tiles_cover_the_axis_in_as_many_tiles_with_less_work(
    length, tile, overlap, multiple
):
    fitted = fit_tile(length, tile, overlap, multiple)
    assert fitted <= tile and fitted % multiple == 0 and fitted >= 2 * overlap + 2
    spans = plan_axis(length, fitted, overlap)
    assert len(spans) == len(plan_axis(length, tile, overlap))
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(b[0] - a[1] <= -overlap + 1 for a, b in itertools.pairwise(spans))
    assert fit_tile(275, 256, 16) == 146  # two tiles of 146 instead of two of 256


def test_blending_ignores_the_outer_quarter_of_each_overlap():
    spans = plan_axis(128, 64, 16)
    first, second = axis_weights(spans, 1, 16)[:2]
    shared = spans[0][1] - spans[1][0]
    assert (second[: shared // 4] == 0).all()
    assert (first[-(shared // 4) :] == 0).all()


def test_tiled_output_matches_untiled_without_seams(tmp_path):
    model = load_model(om.blur_stack(tmp_path / "blur.onnx", layers=3))
    image = photo_crop(256)
    whole = model.transform(image, tile_size=0).astype(int)
    tiled = model.transform(image, tile_size=64, overlap=16).astype(int)
    assert np.abs(whole - tiled).max() <= 2
    # Along every tile boundary, the band either side matches the untiled output too.
    boundaries = [start for start, _ in plan_axis(256, 64, 16)[1:]]
    for boundary in boundaries:
        rows = slice(boundary - 16, boundary + 16)
        assert np.abs(whole[rows] - tiled[rows]).mean() < 0.1
        assert np.abs(whole[:, rows] - tiled[:, rows]).mean() < 0.1
    # Without overlap the tile borders show: the check above can fail.
    hard = model.transform(image, tile_size=64, overlap=0).astype(int)
    assert np.abs(whole - hard).max() > 10


def test_tiled_upscaling_equals_untiled(tmp_path):
    model = load_model(om.upscaler(tmp_path / "x2.onnx", 2))
    image = photo_crop(101)
    whole = model.transform(image, tile_size=0)
    tiled = model.transform(image, tile_size=32, overlap=8)
    assert np.abs(whole.astype(int) - tiled).max() <= 1


def test_tiles_respect_the_size_multiple(tmp_path):
    model = load_model(om.needs_multiple(tmp_path / "m8.onnx", 8))
    image = photo_crop(99)
    assert np.array_equal(model.transform(image, tile_size=30, overlap=6), image)


def test_fixed_size_model_is_run_in_tiles_of_its_size(tmp_path):
    model = load_model(om.foreign_identity(tmp_path / "fixed.onnx", size=(32, 32)))
    assert model.fixed_size == (32, 32)
    image = photo_crop(70)[:50]
    assert np.array_equal(model.transform(image, tile_size=0), image)
    assert np.array_equal(model.transform(image[:5, :7]), image[:5, :7])


def test_tile_hint_from_metadata_is_used(tmp_path):
    # Three tiles that just abut, without overlap, so that tiling shows in the output.
    info = om.model_info(IOSpec(value_range=(0, 1)), TileHints(tile_size=64, overlap=0))
    model = load_model(om.blur_stack(tmp_path / "blur.onnx", info=info))
    image = photo_crop(192)
    assert model.auto_tile_size(192, 192) == 64
    hinted = model.transform(image)
    assert np.array_equal(hinted, model.transform(image, tile_size=64, overlap=0))
    assert not np.array_equal(hinted, model.transform(image, tile_size=0))


def test_overlap_must_be_less_than_half_the_tile(tmp_path):
    model = load_model(om.identity(tmp_path / "m.onnx"))
    with pytest.raises(UserError, match="overlap 32 is too large for 64-pixel tiles"):
        model.transform(photo_crop(100), tile_size=64, overlap=32)
    with pytest.raises(UserError, match="tile size must be 0"):
        model.transform(photo_crop(100), tile_size=-1)


class Cancelled(Exception):
    pass


def test_progress_counts_tiles_and_can_cancel_within_one(tmp_path):
    model = load_model(om.blur_stack(tmp_path / "blur.onnx"))
    image = (np.random.default_rng(0).random((100, 130, 3)) * 255).astype(np.uint8)
    seen: list[tuple[int, int]] = []
    model.transform(image, tile_size=64, overlap=8, progress=lambda d, t: seen.append((d, t)))
    total = len(plan_axis(100, 64, 8)) * len(plan_axis(130, 64, 8))
    assert total > 1 and seen == [(done, total) for done in range(1, total + 1)]

    def cancel_after_two(done: int, total: int) -> None:
        if done == 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        model.transform(image, tile_size=64, overlap=8, progress=cancel_after_two)
    whole: list[tuple[int, int]] = []
    model.transform(image, tile_size=0, progress=lambda d, t: whole.append((d, t)))
    assert whole == [(1, 1)]


def test_finished_rows_arrive_in_order_and_equal_the_result(tmp_path):
    model = load_model(om.upscaler(tmp_path / "x2.onnx", 2))
    image = (np.random.default_rng(1).random((100, 70, 3)) * 255).astype(np.uint8)
    bands: list[tuple[int, int, np.ndarray]] = []
    result = model.transform(
        image, tile_size=32, overlap=4, rows=lambda a, b, s: bands.append((a, b, s.copy()))
    )
    assert len(bands) > 1 and bands[0][0] == 0 and bands[-1][1] == result.shape[0]
    assert all(previous[1] == band[0] for previous, band in itertools.pairwise(bands))
    assert np.array_equal(np.concatenate([s for _, _, s in bands]), result)
