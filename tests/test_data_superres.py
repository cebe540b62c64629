"""Super-resolution datasets on real image files: HR-only with bicubic or Real-ESRGAN LR, paired
HR/LR folders, augmentation, splits and bad data."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from imagexform.data.sampling import ResumableSampler
from imagexform.errors import ConfigError, DataError
from imagexform.imaging import imresize
from imagexform_sr.data import (
    SkippedImageWarning,
    SuperResDataset,
    superres_dataset_or_none,
)
from imagexform_sr.degradations import DegradationRound, RealESRGANDegradation, degrade


def photo(seed: int, height: int = 48, width: int = 48) -> np.ndarray:
    """An RGB uint8 picture with gradients, shapes and texture: no two crops look alike."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 200 // width, y * 200 // height, (x + y) * 100 // (height + width)], -1)
    image = image.astype(np.uint8)
    for _ in range(6):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        centre = tuple(int(c) for c in rng.integers(0, min(height, width), 2))
        cv2.circle(image, centre, int(rng.integers(2, 9)), colour, -1)
    noise = rng.integers(0, 24, image.shape)
    return np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8)


def save(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 and rgb.shape[2] == 3 else rgb
    assert cv2.imwrite(str(path), pixels)
    return path


def make_hr(folder: Path, count: int, size: int = 48) -> list[Path]:
    return [save(folder / f"{index:04d}.png", photo(index, size, size)) for index in range(count)]


def tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)


