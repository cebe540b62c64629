"""imagexform: transform images with trained generative models.

This package is the host. It knows no model family by name; families arrive as plugins
through the ``imagexform`` entry-point group. Importing it must stay cheap and torch-free,
because the inference side (batch command, editor, runtime) imports it too.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("imagexform")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
