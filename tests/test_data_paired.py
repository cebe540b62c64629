"""Paired datasets, their augmentation and the resumable sampler, on real image files."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from imagexform.data.augment import augment_pair, default_load_size, resize_pair
from imagexform.data.paired import PairedDataset, SkippedImageWarning, paired_dataset_or_none
from imagexform.data.sampling import ResumableSampler
from imagexform.errors import ConfigError, DataError
from imagexform.io.images import to_float


def photo(seed: int, height: int = 32, width: int = 32) -> np.ndarray:
    """A small RGB scene of random shapes: enough structure that any misalignment shows."""
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = np.linspace(0, 200, width, dtype=np.uint8)[None, :, None]
    for _ in range(6):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = (int(v) for v in rng.integers(0, min(height, width), 2))
        if rng.random() < 0.5:
            cv2.circle(image, (x, y), int(rng.integers(2, 8)), colour, -1)
        else:
            cv2.rectangle(image, (x, y), (x + 6, y + 4), colour, -1)
    return image


def edges(image: np.ndarray) -> np.ndarray:
    """The pix2pix "edges to photo" input for a picture."""
    lines = cv2.Canny(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), 50, 150)
    return np.repeat(lines[:, :, None], 3, axis=2)


def save(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def make_aligned(folder: Path, count: int, size: int = 32, invert: bool = False) -> list[Path]:
    """Side-by-side files: A (a photo) on the left, B (its edges, or its negative) right."""
    paths = []
    for index in range(count):
        a = photo(index, size, size)
        b = 255 - a if invert else edges(a)
        paths.append(save(folder / f"{index:03d}.png", np.concatenate([a, b], axis=1)))
    return paths


def make_folders(folder: Path, count: int, size: int = 32, split: str = "") -> None:
    """``A/`` photos and ``B/`` edges with matching names (under ``A/<split>`` if given)."""
    for index in range(count):
        a = photo(index, size, size)
        save(folder / "A" / split / f"{index:03d}.png", a)
        save(folder / "B" / split / f"{index:03d}.jpg", edges(a))


def expected(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(to_float(rgb)).permute(2, 0, 1)


def options(**overrides: object) -> dict[str, object]:
    # load_size == crop_size == image size: no resampling, so pixels can be compared exactly.
    return {"crop_size": 32, "load_size": 32, "flip": False, "train": False} | overrides


# Layouts and items


def test_aligned_layout_splits_left_and_right_halves(tmp_path: Path) -> None:
    make_aligned(tmp_path / "train", 3)
    dataset = PairedDataset(tmp_path, "train", **options())

    assert dataset.layout == "aligned"
    assert len(dataset) == 3
    item = dataset[1]
    assert item["A"].shape == item["B"].shape == (3, 32, 32)
    assert item["A"].dtype == torch.float32
    torch.testing.assert_close(item["A"], expected(photo(1)), rtol=0, atol=0)
    torch.testing.assert_close(item["B"], expected(edges(photo(1))), rtol=0, atol=0)
    assert item["path"] == str(tmp_path / "train" / "001.png")


def test_folders_layout_pairs_by_stem_across_extensions(tmp_path: Path) -> None:
    make_folders(tmp_path, 4)
    (tmp_path / "A" / "Thumbs.db").write_bytes(b"junk")
    (tmp_path / "B" / ".DS_Store").write_bytes(b"junk")
    dataset = PairedDataset(tmp_path, "train", **options())

    assert dataset.layout == "folders"
    assert [(a.name, b.name) for a, b in dataset.pairs] == [
        (f"{i:03d}.png", f"{i:03d}.jpg") for i in range(4)
    ]
    item = dataset[2]
    torch.testing.assert_close(item["A"], expected(photo(2)), rtol=0, atol=0)
    # B is a JPEG: close to, not equal to, the edges that were saved.
    assert (item["B"] - expected(edges(photo(2)))).abs().mean() < 0.05
    assert item["path"] == str(tmp_path / "A" / "002.png")


def test_train_items_are_cropped_to_size_and_in_range(tmp_path: Path) -> None:
    make_aligned(tmp_path, 2, size=40)
    dataset = PairedDataset(tmp_path, crop_size=24, load_size=28, flip=True, train=True)
    item = dataset[(0, 123)]
    for key in ("A", "B"):
        assert item[key].shape == (3, 24, 24)
        assert item[key].min() >= -1.0 and item[key].max() <= 1.0
    assert item["A"].min() < -0.5 and item["A"].max() > 0.5
    assert dataset[0]["A"].shape == (3, 24, 24)  # a plain index works too


def test_eval_items_are_the_whole_picture_at_crop_size(tmp_path: Path) -> None:
    make_aligned(tmp_path / "val", 1, size=40)
    make_aligned(tmp_path / "train", 1, size=40)
    dataset = PairedDataset(tmp_path, "val", crop_size=20, load_size=24, train=False)
    first, again = dataset[(0, 1)], dataset[(0, 2)]
    assert first["A"].shape == (3, 20, 20)
    torch.testing.assert_close(first["A"], again["A"], rtol=0, atol=0)


def test_direction_b_to_a_swaps_input_and_target(tmp_path: Path) -> None:
    make_folders(tmp_path, 2)
    forward = PairedDataset(tmp_path, **options())[0]
    backward = PairedDataset(tmp_path, **options(direction="BtoA"))[0]
    torch.testing.assert_close(backward["A"], forward["B"], rtol=0, atol=0)
    torch.testing.assert_close(backward["B"], forward["A"], rtol=0, atol=0)
    assert backward["path"] == str(tmp_path / "B" / "000.jpg")

    augmented = {"crop_size": 24, "load_size": 30, "flip": True, "train": True}
    forward = PairedDataset(tmp_path, **augmented)[(1, 77)]
    backward = PairedDataset(tmp_path, **augmented, direction="BtoA")[(1, 77)]
    torch.testing.assert_close(backward["A"], forward["B"])


def test_gray_rgba_and_sixteen_bit_files_become_rgb(tmp_path: Path) -> None:
    a = photo(0)
    gray = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    cv2.imwrite(str(tmp_path / "A" / "gray.png"), gray)
    cv2.imwrite(str(tmp_path / "B" / "gray.png"), a[:, :, ::-1].astype(np.uint16) * 257)
    rgba = np.dstack([a[:, :, ::-1], np.full((32, 32), 128, np.uint8)])
    cv2.imwrite(str(tmp_path / "A" / "rgba.png"), rgba)
    save(tmp_path / "B" / "rgba.png", a)

    dataset = PairedDataset(tmp_path, **options())
    by_name = {Path(dataset[i]["path"]).name: dataset[i] for i in range(len(dataset))}
    torch.testing.assert_close(by_name["gray.png"]["A"], expected(np.dstack([gray] * 3)))
    torch.testing.assert_close(by_name["gray.png"]["B"], expected(a))  # 16-bit, same values
    torch.testing.assert_close(by_name["rgba.png"]["A"], expected(a))  # alpha dropped

    single = PairedDataset(tmp_path, **options(input_nc=1))[0]
    assert single["A"].shape == (1, 32, 32)
    assert single["B"].shape == (3, 32, 32)


# Augmentation


def test_augmentation_is_identical_on_both_sides(tmp_path: Path) -> None:
    # B is A's negative; only the very same resize, crop and flip on both keeps B == -A.
    make_aligned(tmp_path, 3, size=48, invert=True)
    dataset = PairedDataset(tmp_path, crop_size=32, load_size=40, flip=True, train=True)
    crops = set()
    for index, seed in itertools.product(range(3), range(8)):
        item = dataset[(index, seed)]
        torch.testing.assert_close(item["B"], -item["A"], rtol=0, atol=1e-5)
        crops.add(item["A"].numpy().tobytes())
    assert len(crops) > 12  # the seeds really produced different crops


def test_same_seed_same_sample_different_seed_different_sample(tmp_path: Path) -> None:
    make_aligned(tmp_path, 1, size=48)
    dataset = PairedDataset(tmp_path, crop_size=24, load_size=40, flip=True, train=True)
    first, again = dataset[(0, 5)], dataset[(0, 5)]
    torch.testing.assert_close(first["A"], again["A"], rtol=0, atol=0)
    torch.testing.assert_close(first["B"], again["B"], rtol=0, atol=0)
    others = [dataset[(0, seed)]["A"] for seed in range(6, 12)]
    assert not any(torch.equal(first["A"], other) for other in others)


def test_flip_mirrors_both_images_about_half_the_time() -> None:
    a = torch.linspace(-1, 1, 3 * 8 * 8).reshape(3, 8, 8)
    b = -a
    outcomes = []
    for seed in range(40):
        out_a, out_b = augment_pair(a, b, load_size=8, crop_size=8, flip=True, seed=seed)
        torch.testing.assert_close(out_b, -out_a)
        if torch.equal(out_a, a):
            outcomes.append("kept")
        else:
            torch.testing.assert_close(out_a, a.flip(-1))
            outcomes.append("mirrored")
    assert 8 < outcomes.count("mirrored") < 32
    unflipped = [augment_pair(a, b, load_size=8, crop_size=8, flip=False, seed=s) for s in range(8)]
    assert all(torch.equal(out_a, a) for out_a, _ in unflipped)


def test_resize_pair_and_default_load_size() -> None:
    a, b = torch.zeros(3, 50, 70), torch.ones(1, 50, 70)
    out_a, out_b = resize_pair(a, b, 32)
    assert out_a.shape == (3, 32, 32) and out_b.shape == (1, 32, 32)
    assert default_load_size(256) == 286


def test_load_size_smaller_than_crop_is_a_config_error(tmp_path: Path) -> None:
    make_aligned(tmp_path, 1)
    with pytest.raises(ConfigError, match="load_size"):
        PairedDataset(tmp_path, crop_size=64, load_size=48)


# Sampling


def take(sampler: ResumableSampler, count: int) -> list[tuple[int, int]]:
    return list(itertools.islice(sampler, count))


def test_sampler_covers_every_epoch_with_a_fresh_permutation() -> None:
    samples = take(ResumableSampler(7, seed=3), 21)
    epochs = [[index for index, _ in samples[i : i + 7]] for i in (0, 7, 14)]
    assert all(sorted(epoch) == list(range(7)) for epoch in epochs)
    assert len({tuple(epoch) for epoch in epochs}) == 3
    assert len({seed for _, seed in samples}) == 21
    other_seed = [index for index, _ in take(ResumableSampler(7, seed=4), 7)]
    assert other_seed != epochs[0]


@pytest.mark.parametrize("start", [0, 1, 6, 7, 8, 20])
def test_resumed_sampler_continues_the_uninterrupted_sequence(start: int) -> None:
    uninterrupted = take(ResumableSampler(7, seed=11), 40)
    resumed = take(ResumableSampler(7, seed=11, start=start), 40 - start)
    assert resumed == uninterrupted[start:]


def test_ranks_draw_disjoint_shares_and_resume_on_their_own() -> None:
    world = 3
    per_rank = [take(ResumableSampler(10, seed=1, rank=r, world_size=world), 6) for r in range(3)]
    for epoch in range(2):
        shares = [
            {index for index, _ in samples[epoch * 3 : epoch * 3 + 3]} for samples in per_rank
        ]
        assert sum(len(share) for share in shares) == 9
        assert len(set.union(*shares)) == 9  # disjoint, one of the 10 left out this epoch
    all_seeds = [seed for samples in per_rank for _, seed in samples]
    assert len(set(all_seeds)) == len(all_seeds)

    resumed = take(ResumableSampler(10, seed=1, start=4, rank=2, world_size=world), 2)
    assert resumed == per_rank[2][4:6]
    with pytest.raises(DataError, match="cannot give each of 4"):
        ResumableSampler(3, seed=0, world_size=4)


def test_loader_workers_and_resume_do_not_change_the_batches(tmp_path: Path) -> None:
    make_aligned(tmp_path, 5, size=40)
    dataset = PairedDataset(tmp_path, crop_size=24, load_size=32, flip=True, train=True)

    def batches(start: int, workers: int, count: int) -> list[torch.Tensor]:
        sampler = ResumableSampler(len(dataset), seed=9, start=start)
        loader = DataLoader(dataset, batch_size=2, sampler=sampler, num_workers=workers)
        return [batch["A"] for batch in itertools.islice(loader, count)]

    straight = batches(0, 0, 5)
    assert straight[0].shape == (2, 3, 24, 24)
    for got, want in zip(batches(6, 2, 2), straight[3:], strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


# Splits


def test_split_folders(tmp_path: Path) -> None:
    make_aligned(tmp_path / "train", 3)
    make_aligned(tmp_path / "val", 2)
    assert len(PairedDataset(tmp_path, "train", **options())) == 3
    val = paired_dataset_or_none(tmp_path, "val", **options())
    assert val is not None and len(val) == 2
    assert paired_dataset_or_none(tmp_path, "test", **options()) is None
    with pytest.raises(DataError, match=r"has no 'test' split \(found: train, val\)"):
        PairedDataset(tmp_path, "test", **options())


def test_train_split_is_never_optional(tmp_path: Path) -> None:
    make_aligned(tmp_path / "val", 2)
    with pytest.raises(DataError, match=r"has no 'train' split \(found: val\)"):
        paired_dataset_or_none(tmp_path, "train", **options())


def test_bare_root_is_the_train_split(tmp_path: Path) -> None:
    make_folders(tmp_path, 2)
    assert len(PairedDataset(tmp_path, "train", **options())) == 2
    assert paired_dataset_or_none(tmp_path, "val", **options()) is None
    with pytest.raises(DataError, match="used as the train split only"):
        PairedDataset(tmp_path, "val", **options())


def test_split_folders_inside_a_and_b(tmp_path: Path) -> None:
    # The reference repository's input to combine_A_and_B.py: A/train, B/train, A/val...
    make_folders(tmp_path, 3, split="train")
    make_folders(tmp_path, 1, split="val")

    train = PairedDataset(tmp_path, "train", **options())
    assert train.layout == "folders" and len(train) == 3
    val = paired_dataset_or_none(tmp_path, "val", **options())
    assert val is not None and len(val) == 1
    assert paired_dataset_or_none(tmp_path, "test", **options()) is None

    (tmp_path / "A" / "test").mkdir()
    with pytest.raises(DataError, match=r"B.test: folder does not exist, but .*A.test does"):
        paired_dataset_or_none(tmp_path, "test", **options())


# Bad data


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nowhere: data folder does not exist"):
        PairedDataset(tmp_path / "nowhere")


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"holds no images \(the folder is empty\)") as caught:
        PairedDataset(tmp_path)
    assert str(tmp_path) in str(caught.value)


def test_folder_of_non_images(tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text("text")
    with pytest.raises(
        DataError, match=r"holds no images \(found 3 files, none an image \(\.txt\)"
    ):
        PairedDataset(tmp_path)


def test_folder_of_sub_folders_points_at_them(tmp_path: Path) -> None:
    make_aligned(tmp_path / "facades" / "training", 1)
    with pytest.raises(DataError, match=r"holds no images \(found only sub-folders: facades\)"):
        PairedDataset(tmp_path)


def test_unpaired_names_are_listed_per_side(tmp_path: Path) -> None:
    make_folders(tmp_path, 3)
    save(tmp_path / "A" / "extra_a.png", photo(9))
    save(tmp_path / "B" / "extra_b.png", photo(9))
    (tmp_path / "B" / "001.jpg").unlink()
    with pytest.raises(DataError) as caught:
        PairedDataset(tmp_path, **options())
    message = str(caught.value)
    assert "3 images have no partner" in message
    assert "only in A: 001.png, extra_a.png" in message
    assert "only in B: extra_b.png" in message


def test_many_unpaired_names_are_cut_short(tmp_path: Path) -> None:
    make_folders(tmp_path, 1)
    for index in range(15):
        save(tmp_path / "A" / f"lonely{index:02d}.png", photo(index, 8, 8))
    with pytest.raises(DataError, match=r"lonely09\.png and 5 more\)$"):
        PairedDataset(tmp_path, **options())


def test_one_side_holds_no_images(tmp_path: Path) -> None:
    make_folders(tmp_path, 2)
    for file in (tmp_path / "B").iterdir():
        file.unlink()
    with pytest.raises(DataError, match=r"B: holds no images \(the folder is empty\)"):
        PairedDataset(tmp_path, **options())


def test_a_without_b(tmp_path: Path) -> None:
    save(tmp_path / "train" / "A" / "x.png", photo(0))
    with pytest.raises(DataError, match=r"train: has no B/ sub-folder"):
        PairedDataset(tmp_path, "train")


def test_same_stem_twice_on_one_side(tmp_path: Path) -> None:
    make_folders(tmp_path, 2)
    save(tmp_path / "A" / "000.jpg", photo(0))
    with pytest.raises(DataError, match=r"000\.jpg and 000\.png have the same name"):
        PairedDataset(tmp_path, **options())


def test_odd_width_aligned_images(tmp_path: Path) -> None:
    make_aligned(tmp_path, 2)
    save(tmp_path / "wide.png", photo(0, 32, 65))
    with pytest.raises(DataError, match=r"1 images have an odd width.*wide\.png \(65 px\)"):
        PairedDataset(tmp_path)


def test_pairs_of_different_sizes(tmp_path: Path) -> None:
    make_folders(tmp_path, 2)
    save(tmp_path / "B" / "001.jpg", photo(1, 32, 48))
    with pytest.raises(DataError) as caught:
        PairedDataset(tmp_path, **options())
    message = str(caught.value)
    assert "1 pairs differ in size" in message
    assert "001.png 32×32 vs 001.jpg 48×32" in message


def test_unreadable_files_are_skipped_and_counted(tmp_path: Path) -> None:
    good = make_aligned(tmp_path, 3)
    (tmp_path / "empty.png").touch()
    png = cv2.imencode(".png", np.concatenate([photo(7), photo(8)], axis=1))[1].tobytes()
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])

    with pytest.warns(SkippedImageWarning) as caught:
        dataset = PairedDataset(tmp_path, **options())
    warned = " | ".join(str(warning.message) for warning in caught)
    assert "empty.png: not a decodable image (0 bytes); skipped" in warned
    assert "cut.png: truncated or corrupt image data" in warned

    assert len(dataset) == 3
    assert [a for a, _ in dataset.pairs] == good
    assert sorted(path.name for path, _ in dataset.skipped) == ["cut.png", "empty.png"]
    assert all(dataset[i]["A"].shape == (3, 32, 32) for i in range(3))


def test_unreadable_partner_drops_the_pair(tmp_path: Path) -> None:
    make_folders(tmp_path, 3)
    (tmp_path / "B" / "001.jpg").write_bytes(b"not a jpeg")
    with pytest.warns(SkippedImageWarning, match=r"001\.jpg: not a decodable image"):
        dataset = PairedDataset(tmp_path, **options())
    assert [a.name for a, _ in dataset.pairs] == ["000.png", "002.png"]
    assert dataset.skipped == [(tmp_path / "B" / "001.jpg", dataset.skipped[0][1])]


def test_all_files_unreadable(tmp_path: Path) -> None:
    (tmp_path / "a.png").touch()
    (tmp_path / "b.jpg").write_text("text")
    with (
        pytest.warns(SkippedImageWarning),
        pytest.raises(DataError, match=r"none of the 2 images can be read \(first: a\.png"),
    ):
        PairedDataset(tmp_path)
