"""Run a self-describing ONNX model on images, without torch.

``load_model`` opens the file and reads how to feed it from its metadata;
``RuntimeModel.transform`` takes an image as ``imagexform.io.images.read_image`` returns it and
gives back the transformed image of the same kind, tiling large images to fit in memory.
"""

from imagexform.runtime.adjustments import Adjustments
from imagexform.runtime.model import PRECISIONS, RuntimeModel, load_model
from imagexform.runtime.session import DEVICES, OutOfMemoryError

__all__ = [
    "DEVICES",
    "PRECISIONS",
    "Adjustments",
    "OutOfMemoryError",
    "RuntimeModel",
    "load_model",
]
