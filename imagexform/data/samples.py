"""The dataset contract between a family and the trainer.

The trainer draws samples in an endless order that it can recompute from the step alone
(:class:`~imagexform.data.sampling.ResumableSampler`), and gives every training sample its own
seed, a pure function of (run seed, epoch, position). A dataset that takes its randomness only
from that seed makes an interrupted and resumed run bit-identical to one that never stopped.

A family's dataset is either a :class:`SampleDataset`, which implements ``load(index, rng)``,
or any ordinary map-style torch ``Dataset``, which the trainer wraps with :func:`as_samples`:
torch's, NumPy's and Python's global generators are then seeded from the sample's seed around
each item, so the usual ``torch.rand``/``random.random`` augmentation is reproducible too.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from imagexform.data.sampling import derive_seed


class SampleRandom:
    """The randomness of one training sample, from the seed the trainer derived for it."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    @classmethod
    def fresh(cls) -> SampleRandom:
        """A seed from torch's global generator, for a training item asked for by index alone
        (outside the trainer)."""
        return cls(int(torch.randint(0, 2**63 - 1, ())))

    def derive(self, *parts: int | str) -> int:
        """An independent seed for one part of the sample (``rng.derive("B")``)."""
        return derive_seed(*parts, self.seed)

    def generator(self) -> torch.Generator:
        """A torch generator seeded for this sample."""
        return torch.Generator().manual_seed(self.seed)


class SampleDataset(Dataset[dict[str, Any]]):
    """Base of a family's dataset: implement ``__len__`` and :meth:`load`.

    Items are picklable dicts of tensors (and strings). ``skipped`` lists the files left out
    as ``(path, reason)``; the trainer reports how many at the start of a run.
    """

    skipped: Sequence[tuple[Path, str]] = ()

    def load(self, index: int, rng: SampleRandom | None) -> dict[str, Any]:
        """Item ``index``. ``rng`` is the sample's randomness while training; None when the
        item is asked for by index alone (validation, sample grids, a user's ``dataset[i]``),
        where an evaluation split should return the item without random augmentation."""
        raise NotImplementedError

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, Any]:
        if isinstance(item, tuple):  # (index, sample seed) from the trainer's sampler
            index, seed = item
            return self.load(index, SampleRandom(seed))
        return self.load(item, None)


class _SeededMapDataset(SampleDataset):
    """An ordinary map-style dataset whose global-RNG randomness follows the sample seed."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def load(self, index: int, rng: SampleRandom | None) -> dict[str, Any]:
        if rng is None:
            return self.dataset[index]
        with _global_rngs_seeded(rng.seed):
            return self.dataset[index]


@contextlib.contextmanager
def _global_rngs_seeded(seed: int) -> Iterator[None]:
    """Seed torch's, NumPy's and Python's global generators, restoring them afterwards so the
    training step's own randomness (dropout, noise) is untouched."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def as_samples(dataset: Dataset) -> SampleDataset:
    """``dataset`` itself when it implements the contract, else wrapped so that it does."""
    return dataset if isinstance(dataset, SampleDataset) else _SeededMapDataset(dataset)


def skipped_files(dataset: Dataset) -> Sequence[tuple[Path, str]]:
    """The files a dataset left out, with the reason (none for an ordinary dataset)."""
    if isinstance(dataset, _SeededMapDataset):
        return skipped_files(dataset.dataset)
    return dataset.skipped if isinstance(dataset, SampleDataset) else ()
