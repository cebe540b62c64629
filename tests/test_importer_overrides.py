"""`--set` overrides reach importers: applied where they fit, refused by name where not."""

from __future__ import annotations

import pytest

from imagexform.errors import UserError
from imagexform_pix2pix.config import Pix2PixConfig
from imagexform_pix2pix.importer import JunyanzGeneratorImporter
from imagexform_pix2pix.networks import build_generator


def junyanz_file() -> dict:
    return build_generator(Pix2PixConfig(netG="unet_32", ngf=8, norm="instance")).state_dict()


def test_overrides_apply_to_the_imported_config():
    imported = JunyanzGeneratorImporter().load(junyanz_file(), {"dropout": "false"})
    assert imported is not None
    assert imported.config.dropout is False
    assert (imported.config.netG, imported.config.ngf) == ("unet_32", 8)


def test_override_that_contradicts_the_file_is_refused():
    with pytest.raises(UserError, match="ngf=16 does not fit"):
        JunyanzGeneratorImporter().load(junyanz_file(), {"ngf": "16"})