def quantized_bicubic(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """What the dataset documents for made LR: MATLAB bicubic, clipped, on 8-bit levels."""
    lr = imresize(hr.permute(1, 2, 0).double().numpy(), 1 / scale)
    return torch.from_numpy(np.round(np.clip(lr, 0, 1) * 255) / 255).permute(2, 0, 1).float()


def orientations(image: torch.Tensor) -> list[torch.Tensor]:
    """The 8 flips and rotations of a square C×H×W image."""
    found = []
    for turned in (image, image.transpose(-1, -2)):
        found += [turned, turned.flip(-1), turned.flip(-2), turned.flip(-1).flip(-2)]
    return found


def contains(image: torch.Tensor, crop: torch.Tensor) -> bool:
    size = crop.shape[-1]
    height, width = image.shape[-2:]
    return any(
        torch.equal(image[:, top : top + size, left : left + size], crop)
        for top in range(height - size + 1)
        for left in range(width - size + 1)
    )


# HR only, bicubic


def test_training_items_have_the_documented_shapes_and_range(tmp_path: Path) -> None:
    make_hr(tmp_path, 3)
    dataset = SuperResDataset(tmp_path, scale=4, gt_size=32)
    assert dataset.layout == "hr_only" and len(dataset) == 3
    item = dataset[(1, 42)]
    assert item["HR"].shape == (3, 32, 32) and item["LR"].shape == (3, 8, 8)
    assert item["HR"].dtype == item["LR"].dtype == torch.float32
    for key in ("HR", "LR"):
        assert item[key].min() >= 0 and item[key].max() <= 1
    assert item["path"] == str(tmp_path / "0001.png")
    assert dataset[0]["LR"].shape == (3, 8, 8)  # a plain index works too


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_lr_is_the_matlab_bicubic_of_the_hr_crop(tmp_path: Path, scale: int) -> None:
    make_hr(tmp_path, 2)
    dataset = SuperResDataset(tmp_path, scale=scale, gt_size=12 * scale)
    for seed in range(6):
        item = dataset[(seed % 2, seed)]
        torch.testing.assert_close(
            item["LR"], quantized_bicubic(item["HR"], scale), atol=1e-6, rtol=0
        )


def test_hr_crop_is_a_flipped_or_rotated_window_of_the_photo(tmp_path: Path) -> None:
    make_hr(tmp_path, 1, size=40)
    dataset = SuperResDataset(tmp_path, scale=2, gt_size=16)
    source = tensor(photo(0, 40, 40))
    seen = set()
    for seed in range(24):
        crop = dataset[(0, seed)]["HR"]
        matches = [i for i, turned in enumerate(orientations(source)) if contains(turned, crop)]
        assert matches, f"seed {seed}: the crop is no orientation of a window of the photo"
        seen.update(matches)
    assert len(seen) >= 5  # flips and rotations really happen


def test_flip_and_rotate_can_be_switched_off(tmp_path: Path) -> None:
    make_hr(tmp_path, 1, size=40)
    dataset = SuperResDataset(tmp_path, scale=2, gt_size=16, flip=False, rotate=False)
    source = tensor(photo(0, 40, 40))
    assert all(contains(source, dataset[(0, seed)]["HR"]) for seed in range(10))


def test_same_seed_same_item_other_seeds_differ(tmp_path: Path) -> None:
    make_hr(tmp_path, 1, size=64)
    dataset = SuperResDataset(tmp_path, scale=4, gt_size=32)
    first, again = dataset[(0, 7)], dataset[(0, 7)]
    torch.testing.assert_close(first["HR"], again["HR"], rtol=0, atol=0)
    torch.testing.assert_close(first["LR"], again["LR"], rtol=0, atol=0)
    others = [dataset[(0, seed)]["HR"] for seed in range(8, 16)]
    assert not any(torch.equal(first["HR"], other) for other in others)


def test_validation_items_are_whole_pictures_cut_to_the_scale(tmp_path: Path) -> None:
    save(tmp_path / "val" / "wide.png", photo(3, 38, 51))
    make_hr(tmp_path / "train", 1)
    dataset = SuperResDataset(tmp_path, "val", scale=4, gt_size=32, train=False)
    item = dataset[(0, 1)]
    assert item["HR"].shape == (3, 36, 48) and item["LR"].shape == (3, 9, 12)
    torch.testing.assert_close(item["HR"], tensor(photo(3, 38, 51)[:36, :48]))
    torch.testing.assert_close(item["LR"], quantized_bicubic(item["HR"], 4), atol=1e-6, rtol=0)
    torch.testing.assert_close(dataset[(0, 2)]["LR"], item["LR"], rtol=0, atol=0)


def test_loader_and_resumed_sampler_reproduce_batches(tmp_path: Path) -> None:
    make_hr(tmp_path, 5)
    dataset = SuperResDataset(tmp_path, scale=2, gt_size=16)

    def batches(start: int, workers: int, count: int) -> list[torch.Tensor]:
        sampler = ResumableSampler(len(dataset), seed=3, start=start)
        loader = DataLoader(dataset, batch_size=2, sampler=sampler, num_workers=workers)
        return [batch["LR"] for batch in itertools.islice(loader, count)]

    straight = batches(0, 0, 4)
    assert straight[0].shape == (2, 3, 8, 8)
    for got, want in zip(batches(4, 2, 2), straight[2:], strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


# Real-ESRGAN degradation


def test_realesrgan_items_are_valid_reproducible_and_not_bicubic(tmp_path: Path) -> None:
    make_hr(tmp_path, 2, size=64)
    degraded = SuperResDataset(tmp_path, scale=4, gt_size=48, degradation="realesrgan")
    bicubic = SuperResDataset(tmp_path, scale=4, gt_size=48)
    lrs = []
    for seed in range(8):
        item = degraded[(seed % 2, seed)]
        assert item["LR"].shape == (3, 12, 12) and item["HR"].shape == (3, 48, 48)
        assert torch.isfinite(item["LR"]).all()
        assert item["LR"].min() >= 0 and item["LR"].max() <= 1
        torch.testing.assert_close(item["LR"] * 255, (item["LR"] * 255).round(), atol=1e-4, rtol=0)
        # Same crop as the bicubic dataset draws for the seed, different LR.
        plain = bicubic[(seed % 2, seed)]
        torch.testing.assert_close(item["HR"], plain["HR"], rtol=0, atol=0)
        assert (item["LR"] - plain["LR"]).abs().mean() > 0.005
        again = degraded[(seed % 2, seed)]
        torch.testing.assert_close(again["LR"], item["LR"], rtol=0, atol=0)
        lrs.append(item["LR"])
    assert len({lr.numpy().tobytes() for lr in lrs}) == 8


def test_degrade_works_for_every_scale_and_small_images() -> None:
    hr = tensor(photo(1, 24, 32))
    generator = torch.Generator()
    for scale, seed in itertools.product((1, 2, 3, 4), range(10)):
        generator.manual_seed(seed)
        lr = degrade(hr, scale, generator)
        assert lr.shape == (3, 24 // scale, 32 // scale)
        assert torch.isfinite(lr).all() and lr.min() >= 0 and lr.max() <= 1


def test_degradation_settings_are_honoured() -> None:
    # Everything switched off but the resizes and a near-lossless JPEG: what is left is a
    # plain downscale, so the LR must be close to an area/bilinear/bicubic shrink of HR.
    quiet = DegradationRound(
        blur_probability=0.0,
        blur_sigma=(0.2, 0.2),
        resize_probabilities=(0.0, 0.0, 1.0),
        resize_range=(1.0, 1.0),
        gaussian_noise_sigma=(0.0, 0.0),
        poisson_noise_scale=(0.0, 0.0),
        jpeg_quality=(100, 100),
        gaussian_noise_probability=1.0,
    )
    settings = RealESRGANDegradation(first=quiet, second=quiet, final_sinc_probability=0.0)
    # Smooth, so that every resize mode agrees; gray, so that JPEG's chroma subsampling of a
    # 12×12 image does not count.
    gray = cv2.cvtColor(cv2.GaussianBlur(photo(2, 48, 48), (0, 0), 2.0), cv2.COLOR_RGB2GRAY)
    hr = tensor(np.dstack([gray] * 3))
    reference = torch.nn.functional.interpolate(hr[None], size=(12, 12), mode="area")[0]
    for seed in range(6):
        generator = torch.Generator()
        generator.manual_seed(seed)
        lr = degrade(hr, 4, generator, settings)
        assert (lr - reference).abs().mean() < 0.01
        noisy = degrade(hr, 4, generator)
        assert (noisy - reference).abs().mean() > (lr - reference).abs().mean()


@pytest.mark.parametrize(
    "kind",
    ["iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"],
)
def test_every_blur_kernel_kind_and_the_sinc_give_valid_images(kind: str) -> None:
    blurry = DegradationRound(
        blur_probability=1.0,
        blur_sigma=(0.2, 3.0),
        resize_probabilities=(0.0, 0.0, 1.0),
        resize_range=(1.0, 1.0),
        gaussian_noise_sigma=(0.0, 0.0),
        poisson_noise_scale=(0.0, 0.0),
        jpeg_quality=(95, 95),
        kernel_probabilities=((kind, 1.0),),  # type: ignore[arg-type]
        sinc_probability=0.5,
    )
    settings = RealESRGANDegradation(first=blurry, second=blurry, final_sinc_probability=1.0)
    hr = tensor(photo(3, 32, 32))
    outputs = []
    for seed in range(6):
        generator = torch.Generator()
        generator.manual_seed(seed)
        lr = degrade(hr, 2, generator, settings)
        assert lr.shape == (3, 16, 16)
        assert torch.isfinite(lr).all() and lr.min() >= 0 and lr.max() <= 1
        # Blur keeps the picture's average brightness (kernels sum to 1).
        assert abs(lr.mean() - hr.mean()) < 0.03
        outputs.append(lr)
    assert len({lr.numpy().tobytes() for lr in outputs}) == 6


def test_realesrgan_validation_uses_the_bicubic_lr(tmp_path: Path) -> None:
    make_hr(tmp_path, 1)
    dataset = SuperResDataset(tmp_path, scale=4, gt_size=32, train=False, degradation="realesrgan")
    item = dataset[0]
    torch.testing.assert_close(item["LR"], quantized_bicubic(item["HR"], 4), atol=1e-6, rtol=0)


# Paired folders


def make_paired(root: Path, count: int, scale: int, lr_name: str = "{stem}x{scale}") -> None:
    """HR photos and LR files such that HR is LR enlarged by pixel repetition: any crop of
    HR aligned with its LR crop is exactly that LR crop repeated."""
    for index in range(count):
        lr = photo(index, 12, 10)
        hr = np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)
        stem = f"{index:04d}"
        save(root / "HR" / f"{stem}.png", hr)
        save(root / "LR" / f"{lr_name.format(stem=stem, scale=scale)}.png", lr)


def repeated(lr: torch.Tensor, scale: int) -> torch.Tensor:
    return lr.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)


def test_div2k_names_pair_up_and_crops_stay_aligned(tmp_path: Path) -> None:
    make_paired(tmp_path, 3, scale=4)
    dataset = SuperResDataset(tmp_path, scale=4, gt_size=32)
    assert dataset.layout == "paired"
    assert [(hr.name, lr.name) for hr, lr in dataset.items] == [
        (f"000{i}.png", f"000{i}x4.png") for i in range(3)
    ]
    for seed in range(12):
        item = dataset[(seed % 3, seed)]
        assert item["LR"].shape == (3, 8, 8) and item["HR"].shape == (3, 32, 32)
        torch.testing.assert_close(item["HR"], repeated(item["LR"], 4), rtol=0, atol=0)


def test_identical_names_and_a_div2k_scale_folder(tmp_path: Path) -> None:
    make_paired(tmp_path / "train", 2, scale=2, lr_name="{stem}")
    (tmp_path / "train" / "LR").rename(tmp_path / "X2")
    (tmp_path / "train" / "LR").mkdir()
    (tmp_path / "X2").rename(tmp_path / "train" / "LR" / "X2")
    dataset = SuperResDataset(tmp_path, scale=2, gt_size=8, train=False)
    assert [lr.relative_to(tmp_path).as_posix() for _, lr in dataset.items] == [
        "train/LR/X2/0000.png",
        "train/LR/X2/0001.png",
    ]
    item = dataset[1]
    torch.testing.assert_close(item["HR"], repeated(item["LR"], 2), rtol=0, atol=0)
    assert item["HR"].shape == (3, 24, 20)


def test_hr_a_few_pixels_larger_is_cut_to_lr_times_scale(tmp_path: Path) -> None:
    save(tmp_path / "HR" / "a.png", photo(0, 35, 33))
    save(tmp_path / "LR" / "a.png", photo(1, 8, 8))
    dataset = SuperResDataset(tmp_path, scale=4, gt_size=16, train=False)
    assert dataset[0]["HR"].shape == (3, 32, 32)


def test_lr_of_the_wrong_size_names_the_files(tmp_path: Path) -> None:
    make_paired(tmp_path, 2, scale=4)
    save(tmp_path / "LR" / "0001x4.png", photo(1, 16, 16))
    with pytest.raises(DataError) as caught:
        SuperResDataset(tmp_path, scale=4, gt_size=16)
    message = str(caught.value)
    assert "1 LR images are not 1/4 the size of their HR image" in message
    assert "0001.png 40×48 vs 0001x4.png 16×16, expected 10×12" in message


def test_paired_data_at_the_wrong_scale_is_refused(tmp_path: Path) -> None:
    make_paired(tmp_path, 2, scale=2, lr_name="{stem}")
    with pytest.raises(DataError, match="2 LR images are not 1/4 the size"):
        SuperResDataset(tmp_path, scale=4, gt_size=16)


def test_unpaired_names_are_listed(tmp_path: Path) -> None:
    make_paired(tmp_path, 3, scale=2)
    (tmp_path / "LR" / "0002x2.png").unlink()
    save(tmp_path / "LR" / "extra.png", photo(5, 8, 8))
    with pytest.raises(DataError) as caught:
        SuperResDataset(tmp_path, scale=2, gt_size=8)
    message = str(caught.value)
    assert "2 images have no partner" in message
    assert "only in HR: 0002.png" in message and "only in LR: extra.png" in message
    assert "0001.png and 0001x2.png" in message  # says how names must match


def test_two_lr_files_for_one_hr_file(tmp_path: Path) -> None:
    make_paired(tmp_path, 1, scale=2)
    save(tmp_path / "LR" / "0000.png", photo(0, 12, 10))
    with pytest.raises(DataError, match=r"0000\.png and 0000x2\.png both match 0000\.png"):
        SuperResDataset(tmp_path, scale=2, gt_size=8)


def test_lr_without_hr(tmp_path: Path) -> None:
    save(tmp_path / "LR" / "a.png", photo(0, 8, 8))
    with pytest.raises(DataError, match="has LR/ but no HR/ sub-folder"):
        SuperResDataset(tmp_path, scale=2, gt_size=8)


def test_realesrgan_on_paired_data_is_a_config_error(tmp_path: Path) -> None:
    make_paired(tmp_path, 1, scale=2)
    with pytest.raises(ConfigError, match="has its own LR/ folder"):
        SuperResDataset(tmp_path, scale=2, gt_size=8, degradation="realesrgan")


# Conversions


def test_gray_rgba_and_sixteen_bit_photos_become_rgb_in_0_1(tmp_path: Path) -> None:
    rgb = photo(0, 32, 32)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    save(tmp_path / "gray.png", gray)
    save(tmp_path / "rgba.png", np.dstack([rgb[:, :, ::-1], np.full((32, 32), 90, np.uint8)]))
    save(tmp_path / "deep.png", rgb.astype(np.uint16) * 257)
    save(tmp_path / "deep_gray.png", gray.astype(np.uint16) * 257)
    dataset = SuperResDataset(tmp_path, scale=2, gt_size=16, train=False)
    items = {Path(dataset[i]["path"]).name: dataset[i] for i in range(len(dataset))}
    expected_gray = tensor(np.dstack([gray] * 3))
    torch.testing.assert_close(items["gray.png"]["HR"], expected_gray, rtol=0, atol=1e-7)
    torch.testing.assert_close(items["rgba.png"]["HR"], tensor(rgb), rtol=0, atol=1e-7)
    torch.testing.assert_close(items["deep.png"]["HR"], tensor(rgb), rtol=0, atol=1e-7)
    torch.testing.assert_close(items["deep_gray.png"]["HR"], expected_gray, rtol=0, atol=1e-7)
    for item in items.values():
        assert item["LR"].shape == (3, 16, 16)
    torch.testing.assert_close(items["deep.png"]["LR"], items["rgba.png"]["LR"], rtol=0, atol=0)


# Too small and unreadable


def test_photos_smaller_than_gt_size_are_skipped_with_a_warning(tmp_path: Path) -> None:
    make_hr(tmp_path, 2, size=48)
    save(tmp_path / "tiny.png", photo(9, 20, 60))
    with pytest.warns(SkippedImageWarning, match=r"tiny\.png: 60×20 is too small for the 32×32"):
        dataset = SuperResDataset(tmp_path, scale=4, gt_size=32)
    assert len(dataset) == 2
    assert [path.name for path, _ in dataset.skipped] == ["tiny.png"]
    validation = SuperResDataset(tmp_path, scale=4, gt_size=32, train=False)
    assert len(validation) == 3  # whole pictures: any size that has LR pixels is fine


def test_all_photos_too_small_is_an_error(tmp_path: Path) -> None:
    make_hr(tmp_path, 3, size=24)
    with (
        pytest.warns(SkippedImageWarning),
        pytest.raises(DataError) as caught,
    ):
        SuperResDataset(tmp_path, scale=4, gt_size=32)
    message = str(caught.value)
    assert "none of the 3 images can be used" in message
    assert "0000.png: 24×24 is too small for the 32×32 training crop" in message
    assert "lower gt_size or add larger photos" in message


def test_unreadable_files_are_skipped_and_counted(tmp_path: Path) -> None:
    make_hr(tmp_path, 2)
    (tmp_path / "empty.png").touch()
    with pytest.warns(SkippedImageWarning, match=r"empty\.png: not a decodable image"):
        dataset = SuperResDataset(tmp_path, scale=2, gt_size=16)
    assert len(dataset) == 2
    assert dataset.skipped[0][0] == tmp_path / "empty.png"


def test_an_unreadable_lr_drops_the_pair(tmp_path: Path) -> None:
    make_paired(tmp_path, 2, scale=2)
    (tmp_path / "LR" / "0000x2.png").write_bytes(b"junk")
    with pytest.warns(SkippedImageWarning, match=r"0000x2\.png"):
        dataset = SuperResDataset(tmp_path, scale=2, gt_size=8)
    assert [hr.name for hr, _ in dataset.items] == ["0001.png"]


# Splits and options


def test_split_folders_and_optional_splits(tmp_path: Path) -> None:
    make_hr(tmp_path / "train", 3)
    make_hr(tmp_path / "val", 1)
    assert len(SuperResDataset(tmp_path, "train", scale=2, gt_size=16)) == 3
    val = superres_dataset_or_none(tmp_path, "val", scale=2, gt_size=16, train=False)
    assert val is not None and len(val) == 1
    assert superres_dataset_or_none(tmp_path, "test", scale=2, gt_size=16) is None
    with pytest.raises(DataError, match=r"has no 'test' split \(found: train, val\)"):
        SuperResDataset(tmp_path, "test", scale=2, gt_size=16)


def test_split_folders_inside_hr_and_lr(tmp_path: Path) -> None:
    make_paired(tmp_path / "pairs", 2, scale=2)
    for side in ("HR", "LR"):
        (tmp_path / "pairs" / side).rename(tmp_path / f"{side}_train")
        (tmp_path / side).mkdir()
        (tmp_path / f"{side}_train").rename(tmp_path / side / "train")
    dataset = SuperResDataset(tmp_path, scale=2, gt_size=8)
    assert dataset.layout == "paired" and len(dataset) == 2
    assert superres_dataset_or_none(tmp_path, "val", scale=2, gt_size=8) is None


def test_bare_root_is_the_train_split(tmp_path: Path) -> None:
    make_hr(tmp_path, 2)
    assert superres_dataset_or_none(tmp_path, "val", scale=2, gt_size=16) is None
    with pytest.raises(DataError, match="used as the train split only"):
        SuperResDataset(tmp_path, "val", scale=2, gt_size=16)


def test_missing_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nowhere: data folder does not exist"):
        SuperResDataset(tmp_path / "nowhere", scale=2, gt_size=16)
    with pytest.raises(DataError, match=r"holds no images \(the folder is empty\)"):
        SuperResDataset(tmp_path, scale=2, gt_size=16)


def test_bad_options(tmp_path: Path) -> None:
    make_hr(tmp_path, 1)
    with pytest.raises(ConfigError, match=r"gt_size \(30\) must be a positive multiple of scale"):
        SuperResDataset(tmp_path, scale=4, gt_size=30)
    with pytest.raises(ConfigError, match="scale must be a positive whole number"):
        SuperResDataset(tmp_path, scale=0, gt_size=16)
    with pytest.raises(ConfigError, match="degradation must be"):
        SuperResDataset(tmp_path, scale=2, gt_size=16, degradation="jpeg")  # type: ignore[arg-type]
