"""The decode → model → encode pipeline with a stand-in model, so each stage's failure and the
queue bounds can be provoked directly. The real runtime is exercised in test_batch_command."""

from __future__ import annotations

import threading
import time
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
import pytest
from handmade import exif_block, huge_png, icc_profile

import imagexform.batch.pipeline as pipeline_module
from imagexform.batch.discover import Source
from imagexform.batch.formats import conform
from imagexform.batch.pipeline import Settings, Task, run_pipeline
from imagexform.batch.report import FileResult
from imagexform.io.images import read_file_bytes, read_image
from imagexform.io.metadata import ImageMetadata, extract_metadata, insert_metadata
from imagexform.runtime.adjustments import Adjustments
from imagexform.runtime.tiling import Mode


class Invert:
    """Stands in for RuntimeModel: inverts pixels, optionally slowly or failing."""

    def __init__(self, delay: float = 0.0, fail_width: int | None = None) -> None:
        self.delay = delay
        self.fail_width = fail_width
        self.calls = 0
        self.seen_conditions: list[object] = []
        self.seen_adjustments: list[object] = []

    def transform(
        self,
        image,
        conditions=None,
        *,
        tile_size=None,
        overlap=None,
        adjustments=None,
        progress=None,
        report=None,
    ):
        self.calls += 1
        self.seen_conditions.append(conditions)
        self.seen_adjustments.append(adjustments)
        if self.delay:
            time.sleep(self.delay)
        if image.shape[1] == self.fail_width:
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : bad\nnode")
        if report is not None:
            report(Mode(1, image.shape[:2], 0))
        return np.iinfo(image.dtype).max - image


