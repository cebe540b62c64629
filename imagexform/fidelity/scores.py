"""FID and KID between two sets of images, with the reference side cached.

Images are decoded by imagexform's reader (EXIF orientation, 16-bit, grayscale and alpha
handled, and a bad file named) into 8-bit RGB, then handed to clean-fid, which resizes them
to 299×299 as its mode prescribes and computes the features, FID and KID. The reference
set's features are cached per mode, feature network and folder content, so evaluating one
checkpoint after another costs only the generated side.
"""

from __future__ import annotations

import hashlib
import io
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imagexform.errors import UserError
from imagexform.fidelity.features import FeatureExtractor, weights_cache
from imagexform.io.images import (
    ImageReadError,
    display_path,
    list_images,
    read_image,
    to_rgb,
    to_uint8,
    write_bytes_atomic,
)

KID_SUBSET_SIZE = 1000  # clean-fid's and the KID paper's subset size
KID_SUBSETS = 100
FID_RELIABLE = 2048  # below the feature size the covariance is rank-deficient: FID is biased
Warn = Callable[[str], None]


@dataclass
class Scores:
    """FID/KID of one generated set against one reference set, with what they rest on."""

    mode: str
    generated: int
    reference: int
    fid: float | None = None
    kid: float | None = None
    kid_subset_size: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "generated_images": self.generated,
            "reference_images": self.reference,
            "fid": self.fid,
            "kid": self.kid,
            "kid_subset_size": self.kid_subset_size,
            "warnings": list(self.warnings),
        }


class ImageStage:
    """Images written one by one as 8-bit RGB ``.npy`` files, the form clean-fid reads and
    resizes itself; nothing but the current image is held in memory."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.files: list[Path] = []
        self.sizes: set[tuple[int, int]] = set()

    def add(self, image: np.ndarray) -> None:
        array = to_uint8(to_rgb(image))
        self.files.append(self.folder / f"{len(self.files):06d}.npy")
        np.save(self.files[-1], array)
        self.sizes.add(array.shape[:2])

    def features(self, extractor: FeatureExtractor, warn: Warn, batch_size: int = 32) -> np.ndarray:
        """N×D features of the images added, through clean-fid's resize and batching."""
        import torch
        from cleanfid.fid import get_files_features

        if not self.files:
            return np.zeros((0, 0), np.float64)
        if len(self.sizes) > 1:
            warn(f"the images have {len(self.sizes)} different sizes; each is resized to 299×299")
        return get_files_features(
            [str(path) for path in self.files],
            model=extractor.network,
            num_workers=0,
            batch_size=batch_size,
            device=torch.device(extractor.device),
            mode=extractor.mode,
            verbose=False,
        )


def folder_features(
    files: Sequence[Path], extractor: FeatureExtractor, warn: Warn = lambda _: None
) -> np.ndarray:
    """N×D features of the readable images among ``files`` (unreadable ones are warned of)."""
    with tempfile.TemporaryDirectory(prefix="imagexform-fid-") as folder:
        stage = ImageStage(Path(folder))
        for path in files:
            try:
                stage.add(read_image(path))
            except ImageReadError as exc:
                warn(f"{exc}; skipped")
        return stage.features(extractor, warn)


def _content_key(files: Sequence[Path], folder: Path, extractor: FeatureExtractor) -> str:
    digest = hashlib.sha256(f"{extractor.mode}\0{extractor.identity}".encode())
    for path in files:
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def reference_features(
    folder: Path,
    extractor: FeatureExtractor,
    warn: Warn = lambda _: None,
    cache: Path | None = None,
) -> np.ndarray:
    """The reference folder's features, from the cache when its content was seen before."""
    if not folder.is_dir():
        raise UserError(f"{display_path(folder)}: no such reference folder")
    files = list_images(folder, recursive=True)
    if not files:
        raise UserError(f"{display_path(folder)}: the reference folder holds no images")
    place = (cache or weights_cache() / "reference") / (
        _content_key(files, folder, extractor) + ".npy"
    )
    if place.is_file():
        return np.load(place)
    features = folder_features(files, extractor, warn)
    if len(features) == 0:
        raise UserError(f"{display_path(folder)}: none of its {len(files)} images is readable")
    buffer = io.BytesIO()
    np.save(buffer, features)
    place.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(place, buffer.getvalue())
    return features


def _kid(generated: np.ndarray, reference: np.ndarray, subset: int) -> float:
    """clean-fid's unbiased KID estimate, its subsets drawn reproducibly (it uses NumPy's
    global generator; its state is put back afterwards)."""
    from cleanfid.fid import kernel_distance

    state = np.random.get_state()
    np.random.seed(0)
    try:
        return kernel_distance(generated, reference, KID_SUBSETS, subset)
    finally:
        np.random.set_state(state)


def score_features(
    generated: np.ndarray,
    reference: np.ndarray,
    metrics: Sequence[str],
    mode: str,
    kid_subset_size: int = KID_SUBSET_SIZE,
) -> Scores:
    """FID and/or KID of ``generated`` against ``reference`` (N×D feature arrays)."""
    from cleanfid.fid import fid_from_feats

    smallest = min(len(generated), len(reference))
    if smallest < 2:
        raise UserError(
            f"FID and KID need at least 2 images on each side; got {len(generated)} generated "
            f"and {len(reference)} reference"
        )
    scores = Scores(mode, len(generated), len(reference))
    if "fid" in metrics:
        scores.fid = float(fid_from_feats(generated, reference))
        if smallest < FID_RELIABLE:
            scores.warnings.append(
                f"FID from {smallest} images is biased (reliable from {FID_RELIABLE}); compare "
                "only scores computed on the same number of images"
            )
    if "kid" in metrics:
        scores.kid_subset_size = min(kid_subset_size, smallest)
        if smallest < kid_subset_size:
            scores.warnings.append(
                f"KID with subsets of {smallest} images, fewer than the standard "
                f"{kid_subset_size}: its variance is higher"
            )
        scores.kid = _kid(generated, reference, scores.kid_subset_size)
    if scores.fid is not None and not math.isfinite(scores.fid):
        raise UserError("FID is not finite: the features contain NaN or infinity")
    return scores
