"""Shared fixtures: tiny real paired datasets drawn with OpenCV, and an isolated plugin host."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def draw_scene(rng: np.random.Generator, size: int) -> np.ndarray:
    """A BGR image of random filled shapes on a random background."""
    image = np.full((size, size, 3), rng.integers(0, 256, 3), dtype=np.uint8)
    for _ in range(4):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        centre = tuple(int(c) for c in rng.integers(0, size, 2))
        if rng.random() < 0.5:
            cv2.circle(image, centre, int(rng.integers(3, size // 3)), colour, -1)
        else:
            corner = tuple(int(c) for c in rng.integers(0, size, 2))
            cv2.rectangle(image, centre, corner, colour, -1)
    return image


def sketch(image: np.ndarray) -> np.ndarray:
    edges = cv2.Canny(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), 50, 150)
    return cv2.cvtColor(255 - edges, cv2.COLOR_GRAY2BGR)


PairMaker = Callable[..., Path]


@pytest.fixture
def make_pairs(tmp_path: Path) -> PairMaker:
    """Write a paired dataset (sketch -> scene) and return its root folder."""

    def make(
        count: int = 6,
        size: int = 32,
        layout: str = "aligned",
        splits: tuple[str, ...] = (),
        name: str = "pairs",
        seed: int = 0,
    ) -> Path:
        rng = np.random.default_rng(seed)
        root = tmp_path / name
        for split in splits or ("",):
            folder = root / split
            for index in range(count):
                scene = draw_scene(rng, size)
                if layout == "aligned":
                    folder.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(folder / f"{index:03d}.png"), np.hstack([sketch(scene), scene]))
                else:
                    (folder / "A").mkdir(parents=True, exist_ok=True)
                    (folder / "B").mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(folder / "A" / f"{index:03d}.png"), sketch(scene))
                    cv2.imwrite(str(folder / "B" / f"{index:03d}.png"), scene)
        return root

    return make


@pytest.fixture(autouse=True, scope="session")
def private_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Verdicts the runtime measures and caches (session settings, int8 models) go to a folder
    of this test run, never the user's cache."""
    os.environ["IMAGEXFORM_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory):
    """The runtime install alone (no torch) in a fresh virtual environment; built once."""
    from runtime_venv import build_runtime_venv

    return build_runtime_venv(tmp_path_factory.mktemp("runtime-venv"))
