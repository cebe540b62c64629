"""Progress, TensorBoard scalars and sample grids: everything a run shows its user.

Only the process that saves (rank 0) creates a reporter.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from imagexform.io.images import write_image_atomic


def image_grid(
    rows: Sequence[Sequence[torch.Tensor]], value_range: tuple[float, float]
) -> np.ndarray:
    """One row per sample, one column per image (e.g. input | output | target); each image is
    1×C×H×W in ``value_range``. Images of a row are scaled to the row's tallest (so an SR
    input shows at output size), rows padded to the widest. Returns H×W×3 uint8 RGB."""
    low, high = value_range
    rendered = []
    for row in rows:
        height = max(image.shape[-2] for image in row)
        tiles = []
        for image in row:
            image = image.detach().float().cpu()[:1]
            if image.shape[1] == 1:
                image = image.expand(-1, 3, -1, -1)
            if image.shape[-2] != height:
                width = image.shape[-1] * height // image.shape[-2]
                image = torch.nn.functional.interpolate(image[:, :3], size=(height, width))
            tiles.append(((image[0, :3] - low) / (high - low)).clamp(0, 1))
        rendered.append(torch.cat(tiles, dim=2))
    width = max(row.shape[2] for row in rendered)
    padded = [torch.nn.functional.pad(row, (0, width - row.shape[2])) for row in rendered]
    grid = torch.cat(padded, dim=1)
    return (grid.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)


class Reporter:
    """Rich progress with losses and it/s, plain lines when not a terminal, TensorBoard."""

    def __init__(self, run_dir: Path, total_steps: int, start_step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.run_dir = run_dir
        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"), purge_step=start_step)
        self.console = Console(stderr=True)
        self.interactive = self.console.is_terminal
        self.total_steps = total_steps
        self.start_step = start_step
        self.started = time.perf_counter()
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:.2f} it/s"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[losses]}"),
            console=self.console,
            disable=not self.interactive,
        )
        self.task = self.progress.add_task(
            "train", total=total_steps, completed=start_step, rate=0.0, losses=""
        )

    def __enter__(self) -> Reporter:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()
        self.writer.close()

    def rate(self, step: int) -> float:
        return (step - self.start_step) / max(1e-9, time.perf_counter() - self.started)

    def step(self, step: int, metrics: dict[str, float] | None, lr_factor: float) -> None:
        """Called after ``step`` optimisation steps have completed, with the losses on the
        steps the trainer logs (None between them: reading them would sync the device)."""
        self.progress.update(self.task, completed=step, rate=self.rate(step))
        if metrics is None:
            return
        text = "  ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        self.progress.update(self.task, losses=text)
        for key, value in metrics.items():
            self.writer.add_scalar(f"train/{key}", value, step)
        self.writer.add_scalar("train/lr_factor", lr_factor, step)
        if not self.interactive:
            print(
                f"step {step}/{self.total_steps}  {self.rate(step):.2f} it/s  {text}",
                file=sys.stderr,
                flush=True,
            )

    def scalars(self, step: int, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)
        self.message(f"step {step}: " + "  ".join(f"{k} {v:.4g}" for k, v in metrics.items()))

    def samples(self, step: int, grid: np.ndarray) -> Path:
        path = self.run_dir / "samples" / f"step_{step:08d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image_atomic(path, grid)
        self.writer.add_image("samples", grid, step, dataformats="HWC")
        return path

    def message(self, text: str) -> None:
        self.console.print(text, highlight=False, soft_wrap=True)
