"""The runtime never imports torch (architecture invariant 1), nor onnx, which only the
optional int8 preparation needs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("onnx")
import onnx_models as om  # needs onnx, hence after importorskip

CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import imagexform.runtime
    model = imagexform.runtime.load_model(sys.argv[1])
    image = np.zeros((40, 30, 4), np.uint8)
    model.transform(image, tile_size=16, overlap=4)
    loaded = sorted({name.split(".")[0] for name in sys.modules})
    print(json.dumps([name for name in loaded if name in ("torch", "onnx", "torchvision")]))
    """
)


def test_running_a_model_imports_neither_torch_nor_onnx(tmp_path):
    path = om.upscaler(tmp_path / "x2.onnx", 2)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == []
