"""How close a model's outputs come to a reference set of images: FID and KID.

Translation and style models have no ground truth to compare pixel by pixel, so they are
judged as papers judge them: by the distance between the Inception feature statistics of
their outputs and of real images of the target domain. The metrics come from clean-fid (its
``clean`` and ``legacy_pytorch`` modes, its resizing, its FID and KID code); this package
only feeds it, caches the reference side and explains failures. Needs torch (train extra).
"""

from imagexform.fidelity.features import MODES, FeatureError, FeatureExtractor, load_extractor
from imagexform.fidelity.scores import (
    KID_SUBSET_SIZE,
    Scores,
    folder_features,
    reference_features,
    score_features,
)

__all__ = [
    "KID_SUBSET_SIZE",
    "MODES",
    "FeatureError",
    "FeatureExtractor",
    "Scores",
    "folder_features",
    "load_extractor",
    "reference_features",
    "score_features",
]
