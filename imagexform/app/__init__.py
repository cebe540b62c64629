"""The desktop editor: ``imagexform app [IMAGE]``.

Open a photo, pick a model, set the parameters its metadata declares, compare before and
after, undo, save, and run the same over a folder. Everything heavy runs off the GUI thread
through :mod:`imagexform.runtime`, so the editor needs PySide6, onnxruntime, OpenCV and
numpy, and never torch.
"""
