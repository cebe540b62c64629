"""The ``imagexform batch`` options for video inputs, as one decorator so the command gains
them with a single line. Only click is imported: ``--help`` must answer at once."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from imagexform.errors import UserError

_CODEC_NAMES = ("h264", "hevc", "av1", "vp9", "ffv1", "mpeg4")
# x264's and x265's speed/size trade-off: each step faster encodes in about half the CPU time
# for a somewhat larger file at the same --crf quality.
PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)
_OPTION_NAMES = (
    "video_codec",
    "crf",
    "video_bitrate",
    "pix_fmt",
    "video_preset",
    "frames",
    "temporal_smoothing",
    "segment_seconds",
)


def video_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the video options; the command receives them together as ``video_args``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["video_args"] = {name: kwargs.pop(name) for name in _OPTION_NAMES}
        return command(*args, **kwargs)

    options = [
        click.option(
            "--video-codec",
            default="h264",
            show_default=True,
            metavar="|".join(_CODEC_NAMES),
            help="Codec for video outputs, as this PyAV build provides (ffv1: lossless, "
            "written as .mkv).",
        ),
        click.option(
            "--crf",
            type=click.IntRange(0, 63),
            help="Video quality, lower is better (h264/hevc 0–51, av1/vp9 0–63).  [default: 18]",
        ),
        click.option(
            "--video-bitrate", metavar="RATE", help="Target bitrate instead of --crf, e.g. 8M."
        ),
        click.option(
            "--pix-fmt",
            help="Video pixel format, e.g. yuv444p.  [default: yuv420p; yuv444p for ffv1]",
        ),
        click.option(
            "--video-preset",
            type=click.Choice(PRESETS),
            help="h264/hevc encoding speed: faster presets take less CPU from the model "
            "for a somewhat larger file at the same --crf.  [default: medium]",
        ),
        click.option(
            "--frames",
            metavar="A:B",
            help="Only video frames A (inclusive) to B (exclusive), e.g. 0:48 for a quick look.",
        ),
        click.option(
            "--temporal-smoothing",
            type=click.FloatRange(0, 1, max_open=True),
            default=0.0,
            show_default=True,
            help="Reduce frame-to-frame flicker of style/CycleGAN models on still areas "
            "(0 off; 0.5 a good start).",
        ),
        click.option(
            "--segment-seconds",
            type=click.FloatRange(0, min_open=True),
            default=10.0,
            show_default=True,
            help="Video is written in segments this long: a killed run resumes after the last.",
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def parse_bitrate(text: str | None) -> int | None:
    """``8M``, ``2500k`` or ``800000`` as bits per second."""
    if text is None:
        return None
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    number = text[:-1] if scale > 1 else text
    try:
        value = float(number) * scale
    except ValueError:
        value = 0
    if value <= 0:
        raise UserError(f"--video-bitrate {text!r}: expected a rate such as 8M or 2500k")
    return int(value)
