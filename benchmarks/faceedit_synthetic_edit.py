"""Does a face-edit model trained on synthetic faces move the hair towards the asked colour?

Draws ``--faces`` synthetic faces with known attributes (imagexform_faceedit.synthetic), trains
``imagexform train faceedit`` on them for ``--steps`` steps (small networks, 64 px), then edits
held-out faces whose hair is black to blond and to brown, and measures the mean RGB of the
hair region before and after against the drawn blond / brown colours. Prints JSON: the
distance to each target colour before and after the edit (lower after = the edit works),
and how much the face region changed (the edit should leave it mostly alone).

Run: .venv/bin/python benchmarks/faceedit_synthetic_edit.py [--steps 600] [--faces 64]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from imagexform.train.restore import load_trained
from imagexform_faceedit.synthetic import ATTRIBUTES, HAIR_RGB, draw_face, hair_mask, write_dataset

SIZE = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--faces", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root, run = Path(folder) / "faces", Path(folder) / "run"
        write_dataset(root, args.faces, SIZE)
        settings = [
            f"attributes={','.join(ATTRIBUTES)}",
            "groups=Black_Hair,Blond_Hair,Brown_Hair",
            f"image_size={SIZE}",
            f"crop_size={SIZE}",
            "conv_dim=32",
            "d_conv_dim=32",
            "repeat_num=3",
            "batch_size=8",
            f"steps={args.steps}",
            "log_every=100",
            "save_every=0",
            "sample_every=0",
        ]
        command = [sys.executable, "-m", "imagexform", "train", "faceedit", "--data", str(root)]
        command += ["--out", str(run), *[p for s in settings for p in ("--set", s)]]
        subprocess.run(command, check=True)
        generator = load_trained(run).nets["G"]

    rng = np.random.default_rng(123)
    mask = hair_mask(SIZE)
    report: dict[str, object] = {"steps": args.steps, "faces": args.faces}
    for target in ("Blond_Hair", "Brown_Hair"):
        before, after, face_change = [], [], []
        for _ in range(16):
            original = {"Black_Hair": 1, "Eyeglasses": int(rng.random() < 0.5), "Smiling": 1}
            image = draw_face(original, SIZE, rng)
            vector = torch.tensor([[float(original.get(a, 0)) for a in ATTRIBUTES]])
            vector[0, :3] = 0
            vector[0, ATTRIBUTES.index(target)] = 1
            x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1
            with torch.no_grad():
                edited = ((generator(x, vector)[0].permute(1, 2, 0).numpy() + 1) * 127.5).clip(
                    0, 255
                )
            goal = np.array(HAIR_RGB[target], np.float64)
            before.append(np.linalg.norm(image[mask].mean(0) - goal))
            after.append(np.linalg.norm(edited[mask].mean(0) - goal))
            face_change.append(np.abs(edited[~mask] - image[~mask]).mean())
        report[f"black_to_{target}"] = {
            "hair_rgb_distance_to_target_before": round(float(np.mean(before)), 1),
            "hair_rgb_distance_to_target_after": round(float(np.mean(after)), 1),
            "mean_abs_change_outside_hair": round(float(np.mean(face_change)), 1),
        }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
