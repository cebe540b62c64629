#!/usr/bin/env bash
# Reproduce the shipped upscaler assets/models/imagexform-sr-x4.onnx from photos available
# offline: Debian's mate-backgrounds (GPL: used here, never committed) and scikit-image's
# bundled samples. The photos in assets/photos are kept out of training: they are the
# held-out evaluation set, with three mate nature photos.
#   usage: bash scripts/train_default_upscaler.sh [WORK_DIR]   (needs: apt-get install mate-backgrounds)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-runs/default-upscaler}"
MATE=/usr/share/backgrounds/mate
HELD_OUT="LadyBird Storm YellowFlower"
mkdir -p "$WORK/data/train" "$WORK/data/val" "$WORK/heldout"
.venv/bin/python - "$WORK" "$MATE" "$HELD_OUT" <<'PY'
import sys
from pathlib import Path

import cv2
import numpy as np
from skimage import data as samples

work, mate, held_out = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].split()
photos = sorted((mate / "nature").glob("*.jpg")) + [mate / "abstract" / "Elephants_3840x2160.jpg"]
for path in photos:
    image = cv2.imread(str(path))
    height, width = image.shape[:2]
    # half size: sharper pixels and no JPEG blocking left in the targets
    image = cv2.resize(image, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    if path.stem in held_out:
        cv2.imwrite(str(work / "heldout" / f"{path.stem}.png"), image)
        h, w = image.shape[:2]
        crop = image[h // 2 - 96 : h // 2 + 96, w // 2 - 96 : w // 2 + 96]
        cv2.imwrite(str(work / "data" / "val" / f"{path.stem}.png"), crop)
    else:
        cv2.imwrite(str(work / "data" / "train" / f"{path.stem}.png"), image)
# scikit-image samples NOT shipped in assets/photos (those are held out)
left, right, _ = samples.stereo_motorcycle()
extra = {"motorcycle_left": left, "motorcycle_right": right}
for name in ("grass", "gravel", "immunohistochemistry", "coins", "page", "moon", "text", "clock"):
    extra[name] = getattr(samples, name)()
for name, image in extra.items():
    image = np.asarray(image)
    if image.ndim == 3:
        image = cv2.cvtColor(image[:, :, :3], cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(work / "data" / "train" / f"skimage_{name}.png"), image)
PY
.venv/bin/imagexform train sr --data "$WORK/data" --out "$WORK/run" \
    --config plugins/imagexform_sr/recipes/shipped-x4.toml
.venv/bin/imagexform export "$WORK/run" -o "$WORK/imagexform-sr-x4.onnx" \
    --title "imagexform SR ×4 (MSRResNet 48×10)" \
    --description "Upscales photos ×4. Trained on 19 real photos with bicubic downscaling (L1 loss, EMA weights); sharpens edges and textures, does not remove JPEG noise or blur."
.venv/bin/imagexform eval "$WORK/imagexform-sr-x4.onnx" --data assets/photos
.venv/bin/imagexform eval "$WORK/imagexform-sr-x4.onnx" --data "$WORK/heldout"
