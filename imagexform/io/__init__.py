"""Image files in and out, shared by training and inference.

Both halves read images here so that a picture means the same pixels everywhere (colour order,
EXIF orientation, bit depth, alpha). The inference side installs no torch, so nothing in this
package may import it.
"""

# The decompression-bomb limit (pixels), here rather than in ``probe`` so that command-line
# defaults can name it without importing OpenCV.
DEFAULT_MAX_PIXELS = 100_000_000
