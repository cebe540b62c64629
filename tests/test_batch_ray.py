"""``imagexform batch --engine ray`` against ``--engine local``: a real local Ray on 127.0.0.1
(one instance shared by the module, started with two CPUs), tiny real models and images."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="the cluster extra (ray[data]) is not installed")
pytest.importorskip("ray.data", reason="the cluster extra (ray[data]) is not installed")
from batch_models import invert_model, slow_model  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from s3_server import local_s3  # noqa: E402

from imagexform.cli import ImagexformGroup  # noqa: E402
from imagexform.commands.batch import batch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GROUP = ImagexformGroup(commands={"batch": batch})


BUCKET = "cluster"


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One Ray for the module, started inside a local S3 server's environment (when moto and
    s3fs are installed) so its actors find the bucket as cluster nodes find a real one."""
    with contextlib.ExitStack() as stack:
        if importlib.util.find_spec("moto") and importlib.util.find_spec("s3fs"):
            stack.enter_context(local_s3(BUCKET))
        ray.init(
            num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1"
        )
        stack.callback(ray.shutdown)
        yield


def test_ray_reads_from_and_writes_to_a_bucket(tmp_path):
    pytest.importorskip("moto", reason="moto[server] is not installed")
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    photos(tmp_path / "in", 3)
    fs.put(str(tmp_path / "in"), f"{BUCKET}/in", recursive=True)
    model = invert_model(tmp_path / "invert.onnx")

    result = invoke(f"s3://{BUCKET}/in", f"s3://{BUCKET}/out", "-r", "-m", model, "--engine", "ray")

    assert result.exit_code == 0, result.output
    written = [p for p in fs.find(f"{BUCKET}/out") if "/.imagexform-done/" not in p]
    assert sorted(written) == sorted(f"{BUCKET}/out/{p}" for p in files(tmp_path / "in"))
    local = invoke(tmp_path / "in", tmp_path / "local", "-r", "-m", model)
    assert local.exit_code == 0
    for name in files(tmp_path / "local"):
        assert fs.cat_file(f"{BUCKET}/out/{name}") == (tmp_path / "local" / name).read_bytes()


def invoke(*args: object) -> object:
    return CliRunner().invoke(GROUP, ["batch", *map(str, args)], catch_exceptions=False)


def photos(folder: Path, count: int, size: int = 32) -> None:
    for i in range(count):
        rng = np.random.default_rng(i)
        image = rng.integers(0, 256, (size, size + 8, 3), dtype=np.uint8)
        (folder / f"sub{i % 2}").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"sub{i % 2}" / f"p{i:03}.png"), image)