def write(path: Path, image: np.ndarray, params: tuple[int, ...] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    converted = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    assert cv2.imwrite(str(path), converted, list(params))
    return path


def tasks_for(paths: list[Path], out: Path, extension: str | None = None) -> list[Task]:
    return [
        Task(
            Source(p, PurePosixPath(p.name)),
            out / (p.name if extension is None else p.stem + extension),
        )
        for p in paths
    ]


def run(tasks: list[Task], model=None, **settings) -> dict[str, FileResult]:
    results: list[FileResult] = []
    run_pipeline(tasks, model or Invert(), Settings(**settings), results.append)
    assert len(results) == len(tasks)
    return {r.relative: r for r in results}


def gradient(height: int = 24, width: int = 32) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    image[..., 1] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    return image


def test_outputs_are_transformed_and_reported(tmp_path):
    sources = [write(tmp_path / "in" / f"{i}.png", gradient() + i) for i in range(5)]
    results = run(tasks_for(sources, tmp_path / "out"), jobs=2, conditions={"strength": [0.5]})
    for i, source in enumerate(sources):
        result = results[source.name]
        assert result.status == "ok", result.error
        assert np.array_equal(read_image(result.target), 255 - (gradient() + i))
        assert result.input_size == result.output_size == (32, 24)
        assert result.bytes_in == source.stat().st_size
        assert result.bytes_out == result.target.stat().st_size
        assert result.seconds > 0
        assert result.tiling == "untiled"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_conditions_and_tiling_reach_the_model(tmp_path):
    model = Invert()
    source = write(tmp_path / "a.png", gradient())
    chosen = Adjustments(strength=0.5)
    run(
        tasks_for([source], tmp_path / "out"),
        model,
        conditions={"attributes": [1.0, 0.0]},
        adjustments=chosen,
    )
    assert model.seen_conditions == [{"attributes": [1.0, 0.0]}]
    assert model.seen_adjustments == [chosen]
    model = Invert()
    run(tasks_for([source], tmp_path / "out2"), model)
    assert model.seen_conditions == [None]


def test_each_stage_failure_is_reported_and_the_rest_continue(tmp_path):
    good = write(tmp_path / "in" / "good.png", gradient())
    empty = tmp_path / "in" / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "in" / "text.jpg"
    text.write_text("not a picture\n")
    truncated = tmp_path / "in" / "cut.png"
    truncated.write_bytes(read_file_bytes(good)[:-30])
    model_fails = write(tmp_path / "in" / "wide.png", gradient(24, 77))
    blocked = tmp_path / "out" / "blocked"
    blocked.parent.mkdir(parents=True)
    blocked.write_bytes(b"a file where a folder is needed")
    tasks = tasks_for([good, empty, text, truncated, model_fails], tmp_path / "out")
    tasks.append(Task(Source(good, PurePosixPath("again.png")), blocked / "again.png"))
    results = run(tasks, Invert(fail_width=77), jobs=3)
    assert results["good.png"].status == "ok"
    assert results["empty.jpg"].error == "not a decodable image (0 bytes)"
    assert "no supported image format" in results["text.jpg"].error
    assert "truncated" in results["cut.png"].error
    assert results["wide.png"].error.startswith("RuntimeError: [ONNXRuntimeError]")
    assert "\n" not in results["wide.png"].error
    assert results["wide.png"].input_size == (77, 24)
    assert "cannot write file" in results["again.png"].error
    assert [r.status for r in results.values()].count("failed") == 5


def test_bomb_is_refused_before_decoding(tmp_path, monkeypatch):
    """How fast: benchmarks/bomb_refusal.py."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(huge_png(20000, 20000))
    small = write(tmp_path / "small.png", gradient())
    decoded = []
    real_decode = pipeline_module.decode_image

    def recording_decode(data, source):
        decoded.append(Path(source).name)
        return real_decode(data, source)

    monkeypatch.setattr(pipeline_module, "decode_image", recording_decode)
    results = run(tasks_for([bomb, small], tmp_path / "out"))
    assert decoded == ["small.png"]
    assert "--max-pixels 400000000" in results["bomb.png"].error
    assert results["small.png"].status == "ok"
    # The limit is a setting: lowered, it refuses the small image too; 0 disables it.
    assert run(tasks_for([small], tmp_path / "o2"), max_pixels=500)["small.png"].status == "failed"
    assert run(tasks_for([small], tmp_path / "o3"), max_pixels=0)["small.png"].status == "ok"


def test_memory_stays_bounded_by_the_queues(tmp_path, monkeypatch):
    """Decoding runs ahead of a slow model only as far as the queues allow."""
    sources = [write(tmp_path / "in" / f"{i:02}.png", gradient()) for i in range(30)]
    decoded = 0
    finished = 0
    peak = 0
    lock = threading.Lock()
    real_decode = pipeline_module.decode_image

    def counting_decode(data, source):
        nonlocal decoded, peak
        image = real_decode(data, source)
        with lock:
            decoded += 1
            peak = max(peak, decoded - finished)
        return image

    def finish(result):
        nonlocal finished
        with lock:
            finished += 1

    monkeypatch.setattr(pipeline_module, "decode_image", counting_decode)
    jobs = 2
    run_pipeline(
        tasks_for(sources, tmp_path / "out"), Invert(delay=0.01), Settings(jobs=jobs), finish
    )
    assert finished == 30
    # decoded queue + decoders holding a finished image + the model + encode queue + encoders
    depth = max(2, jobs)
    assert peak <= depth + jobs + 1 + depth + jobs


def test_interrupt_writes_what_the_model_finished_and_nothing_partial(tmp_path):
    sources = [write(tmp_path / "in" / f"{i:02}.png", gradient()) for i in range(12)]

    class Interrupting(Invert):
        def transform(
            self,
            image,
            conditions=None,
            *,
            tile_size=None,
            overlap=None,
            adjustments=None,
            progress=None,
            report=None,
        ):
            if self.calls == 4:
                raise KeyboardInterrupt
            return super().transform(image, conditions)

    results: list[FileResult] = []
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(tasks_for(sources, out), Interrupting(), Settings(jobs=2), results.append)
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(r.target.name for r in results if r.status == "ok")
    assert len(written) == 4
    for name in written:
        assert np.array_equal(read_image(out / name), 255 - gradient())


def test_metadata_goes_to_the_output_upright(tmp_path):
    """A JPEG tagged orientation 6 decodes rotated; the output holds the rotated pixels, so
    its EXIF must say orientation 1 and the output size, and keep the camera fields."""
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(gradient(24, 40), cv2.COLOR_RGB2BGR))
    assert ok
    icc = icc_profile()
    tagged = insert_metadata(encoded.tobytes(), ImageMetadata(exif=exif_block(6), icc=icc))
    source = tmp_path / "in" / "rotated.jpg"
    source.parent.mkdir()
    source.write_bytes(tagged)
    for extension in (".jpg", ".png", ".webp"):
        results = run(tasks_for([source], tmp_path / "out", extension))
        result = results["rotated.jpg"]
        assert result.status == "ok", result.error
        assert result.output_size == (24, 40)
        written = result.target.read_bytes()
        metadata = extract_metadata(written)
        assert metadata.icc == icc
        assert metadata.exif is not None and b"Canon" in metadata.exif
        assert read_image(result.target).shape[:2] == (40, 24)  # not rotated a second time
    stripped = run(tasks_for([source], tmp_path / "bare"), keep_metadata=False)
    assert not extract_metadata(stripped["rotated.jpg"].target.read_bytes())


def test_cmyk_profile_does_not_follow_rgb_pixels(tmp_path):
    from handmade import cmyk_jpeg, jpeg_with_segments

    ink = np.zeros((2, 2, 4), np.uint8)
    ink[..., 1:3] = 255
    cmyk = icc_profile(space=b"CMYK")
    source = tmp_path / "cmyk.jpg"
    source.write_bytes(
        jpeg_with_segments(cmyk_jpeg(ink), (0xE2, b"ICC_PROFILE\x00\x01\x01" + cmyk))
    )
    result = run(tasks_for([source], tmp_path / "out"))["cmyk.jpg"]
    assert result.status == "ok", result.error
    assert extract_metadata(result.target.read_bytes()).icc is None
    output = read_image(result.target)
    assert output.shape == (16, 16, 3)
    assert np.abs(output.astype(int) - (0, 255, 255)).max() <= 6  # inverted red


def test_sixteen_bit_and_alpha_conversions():
    deep = np.array([[[0, 257, 65535]]], np.uint16)
    assert conform(deep, ".png") is deep
    assert conform(deep, ".jpg").tolist() == [[[0, 1, 255]]]
    assert conform(deep, ".webp").dtype == np.uint8
    rgba = np.array([[[255, 0, 0, 255], [255, 0, 0, 0], [0, 0, 0, 128]]], np.uint8)
    assert conform(rgba, ".jpg").tolist() == [[[255, 0, 0], [255, 255, 255], [127, 127, 127]]]
    assert conform(rgba, ".webp").shape[2] == 4
    assert conform(rgba, ".png") is rgba


def test_progress_bar_and_plain_lines(capsys):
    from imagexform.batch.progress import progress

    results = [
        FileResult(Path("/in/a.png"), "a.png", Path("/out/a.png"), "ok", seconds=0.25),
        FileResult(Path("/in/b.png"), "b.png", Path("/out/b.png"), "failed", error="broken"),
    ]
    with progress(2, interactive=False) as update:
        for result in results:
            update(result)
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["[1/2] ok a.png -> /out/a.png (0.25 s)", "[2/2] failed b.png: broken"]
    with progress(2, interactive=True) as update:
        for result in results:
            update(result)
    assert "failed b.png: broken" in capsys.readouterr().err


def test_atomic_write_temp_names_are_recognised_for_cleanup(tmp_path, monkeypatch):
    import os

    from imagexform.io.images import ImageWriteError, is_temp_name, write_bytes_atomic

    seen: list[str] = []

    def refuse(source, target):
        seen.append(Path(source).name)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ImageWriteError, match="No space left on device"):
        write_bytes_atomic(tmp_path / "a very long name of an output image file.png", b"data")
    assert len(seen) == 1 and is_temp_name(seen[0])
    assert list(tmp_path.iterdir()) == []  # the temp file was removed
    for name in ("photo.png", ".hidden.png", ".photo.png.tmp", ".photo.png.0123abcd.tmp.png"):
        assert not is_temp_name(name)
