"""``imagexform batch`` with INPUT and OUTPUT in an S3 bucket: moto's S3 server on 127.0.0.1,
the real s3fs client, the real CLI and a tiny real model."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("s3fs", reason="the cloud extra (s3fs) is not installed")
pytest.importorskip("moto.server", reason="moto[server] is not installed")
from batch_models import invert_model, slow_model
from click.testing import CliRunner
from s3_server import local_s3

from imagexform.cli import ImagexformGroup
from imagexform.commands.batch import batch

GROUP = ImagexformGroup(commands={"batch": batch})
BUCKET = "photos"


@pytest.fixture(scope="module")
def s3():
    with local_s3(BUCKET) as fs:
        yield fs


@pytest.fixture(scope="module")
def invert(tmp_path_factory) -> Path:
    return invert_model(tmp_path_factory.mktemp("models") / "invert.onnx")


def png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    return cv2.imencode(".png", image)[1].tobytes()


def invoke(*args: object) -> object:
    return CliRunner().invoke(GROUP, ["batch", *map(str, args)], catch_exceptions=False)


def test_bucket_to_bucket_reports_a_bad_object_and_rerun_skips(s3, invert, tmp_path):
    for i in range(3):
        s3.pipe_file(f"{BUCKET}/in/sub/p{i}.png", png(i))
    s3.pipe_file(f"{BUCKET}/in/sub/broken.png", b"not a png at all")
    report = tmp_path / "report.json"
    args = ("-r", "-m", invert, "--report", report)

    first = invoke(f"s3://{BUCKET}/in", f"s3://{BUCKET}/out", *args)

    assert first.exit_code == 1, first.output
    s3.invalidate_cache()
    written = sorted(s3.find(f"{BUCKET}/out"))
    assert written == [f"{BUCKET}/out/sub/p{i}.png" for i in range(3)]  # no temp keys left
    data = s3.cat_file(f"{BUCKET}/out/sub/p1.png")
    output = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    source = cv2.imdecode(np.frombuffer(png(1), np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(output, 255 - source)
    statuses = {f["relative"]: f["status"] for f in json.loads(report.read_text())["files"]}
    assert statuses == {"sub/broken.png": "failed"} | {f"sub/p{i}.png": "ok" for i in range(3)}
    assert json.loads(report.read_text())["output"] == f"s3://{BUCKET}/out"

    s3.pipe_file(f"{BUCKET}/in/sub/p3.png", png(3))
    again = invoke(f"s3://{BUCKET}/in", f"s3://{BUCKET}/out", *args)

    statuses = {f["relative"]: f["status"] for f in json.loads(report.read_text())["files"]}
    assert statuses["sub/p3.png"] == "ok"
    assert [statuses[f"sub/p{i}.png"] for i in range(3)] == ["skipped"] * 3
    assert "1 done, 3 skipped, 1 failed" in again.output


def test_local_folder_to_bucket_and_bucket_to_local_folder(s3, invert, tmp_path):
    local_in = tmp_path / "in"
    local_in.mkdir()
    (local_in / "a.png").write_bytes(png(7))

    up = invoke(local_in, f"s3://{BUCKET}/up", "-m", invert)
    down = invoke(f"s3://{BUCKET}/up", tmp_path / "down", "-m", invert)

    assert up.exit_code == 0 and down.exit_code == 0, up.output + down.output
    twice = cv2.imread(str(tmp_path / "down" / "a.png"), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(twice, cv2.imdecode(np.frombuffer(png(7), np.uint8), -1))


def test_a_failed_upload_leaves_no_object_under_its_name(s3, tmp_path):
    from imagexform.batch.storage import Location
    from imagexform.io.images import ImageWriteError

    location = Location.open(f"s3://{BUCKET}/atomic")
    with pytest.raises(ImageWriteError):
        location.write(Path("no-such-bucket-here/x.png"), b"data")
    location.write(Path(f"{BUCKET}/atomic/x.png"), b"data")

    s3.invalidate_cache()
    assert s3.find(f"{BUCKET}/atomic") == [f"{BUCKET}/atomic/x.png"]


def test_a_missing_location_is_a_usage_error(s3, invert, tmp_path):
    result = invoke(f"s3://{BUCKET}/nothing-here", tmp_path / "out", "-m", invert)

    assert result.exit_code == 2
    assert "no image files found" in result.output or "no such location" in result.output


def test_shards_of_a_bucket_are_disjoint_and_cover_it(s3, invert, tmp_path):
    for i in range(6):
        s3.pipe_file(f"{BUCKET}/sharded/p{i}.png", png(i))

    for k in (1, 2):
        result = invoke(
            f"s3://{BUCKET}/sharded", tmp_path / f"part{k}", "-m", invert, "--shard", f"{k}/2"
        )
        assert result.exit_code == 0, result.output

    parts = [{p.name for p in (tmp_path / f"part{k}").glob("*.png")} for k in (1, 2)]
    assert parts[0] and parts[1] and not parts[0] & parts[1]
    assert parts[0] | parts[1] == {f"p{i}.png" for i in range(6)}


def test_fast_precision_calibrates_on_photos_in_the_bucket(s3, tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGEXFORM_CACHE_DIR", str(tmp_path / "cache"))
    model = slow_model(tmp_path / "slow.onnx")
    for i in range(2):
        s3.pipe_file(f"{BUCKET}/calibrate/p{i}.png", png(i))

    result = invoke(
        f"s3://{BUCKET}/calibrate", tmp_path / "out", "-m", model, "--precision", "fast"
    )

    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.png", "p1.png"]
    assert list((tmp_path / "cache").rglob("*.json"))  # calibrated from the bucket's photos
