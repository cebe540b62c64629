"""Import the style models published with pytorch/examples' fast_neural_style (candy,
mosaic, rain_princess, udnie), which are bare TransformerNet state dicts. Files saved by
PyTorch < 0.4 carry InstanceNorm running statistics that current layers do not keep; they
are dropped exactly as the reference's ``stylize`` does. Torch-free at import."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imagexform.plugin_api import Imported, Importer, apply_text
from imagexform_style.config import StyleConfig

_FIRST = "conv1.conv2d.weight"
EXPECTED = (
    "conv1-3 (ConvLayer), in1-in5 (InstanceNorm), res1-res5 (ResidualBlock), "
    "deconv1-deconv2 (UpsampleConvLayer), deconv3"
)


class FastNeuralStyleImporter(Importer):
    name = "fast-neural-style"
    summary = "TransformerNet .pth from pytorch/examples fast_neural_style (candy, mosaic...)"

    def load(
        self, checkpoint: Mapping[str, Any], overrides: Mapping[str, str] | None = None
    ) -> Imported | None:
        import torch

        from imagexform.plugin_api import load_published, strip_wrappers
        from imagexform_style.networks import TransformerNet

        state = strip_wrappers(checkpoint)
        first = state.get(_FIRST)
        if not isinstance(first, torch.Tensor) or first.ndim != 4 or first.shape[1:] != (3, 9, 9):
            return None
        config = apply_text(StyleConfig(width=int(first.shape[0])), overrides or {})
        net = TransformerNet(config.width)
        load_published(
            net,
            state,
            f"starts like a fast_neural_style TransformerNet (width {config.width})",
            expected=EXPECTED,
        )
        return Imported(
            family="style",
            config=config,
            nets={"G": net.float()},
            description=f"pytorch/examples fast_neural_style TransformerNet (width {config.width})",
        )
