"""An endless, resumable sample order.

A GAN trains for a number of steps, not epochs, so the sampler never stops; and because a run
can be interrupted anywhere, where it is in that endless order must be recomputable from the
step alone. Each epoch's permutation and each sample's augmentation seed are pure functions of
(seed, epoch, position), so restarting at ``start`` yields exactly what continuing would have.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from imagexform.errors import DataError

_SEED_BITS = 63  # fits a signed 64-bit integer, so any RNG API accepts it


def derive_seed(*parts: int | str) -> int:
    """A well-mixed seed from several values. Adjacent inputs (epoch 3 and 4, position 9 and
    10) must give unrelated streams, which ``seed + epoch`` would not."""
    text = "\x1f".join(str(part) for part in parts).encode()
    digest = hashlib.blake2b(text, digest_size=8).digest()
    return int.from_bytes(digest, "little") >> (64 - _SEED_BITS)


class ResumableSampler(Sampler[tuple[int, int]]):
    """Yields ``(index, sample_seed)`` forever, epoch after epoch.

    ``start`` counts the samples this rank has already consumed (``step * batch_size`` on
    resume). With ``world_size`` ranks, every epoch's permutation is dealt out round-robin, so
    the ranks' shares are disjoint; the ``length % world_size`` samples left over at the end
    of a permutation are skipped that epoch (a different few each time), which keeps all
    ranks at the same epoch on the same step. Each call to ``iter`` starts again at ``start``.
    """

    def __init__(
        self, length: int, seed: int, start: int = 0, rank: int = 0, world_size: int = 1
    ) -> None:
        super().__init__()
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not within world_size {world_size}")
        if start < 0:
            raise ValueError(f"start must not be negative, got {start}")
        if length < world_size:
            raise DataError(
                f"a dataset of {length} samples cannot give each of {world_size} processes one"
            )
        self.length = length
        self.seed = seed
        self.start = start
        self.rank = rank
        self.world_size = world_size

    @property
    def epoch_size(self) -> int:
        """Samples this rank draws per epoch."""
        return self.length // self.world_size

    def permutation(self, epoch: int) -> list[int]:
        """The whole dataset's order in ``epoch``, identical on every rank."""
        generator = torch.Generator()
        generator.manual_seed(derive_seed("epoch", self.seed, epoch))
        return torch.randperm(self.length, generator=generator).tolist()

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, offset = divmod(self.start, self.epoch_size)
        while True:
            order = self.permutation(epoch)
            for local in range(offset, self.epoch_size):
                position = self.rank + local * self.world_size
                yield order[position], derive_seed("sample", self.seed, epoch, position)
            epoch += 1
            offset = 0
