"""The driver's live count: the bar counts done files and says how many failed."""

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
