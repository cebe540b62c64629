"""The feature network FID and KID compare images with, loaded the way clean-fid does.

``clean`` mode uses the TorchScript Inception of the StyleGAN2/clean-fid papers; the
``legacy_pytorch`` mode uses pytorch-fid's Inception, so that figures compare with published
tables made with it. Weights come from clean-fid's (and torch hub's) own loaders into the
user cache once, or from ``--feature-weights FILE`` on machines without network; when
neither works, the error names the file to fetch and where to put it.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from imagexform.errors import UserError

if TYPE_CHECKING:
    import torch

Mode = Literal["clean", "legacy_pytorch"]
MODES: tuple[str, ...] = ("clean", "legacy_pytorch")
CLEAN_WEIGHTS = "inception-2015-12-05.pt"
LEGACY_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"


class FeatureError(UserError):
    """The feature network cannot be had: no cached weights and no way to download them."""


@dataclass(frozen=True)
class FeatureExtractor:
    """A batch of N×3×299×299 images in [0, 255] → N×D features, and what identifies it (the
    mode and the weights' name), so cached reference features are never mixed across them."""

    mode: str
    identity: str
    network: Callable[[torch.Tensor], torch.Tensor]
    device: str = "cpu"


def weights_cache() -> Path:
    """Where the feature weights are kept once downloaded: ``fid/`` in imagexform's cache."""
    from imagexform.runtime.cache import cache_dir

    return cache_dir() / "fid"


def _missing(mode: str, url: str, name: str, place: Path, reason: str) -> FeatureError:
    return FeatureError(
        f"the {mode} FID feature network is not available ({reason}): download {url} "
        f"and pass --feature-weights FILE, or put it at {place / name}"
    )


@contextmanager
def _folder_holding(weights: Path, name: str) -> Iterator[Path]:
    """A folder where ``weights`` is found under the file name the library's loader expects."""
    if weights.name == name:
        yield weights.parent
        return
    with tempfile.TemporaryDirectory(prefix="imagexform-fid-") as folder:
        os.symlink(weights.resolve(), Path(folder) / name)
        yield Path(folder)


def _clean(weights: Path | None, device: str) -> FeatureExtractor:
    from cleanfid.downloads_helper import inception_url
    from cleanfid.inception_torchscript import InceptionV3W

    cache = weights_cache()
    source = weights if weights is not None else cache / CLEAN_WEIGHTS
    try:
        with warnings.catch_warnings():  # torch's deprecation of jit.load is clean-fid's
            warnings.simplefilter("ignore", FutureWarning)
            if weights is not None:
                with _folder_holding(weights, CLEAN_WEIGHTS) as folder:
                    network = InceptionV3W(str(folder), download=False)
            else:
                cache.mkdir(parents=True, exist_ok=True)
                network = InceptionV3W(str(cache), download=True)
    except OSError as exc:  # urllib's errors are OSErrors, so is a missing file
        _discard_partial(cache / CLEAN_WEIGHTS, weights)
        raise _missing("clean", inception_url, CLEAN_WEIGHTS, cache, _reason(exc)) from None
    except RuntimeError as exc:
        raise FeatureError(f"{source}: not the TorchScript Inception ({_reason(exc)})") from None
    return FeatureExtractor("clean", source.name, network.eval().to(device), device)


def _legacy(weights: Path | None, device: str) -> FeatureExtractor:
    from cleanfid.inception_pytorch import FID_WEIGHTS_URL, InceptionV3

    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub"
    try:
        if weights is not None:
            with _folder_holding(weights, LEGACY_WEIGHTS) as folder, _torch_hub(folder):
                network = InceptionV3(output_blocks=[3], resize_input=False)
        else:
            network = InceptionV3(output_blocks=[3], resize_input=False)
    except OSError as exc:
        raise _missing(
            "legacy_pytorch", FID_WEIGHTS_URL, LEGACY_WEIGHTS, hub / "checkpoints", _reason(exc)
        ) from None
    except RuntimeError as exc:
        source = weights or LEGACY_WEIGHTS
        raise FeatureError(f"{source}: not pytorch-fid's Inception ({_reason(exc)})") from None
    network = network.eval().to(device)

    def features(batch: torch.Tensor) -> torch.Tensor:
        return network(batch / 255)[0].squeeze(-1).squeeze(-1)

    return FeatureExtractor("legacy_pytorch", LEGACY_WEIGHTS, features, device)


@contextmanager
def _torch_hub(folder: Path) -> Iterator[None]:
    """torch hub looks for ``checkpoints/NAME`` under its directory: point it at ``folder``."""
    import torch.hub

    before = torch.hub.get_dir()
    with tempfile.TemporaryDirectory(prefix="imagexform-hub-") as hub:
        os.symlink(folder.resolve(), Path(hub) / "checkpoints")
        torch.hub.set_dir(hub)
        try:
            yield
        finally:
            torch.hub.set_dir(before)


def _discard_partial(path: Path, weights: Path | None) -> None:
    """clean-fid writes the download straight to its final name: a failed one must not stay
    there looking like weights."""
    if weights is None and path.exists():
        path.unlink()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def load_extractor(
    mode: str = "clean", weights: Path | None = None, device: str = "cpu"
) -> FeatureExtractor:
    """The feature network of clean-fid's ``mode``, from ``weights`` when given."""
    if mode not in MODES:
        raise UserError(f"unknown FID mode {mode!r}; choose one of {', '.join(MODES)}")
    if weights is not None and not Path(weights).is_file():
        raise FeatureError(f"{weights}: no such feature weights file")
    load = _clean if mode == "clean" else _legacy
    return load(Path(weights) if weights is not None else None, device)


def custom_extractor(
    network: Callable[[torch.Tensor], torch.Tensor], identity: str, mode: str = "clean"
) -> FeatureExtractor:
    """An extractor around any network, e.g. a small one in tests or a domain-specific one."""
    return FeatureExtractor(mode, identity, network)
