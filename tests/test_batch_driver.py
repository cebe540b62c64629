"""The driver of a batch run: its live count of done and failed files, its cluster flags."""

from __future__ import annotations

from pathlib import Path

from imagexform.batch.progress import progress
from imagexform.batch.report import FileResult


def test_the_bar_counts_failures_as_they_arrive(capsys):
    ok = FileResult(Path("a.png"), "a.png", Path("out/a.png"), "ok")
    bad = FileResult(Path("b.png"), "b.png", None, "failed", error="not a decodable image")

    with progress(3, interactive=True) as update:
        update(ok)
        update(bad)

    shown = capsys.readouterr().err
    assert "failed b.png: not a decodable image" in shown
    assert "batch (1 failed)" in shown and "2/3" in shown


def test_cluster_flags_without_the_ray_engine_are_a_usage_error(tmp_path):
    from click.testing import CliRunner

    from imagexform.cli import ImagexformGroup
    from imagexform.commands.batch import batch

    group = ImagexformGroup(commands={"batch": batch})
    args = ["batch", str(tmp_path), str(tmp_path / "out"), "-m", "m.onnx", "--address", "auto"]
    result = CliRunner().invoke(group, args)

    assert result.exit_code == 2
    assert "--address and --gpus-per-worker need --engine ray" in result.output