def files(folder: Path) -> list[Path]:
    """Every file below ``folder`` but hidden ones (completion records, a killed run's temp
    files)."""
    found = (p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    return sorted(p for p in found if not any(part.startswith(".") for part in p.parts))


def statuses(report: Path) -> dict[str, tuple[str, str | None]]:
    files = json.loads(report.read_text())["files"]
    return {f["relative"]: (f["status"], f["error"]) for f in files}


def test_ray_writes_the_same_bytes_and_report_as_local(tmp_path):
    model = invert_model(tmp_path / "invert.onnx")
    photos(tmp_path / "in", 5)
    (tmp_path / "in" / "sub0" / "broken.png").write_bytes(b"truncated")
    (tmp_path / "in" / "clip.mp4").write_bytes(b"not even a video")
    common = ("-r", "-m", model, "--format", "png")

    local = invoke(tmp_path / "in", tmp_path / "local", *common, "--report", tmp_path / "l.json")
    on_ray = invoke(
        tmp_path / "in",
        tmp_path / "ray",
        *common,
        "--engine",
        "ray",
        "--workers",
        "2",
        "--report",
        tmp_path / "r.json",
    )

    assert local.exit_code == on_ray.exit_code == 1
    assert "[7/7]" in on_ray.output  # the driver's live count of what the workers finished
    names = files(tmp_path / "local")
    assert names == files(tmp_path / "ray")
    assert len(names) == 5
    for name in names:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    local_statuses, ray_statuses = statuses(tmp_path / "l.json"), statuses(tmp_path / "r.json")
    assert local_statuses.pop("clip.mp4")[0] == "failed"  # a video the local engine tried
    assert ray_statuses.pop("clip.mp4") == (
        "failed",
        "videos are converted with --engine local only",
    )
    assert local_statuses == ray_statuses
    assert json.loads((tmp_path / "r.json").read_text())["settings"]["engine"] == "ray"

    model_sha256 = hashlib.sha256(model.read_bytes()).hexdigest()
    records = list((tmp_path / "ray" / ".imagexform-done" / model_sha256).glob("*.json"))
    entries = [e for r in records for e in json.loads(r.read_text())["files"]]
    assert sorted(e["relative"] for e in entries) == sorted(ray_statuses)
    for entry in entries:
        content = (tmp_path / "in" / entry["relative"]).read_bytes()
        assert entry["input_sha256"] == hashlib.sha256(content).hexdigest()

    again = invoke(
        tmp_path / "in",
        tmp_path / "ray",
        *common,
        "--engine",
        "ray",
        "--report",
        tmp_path / "r.json",
    )
    reasons = {status for status in statuses(tmp_path / "r.json").values() if status[0] != "failed"}
    assert reasons == {("skipped", "done (completion record)")}, again.output


def settled(out: Path) -> dict[Path, int]:
    """The outputs once no more appear: a killed driver's actors (in their own process
    groups) may still finish the image in hand before they notice it is gone."""
    seen: dict[Path, int] = {}
    for _ in range(100):
        now = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
        if now == seen:
            return now
        seen = now
        time.sleep(0.5)
    raise AssertionError("outputs kept appearing after the job was killed")


KILLED_RUN = """
import sys
from imagexform.commands.batch import batch
batch(sys.argv[1:])
"""


def test_a_killed_ray_run_is_finished_by_a_rerun_without_redoing_outputs(tmp_path):
    model = slow_model(tmp_path / "slow.onnx", width=32, layers=6)
    total = 48
    photos(tmp_path / "in", total, size=96)
    out = tmp_path / "out"
    args = ("-r", "-m", model, "--engine", "ray", "--workers", "2")
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
    job = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(tmp_path / "in"), str(out), *map(str, args)],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180  # Ray's start-up on a busy machine, never forever
    try:
        while len(list(out.rglob("*.png"))) < 4 and job.poll() is None:
            assert time.monotonic() < deadline, "the killed job never wrote an output"
            time.sleep(0.05)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    done_before = settled(out)
    assert 4 <= len(done_before) < total, "the job finished before it could be killed"

    rerun = invoke(tmp_path / "in", out, *args, "--report", tmp_path / "r.json")

    assert rerun.exit_code == 0, rerun.output
    counted = [status for status, _ in statuses(tmp_path / "r.json").values()]
    assert counted.count("skipped") == len(done_before)
    assert counted.count("ok") == total - len(done_before)
    assert {p: p.stat().st_mtime_ns for p in done_before} == done_before
    assert len(list(out.rglob("*.png"))) == total
    assert not [p for p in files(out) if p.suffix != ".png"]


def test_an_actor_on_a_node_without_the_model_file_gets_it_from_the_object_store(tmp_path):
    from imagexform.batch.pipeline import Settings
    from imagexform.batch.ray_engine import ActorSpec, Transformer

    model = invert_model(tmp_path / "invert.onnx")
    content = model.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    elsewhere = tmp_path / "driver-only" / "invert.onnx"  # a path this "node" cannot see
    spec = ActorSpec(
        elsewhere, {}, Settings(), None, None, digest, tmp_path / "records", ray.put(content)
    )
    photos(tmp_path / "in", 1)
    source = tmp_path / "in" / "sub0" / "p000.png"

    actor = Transformer(spec)
    rows = {
        "source": [str(source)],
        "relative": ["sub0/p000.png"],
        "target": [str(tmp_path / "o.png")],
    }
    result = json.loads(actor({k: np.array(v) for k, v in rows.items()})["result"][0])

    assert result["status"] == "ok"
    original = cv2.imread(str(source), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(cv2.imread(str(tmp_path / "o.png"), cv2.IMREAD_UNCHANGED), 255 - original)
