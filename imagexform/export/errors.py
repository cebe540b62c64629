"""The error an export raises when the file it would write cannot be trusted."""

from imagexform.errors import UserError


class ExportError(UserError):
    """torch could not export the module, or onnxruntime disagrees with torch on the result.

    A :class:`UserError` so the CLI reports it as one line: the message names the model, the
    input size and the difference, which is what the user needs to decide what to do next.
    """
