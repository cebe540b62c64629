"""Image files in and out, shared by training and inference.

Both halves read images here so that a picture means the same pixels everywhere (colour order,
EXIF orientation, bit depth, alpha). The inference side installs no torch, so nothing in this
package may import it.
"""
