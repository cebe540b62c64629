"""``imagexform batch`` over video files: real clips made with PyAV, real tiny ONNX models.

Each test checks what a user would: the same frames at the same times, the sound untouched,
the rotation and colour description kept, and the one-line errors for bad inputs.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import av
import numpy as np
import pytest
from batch_models import invert_model, slow_model
from cli_process import run_cli
from click.testing import CliRunner
from onnx_models import identity, needs_multiple
from video_clips import (
    audio_bytes,
    frame_times,
    frames,
    make_audio_only,
    make_clip,
    make_gif,
    rotation,
    subtitle_bytes,
    with_subtitles,
)

from imagexform.batch.smoothing import TemporalSmoother
from imagexform.batch.video import MAX_IN_FLIGHT, parse_frames
from imagexform.batch.video_options import parse_bitrate
from imagexform.cli import ImagexformGroup
from imagexform.commands.batch import batch
from imagexform.errors import UserError
from imagexform.io.video import encoders

GROUP = ImagexformGroup(commands={"batch": batch})


def invoke(*args: object):
    return CliRunner().invoke(GROUP, ["batch", *map(str, args)], catch_exceptions=False)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {
        "invert": invert_model(folder / "invert.onnx"),
        "identity": identity(folder / "identity.onnx"),
    }


def report_of(path: Path) -> dict:
    return json.loads(path.read_text())


def test_video_out_keeps_frames_times_sound_rotation_tags_and_colour(tmp_path, models):
    clip = make_clip(tmp_path / "in" / "clip.mp4", 1.5, rotation=90, bt709=True)
    report = tmp_path / "report.json"
    result = invoke(tmp_path / "in", tmp_path / "out", "-m", models["invert"], "--report", report)
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / "clip.mp4"
    assert frame_times(out) == frame_times(clip)  # count and every timestamp
    assert audio_bytes(out) == audio_bytes(clip)  # copied, not re-encoded
    assert rotation(out) == 90
    with av.open(str(clip)) as a, av.open(str(out)) as b:
        assert abs(a.duration - b.duration) <= av.time_base / 24
        assert b.metadata["title"] == "imagexform test clip"
        assert b.streams.video[0].time_base == a.streams.video[0].time_base
        frame = next(b.decode(video=0))
        assert (frame.colorspace, frame.color_primaries, frame.color_trc) == (1, 1, 1)
        assert b.streams.video[0].codec_context.name == "h264"
    inverted = 255 - np.stack(frames(clip)).astype(int)
    assert np.abs(np.stack(frames(out)) - inverted).mean() < 6
    entry = report_of(report)["files"][0]["video"]
    assert entry["frames"] == 36 and entry["codec"] == "h264" and not entry["resumed"]
    assert entry["seconds"] == pytest.approx(1.5, abs=0.05)
    assert entry["fps"] == pytest.approx(24, abs=0.1)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_lossless_option_keeps_every_rgb_sample_in_mkv(tmp_path, models):
    clip = make_clip(tmp_path / "clip.mp4", 0.5)
    flags = ["--video-codec", "ffv1", "--pix-fmt", "bgr0"]
    assert invoke(clip, tmp_path / "out", "-m", models["identity"], *flags).exit_code == 0
    out = tmp_path / "out" / "clip.mkv"  # mp4 cannot carry ffv1
    assert np.array_equal(np.stack(frames(out)), np.stack(frames(clip)))
    assert audio_bytes(out) == audio_bytes(clip)


def test_odd_sizes_are_cropped_for_420_and_the_report_says_so(tmp_path, models):
    clip = make_clip(tmp_path / "odd.mkv", 0.5, size=(63, 47), pix_fmt="yuv444p")
    report = tmp_path / "r.json"
    assert (
        invoke(clip, tmp_path / "out", "-m", models["identity"], "--report", report).exit_code == 0
    )
    entry = report_of(report)["files"][0]
    assert entry["output_size"] == [62, 46]
    assert "cropped from 63×47 to 62×46" in entry["video"]["notes"][0]
    assert frames(tmp_path / "out" / "odd.mkv")[0].shape == (46, 62, 3)


def test_variable_frame_rate_timestamps_are_kept(tmp_path, models):
    times = [0.0, 0.04, 0.08, 0.2, 0.25, 0.5, 0.52, 0.9, 1.0]
    clip = make_clip(tmp_path / "vfr.mkv", times=times)
    assert invoke(clip, tmp_path / "out", "-m", models["invert"]).exit_code == 0
    assert frame_times(tmp_path / "out" / "vfr.mkv") == frame_times(clip) == times


def test_frames_window_and_dry_run(tmp_path, models):
    clip = make_clip(tmp_path / "in" / "clip.mp4", 1.5)
    dry = invoke(tmp_path / "in", tmp_path / "out", "-m", models["invert"], "--dry-run")
    assert dry.exit_code == 0
    assert "64×48 h264, 36 frames, 24 fps, 1.50 s, 1 stream(s) copied" in dry.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())

    flags = ["--frames", "12:24", "--report", tmp_path / "r.json"]
    assert invoke(tmp_path / "in", tmp_path / "out", "-m", models["invert"], *flags).exit_code == 0
    out = tmp_path / "out" / "clip.mp4"
    times = frame_times(out)
    assert len(times) == 12 and times[0] == 0.0
    assert np.abs(frames(out)[0].astype(int) - (255 - frames(clip)[12])).mean() < 6
    with av.open(str(out)) as container:
        sound = [p for p in container.demux(audio=0) if p.size]
        assert 0.4 < float(sound[-1].pts * sound[-1].time_base) <= 0.5
    assert report_of(tmp_path / "r.json")["files"][0]["video"]["frames"] == 12


def test_strength_and_outscale_apply_to_every_frame(tmp_path, models):
    clip = make_clip(tmp_path / "clip.mp4", 0.5)
    flags = ["--strength", "0.5", "--outscale", "2"]
    assert invoke(clip, tmp_path / "out", "-m", models["invert"], *flags).exit_code == 0
    out = np.stack(frames(tmp_path / "out" / "clip.mp4"))
    assert out.shape == (12, 96, 128, 3)
    assert abs(out.mean() - 127.5) < 3 and out.std() < 6  # half the image, half its inverse


def test_truncated_video_keeps_what_decodes_and_says_where(tmp_path, models):
    whole = make_clip(tmp_path / "whole.mkv", 2.0, audio=False)
    cut = tmp_path / "in" / "cut.mkv"
    cut.parent.mkdir()
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    report = tmp_path / "r.json"
    result = invoke(cut, tmp_path / "out", "-m", models["invert"], "--report", report)
    assert result.exit_code == 0
    entry = report_of(report)["files"][0]["video"]
    assert 10 < entry["frames"] < 48
    assert "truncated" in entry["notes"][0] and "s of 2.00 s" in entry["notes"][0]
    assert "cut.mkv: input damaged or truncated" in result.output
    assert len(frame_times(tmp_path / "out" / "cut.mkv")) == entry["frames"]


def test_bad_videos_fail_with_one_line_each_and_no_output(tmp_path, models):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "junk.mp4").write_bytes(b"not a video at all" * 100)
    make_audio_only(folder / "song.mp4")
    make_clip(folder / "big.mp4", 0.5)
    report = tmp_path / "r.json"
    flags = ["-m", models["invert"], "--report", report, "--max-pixels", 3000]
    result = invoke(folder, tmp_path / "out", *flags)
    assert result.exit_code == 1
    errors = {f["relative"]: f["error"] for f in report_of(report)["files"]}
    assert errors["junk.mp4"].startswith("cannot open as a video (")
    assert errors["song.mp4"] == "no video stream (found: audio)"
    assert "64×48 = 3,072 pixels, above the --max-pixels limit of 3,000" in errors["big.mp4"]
    assert list((tmp_path / "out").iterdir()) == []
    for name, error in errors.items():  # the failure list: one line each, path first
        assert f"  {folder / name}: {error}\n" in result.output


def test_a_codec_the_wheel_cannot_encode_is_refused_listing_those_it_can(tmp_path, models):
    clip = make_clip(tmp_path / "clip.mp4", 0.2)
    result = invoke(clip, tmp_path / "out", "-m", models["invert"], "--video-codec", "prores")
    assert result.exit_code == 2
    assert "--video-codec prores: this PyAV build cannot encode it; it can encode" in result.output
    assert "h264" in result.output and "ffv1" in result.output
    assert not (tmp_path / "out").exists()


def test_a_killed_run_resumes_after_the_last_complete_segment(tmp_path):
    model = slow_model(tmp_path / "slow.onnx", width=64, layers=8)
    clip = make_clip(tmp_path / "in" / "clip.mp4", 2.0)
    out = tmp_path / "out"
    args = [tmp_path / "in", out, "--model", model, "--segment-seconds", "0.25"]
    process = run_cli("batch", *args)
    first_segment = out / ".clip.mp4.parts" / "00000.mp4"
    deadline = time.monotonic() + 120
    while not first_segment.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (out / "clip.mp4").exists()  # no broken output
    kept = sorted(p.name for p in first_segment.parent.iterdir() if p.suffix == ".mp4")

    report = tmp_path / "r.json"
    _, stderr = run_cli("batch", *args, "--report", report).communicate(timeout=300)
    assert "TORCH_LOADED=False" in stderr
    entry = report_of(report)["files"][0]["video"]
    assert entry["resumed"] and entry["resumed_at_frame"] == 6 * len(kept)
    assert entry["frames_processed"] == 48 - 6 * len(kept)
    assert frame_times(out / "clip.mp4") == frame_times(clip)
    assert audio_bytes(out / "clip.mp4") == audio_bytes(clip)
    assert not first_segment.parent.exists()


def test_frames_in_flight_stay_bounded_on_a_longer_clip(tmp_path):
    model = slow_model(tmp_path / "slow.onnx", width=32, layers=4)
    clip = make_clip(tmp_path / "long.mp4", 8.0, audio=False)
    report = tmp_path / "r.json"
    assert invoke(clip, tmp_path / "out", "-m", model, "--report", report).exit_code == 0
    entry = report_of(report)["files"][0]["video"]
    assert entry["frames"] == 192
    assert 2 <= entry["peak_frames_in_flight"] <= MAX_IN_FLIGHT < 10


def test_temporal_smoothing_runs_end_to_end(tmp_path, models):
    clip = make_clip(tmp_path / "clip.mp4", 0.5)
    flags = ["--temporal-smoothing", "0.5", "--report", tmp_path / "r.json"]
    assert invoke(clip, tmp_path / "out", "-m", models["invert"], *flags).exit_code == 0
    settings = report_of(tmp_path / "r.json")["settings"]["video"]
    assert settings["temporal_smoothing"] == 0.5
    assert len(frames(tmp_path / "out" / "clip.mp4")) == 12


def test_a_model_failing_mid_video_leaves_nothing_behind(tmp_path):
    """The model refuses 64×48 frames (it needs multiples of 32, undeclared), so the run fails
    after the segment folder was made: the folder goes too."""
    model = needs_multiple(tmp_path / "m32.onnx", 32, declare=False)
    clip = make_clip(tmp_path / "clip.mp4", 0.5)
    result = invoke(clip, tmp_path / "out", "-m", model)
    assert result.exit_code == 1
    assert list((tmp_path / "out").iterdir()) == []  # no output, no hidden segment folder


def test_temporal_smoothing_mixes_history_only_where_the_input_is_still():
    smoother = TemporalSmoother(0.5)
    still = np.full((8, 8, 3), 100, np.uint8)
    moved = still.copy()
    moved[:, 4:] = 220  # the right half changes a lot
    first = smoother(still, np.full((8, 8, 3), 40, np.uint8))
    assert (first == 40).all()  # nothing to mix with yet
    second = smoother(moved, np.full((8, 8, 3), 80, np.uint8))
    assert (second[:, :4] == 60).all()  # still: half of the last output kept
    assert (second[:, 4:] == 80).all()  # moved: the new result as is
    upscaled = TemporalSmoother(0.5)
    upscaled(still, np.zeros((16, 16, 3), np.uint8))
    assert upscaled(still, np.full((16, 16, 3), 100, np.uint8)).shape == (16, 16, 3)


def test_frames_and_bitrate_options_are_checked():
    assert parse_frames("12:24") == (12, 24) and parse_frames("5:") == (5, None)
    for bad in ("12", "24:12", "a:b", "-1:3"):
        with pytest.raises(UserError, match="--frames"):
            parse_frames(bad)
    assert parse_bitrate("8M") == 8_000_000 and parse_bitrate("2500k") == 2_500_000
    with pytest.raises(UserError, match="--video-bitrate"):
        parse_bitrate("fast")


def test_bitrate_and_codec_choice_reach_the_encoder(tmp_path, models):
    clip = make_clip(tmp_path / "clip.mkv", 0.5, audio=False)
    flags = ["--video-codec", "vp9", "--video-bitrate", "200k", "--pix-fmt", "yuv444p"]
    assert invoke(clip, tmp_path / "out", "-m", models["invert"], *flags).exit_code == 0
    with av.open(str(tmp_path / "out" / "clip.mkv")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "vp9"
        assert stream.codec_context.pix_fmt == "yuv444p"


@pytest.mark.skipif(encoders().get("h264") != "libx264", reason="this PyAV build has no x264")
def test_the_preset_reaches_x264_and_other_codecs_refuse_one(tmp_path, models):
    """x264 writes its settings into the stream: ultrafast turns CABAC off, medium keeps it."""
    clip = make_clip(tmp_path / "clip.mp4", 0.5, audio=False)
    for preset in ("ultrafast", "medium"):
        flags = ["--video-preset", preset]
        result = invoke(clip, tmp_path / preset, "-m", models["invert"], *flags)
        assert result.exit_code == 0, result.output
        assert frame_times(tmp_path / preset / "clip.mp4") == frame_times(clip)
    assert b"cabac=0" in (tmp_path / "ultrafast" / "clip.mp4").read_bytes()
    assert b"cabac=1" in (tmp_path / "medium" / "clip.mp4").read_bytes()
    refused = invoke(
        clip,
        tmp_path / "vp9",
        "-m",
        models["invert"],
        "--video-codec",
        "vp9",
        "--video-preset",
        "fast",
    )
    assert refused.exit_code == 2
    assert "--video-preset fast: vp9 (libvpx-vp9) takes no preset" in refused.output
    assert not (tmp_path / "vp9").exists() or not any((tmp_path / "vp9").iterdir())


def test_segments_of_another_job_are_not_reused(tmp_path, models):
    clip = make_clip(tmp_path / "clip.mp4", 0.5)
    parts = tmp_path / "out" / ".clip.mp4.parts"
    parts.mkdir(parents=True)
    (parts / "job.json").write_text(json.dumps({"key": "another model or settings"}))
    (parts / "00000.mp4").write_bytes(b"a segment of something else")
    report = tmp_path / "r.json"
    flags = ["-m", models["invert"], "--report", report, "--segment-seconds", "0.25"]
    assert invoke(clip, tmp_path / "out", *flags).exit_code == 0
    assert not report_of(report)["files"][0]["video"]["resumed"]
    assert frame_times(tmp_path / "out" / "clip.mp4") == frame_times(clip)
    assert not parts.exists()


def test_subtitles_are_copied_packet_for_packet_with_stream_tags(tmp_path, models):
    cues = [(0.1, 0.6, "Hello"), (0.7, 0.9, "World")]
    clip = with_subtitles(make_clip(tmp_path / "plain.mp4", 1.0), tmp_path / "in.mkv", cues)
    assert invoke(clip, tmp_path / "out", "-m", models["invert"]).exit_code == 0
    out = tmp_path / "out" / "in.mkv"
    assert subtitle_bytes(out) == subtitle_bytes(clip) == [b"Hello", b"World"]
    with av.open(str(out)) as container:
        assert [s.metadata.get("language") for s in container.streams] == ["fra"] * 3
    assert audio_bytes(out) == audio_bytes(clip)
    assert frame_times(out) == frame_times(clip)


def test_a_gif_is_read_as_video_and_written_as_mp4(tmp_path, models):
    gif = make_gif(tmp_path / "in" / "anim.gif")
    assert invoke(tmp_path / "in", tmp_path / "out", "-m", models["invert"]).exit_code == 0
    out = tmp_path / "out" / "anim.mp4"
    assert frame_times(out) == frame_times(gif) == [i / 10 for i in range(10)]
    assert frames(out)[0].shape == (46, 62, 3)


@pytest.mark.parametrize(
    ("codec", "decoded_as"), [("hevc", "hevc"), ("av1", "av1"), ("vp9", "vp9")]
)
def test_every_codec_the_wheel_offers_writes_a_playable_video(tmp_path, models, codec, decoded_as):
    if codec not in encoders():
        pytest.skip(f"this PyAV build has no {codec} encoder")
    clip = make_clip(tmp_path / "clip.mkv", 0.5)
    flags = ["--video-codec", codec, "--crf", "30"]
    assert invoke(clip, tmp_path / "out", "-m", models["invert"], *flags).exit_code == 0
    out = tmp_path / "out" / "clip.mkv"
    assert frame_times(out) == frame_times(clip)
    assert audio_bytes(out) == audio_bytes(clip)
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name in (codec, "libdav1d")
