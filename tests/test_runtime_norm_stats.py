"""Image-wide statistics: found in the graph without the onnx package, and tiles normalised
with the whole image's instead of their own match the untiled result.

Tiny real graphs built with onnx; the conformance generators are in test_tiles_conformance.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from imagexform.family import IOSpec, TileHints
from imagexform.io.images import read_image
from imagexform.metrics import psnr
from imagexform.runtime import load_model
from imagexform.runtime.norm_stats import image_wide, read_image_wide
from imagexform.runtime.onnxgraph import read_graph
from imagexform.runtime.receptive_field import measure_receptive_field
from imagexform.runtime.tiling import Mode, plan_axis

pytest.importorskip("onnx")
import onnx_models as om  # needs onnx, hence after importorskip
from onnx import helper, numpy_helper

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "photos"
SIGNED = IOSpec(value_range=(-1.0, 1.0))


def _tensor(name: str, values: np.ndarray):
    return numpy_helper.from_array(values.astype(np.float32), name)


def instance_norm_net(path: Path, tile: TileHints | None = None) -> Path:
    """conv → instance norm → relu, twice, → conv → tanh: random weights, 3×3 kernels, so
    the reach is 3 pixels and every tone depends on the whole image."""
    rng = np.random.default_rng(1)
    widths = [(3, 8), (8, 8), (8, 3)]
    nodes, weights, previous = [], [], om.IMAGE_INPUT
    for index, (cin, cout) in enumerate(widths):
        conv = f"conv{index}" if index < 2 else "last"
        weights.append(_tensor(f"w{index}", rng.normal(0, 0.4, (cout, cin, 3, 3))))
        nodes.append(helper.make_node("Conv", [previous, f"w{index}"], [conv], pads=[1] * 4))
        if index == 2:
            nodes.append(helper.make_node("Tanh", [conv], [om.OUTPUT]))
            break
        weights += [
            _tensor(f"s{index}", rng.uniform(0.5, 1.5, cout)),
            _tensor(f"b{index}", rng.normal(0, 0.3, cout)),
        ]
        nodes += [
            helper.make_node(
                "InstanceNormalization", [conv, f"s{index}", f"b{index}"], [f"n{index}"]
            ),
            helper.make_node("Relu", [f"n{index}"], [f"r{index}"]),
        ]
        previous = f"r{index}"
    info = om.model_info(SIGNED, tile)
    return om.save(path, nodes, info=info, initializers=weights)


def photo(size: int) -> np.ndarray:
    image = read_image(PHOTOS / "astronaut.jpg")
    return np.ascontiguousarray(image[40 : 40 + size, 100 : 100 + size])


def test_instance_norm_is_found_without_the_onnx_package(tmp_path):
    path = instance_norm_net(tmp_path / "in.onnx")
    wide = read_image_wide(path.read_bytes())
    assert wide is not None and wide.ops == {"InstanceNormalization": 2} and wide.supported
    assert "whole image's statistics" in wide.describe()
    plain = read_image_wide(om.blur_stack(tmp_path / "blur.onnx").read_bytes())
    assert plain is not None and not plain.found
    assert read_image_wide(b"not a model") is None


def _single_op(path: Path, node, initializers=()) -> dict[str, int]:
    om.save(path, [node], info=None, initializers=list(initializers))
    return image_wide(read_graph(path.read_bytes())).ops


def test_other_image_wide_operators_are_found_and_marked_unsupported(tmp_path):
    axes = numpy_helper.from_array(np.array([2, 3], np.int64), "axes")
    channel_axis = numpy_helper.from_array(np.array([1], np.int64), "axes")
    reduce = helper.make_node("ReduceMean", ["image", "axes"], ["output"])
    assert _single_op(tmp_path / "r.onnx", reduce, [axes]) == {"ReduceMean": 1}
    assert _single_op(tmp_path / "c.onnx", reduce, [channel_axis]) == {}
    pool = helper.make_node("GlobalAveragePool", ["image"], ["output"])
    assert _single_op(tmp_path / "p.onnx", pool) == {"GlobalAveragePool": 1}
    scale = _tensor("scale", np.ones((3, 1, 1)))
    layer = helper.make_node("LayerNormalization", ["image", "scale"], ["output"], axis=1)
    assert _single_op(tmp_path / "l.onnx", layer, [scale]) == {"LayerNormalization": 1}
    per_pixel = helper.make_node("LayerNormalization", ["image", "scale"], ["output"], axis=-1)
    assert _single_op(tmp_path / "pp.onnx", per_pixel, [_tensor("scale", np.ones(3))]) == {}
    wide = image_wide(read_graph((tmp_path / "l.onnx").read_bytes()))
    assert not wide.supported and "per tile" in wide.describe()


def test_tile_graph_with_the_images_own_statistics_is_the_model(tmp_path):
    model = load_model(instance_norm_net(tmp_path / "in.onnx"), device="cpu")
    batch = np.random.default_rng(0).uniform(-1, 1, (1, 3, 40, 56)).astype(np.float32)
    statistics = model.image_statistics(batch)
    assert len(statistics) == 4 and statistics["imagexform_stats/0/mean"].shape == (1, 8, 1, 1)
    assert np.abs(model.run(batch, statistics=statistics) - model.run(batch)).max() < 1e-5


def test_tiles_take_the_whole_images_statistics(tmp_path):
    path = instance_norm_net(tmp_path / "in.onnx", TileHints(receptive_field=3))
    model = load_model(path, device="cpu")
    image = photo(96)
    whole = model.transform(image, tile_size=0)
    modes: list[Mode] = []
    tiled = model.transform(image, tile_size=48, report=modes.append)
    assert modes[0].tiles > 1 and modes[0].statistics == "whole-image statistics"
    assert modes[0].overlap == 2 * 3 + 16  # the receptive field's margins and the blend
    assert psnr(tiled, whole) >= 40
    model.image_wide = None  # as before: each tile normalised by its own statistics
    assert psnr(model.transform(image, tile_size=48), whole) < 30


def test_statistics_from_a_reduced_copy_when_the_image_does_not_fit(tmp_path):
    model = load_model(instance_norm_net(tmp_path / "in.onnx", TileHints(receptive_field=3)))
    model.statistics_limit = 48 * 48
    modes: list[Mode] = []
    image = photo(96)
    tiled = model.transform(image, tile_size=48, report=modes.append)
    assert modes[0].statistics == "image-wide statistics estimated on a 48×48 copy"
    assert psnr(tiled, model.transform(image, tile_size=0)) >= 25


def test_given_statistics_make_a_crop_come_out_as_in_the_whole_result(tmp_path):
    model = load_model(instance_norm_net(tmp_path / "in.onnx", TileHints(receptive_field=3)))
    image = photo(96)
    whole = model.transform(image, tile_size=0)
    statistics = model.whole_image_statistics(image)
    crop = model.transform(image[20:80, 10:70], statistics=statistics)
    assert psnr(crop[3:-3, 3:-3], whole[23:77, 13:67]) >= 40
    alone = model.transform(image[20:80, 10:70])
    assert psnr(alone[3:-3, 3:-3], whole[23:77, 13:67]) < 30


def test_no_tiling_and_small_images_run_the_untouched_graph(tmp_path):
    model = load_model(instance_norm_net(tmp_path / "in.onnx", TileHints(receptive_field=3)))
    image = photo(40)
    modes: list[Mode] = []
    for tile in (0, None, 64):
        result = model.transform(image, tile_size=tile, report=modes.append)
        expected = model.run(image.transpose(2, 0, 1)[None] / 127.5 - 1.0)[0]
        assert np.abs(result / 127.5 - 1.0 - expected.transpose(1, 2, 0)).max() <= 1 / 127.5 + 1e-6
    assert [mode.describe() for mode in modes] == ["untiled"] * 3


def test_files_without_a_receptive_field_keep_the_hinted_overlap(tmp_path):
    model = load_model(om.blur_stack(tmp_path / "blur.onnx"))
    assert model.info.tile.receptive_field == 0
    modes: list[Mode] = []
    model.transform(photo(100), tile_size=64, report=modes.append)
    assert modes[0].overlap == model.info.tile.overlap == 16 and modes[0].statistics == ""


def test_the_receptive_field_is_measured_on_the_network(tmp_path):
    # Three 5×5 blurs reach 6 pixels; the outermost weights are (1/25)³, below one step.
    reach = measure_receptive_field(load_model(om.blur_stack(tmp_path / "b.onnx", layers=3)))
    assert 2 <= reach <= 6
    reach_in = measure_receptive_field(load_model(instance_norm_net(tmp_path / "in.onnx")))
    assert 1 <= reach_in <= 3


@pytest.mark.parametrize(
    ("length", "tile", "overlap", "align"),
    [(384, 204, 100, 4), (500, 256, 90, 128), (1000, 96, 30, 8), (97, 64, 16, 4)],
)
def test_aligned_tiles_start_on_the_networks_grid_and_cover_the_axis(length, tile, overlap, align):
    spans = plan_axis(length, tile, overlap, align)
    assert all(start % align == 0 for start, _ in spans)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(stop - start == tile for start, stop in spans[:-1])
    assert all(a[1] - b[0] >= overlap for a, b in itertools.pairwise(spans))
