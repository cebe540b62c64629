"""Errors a user can act on.

Anything raised as :class:`UserError` is printed by the CLI as one line, without a traceback,
so the message itself must name the file or setting at fault and what is wrong with it.
"""


class UserError(Exception):
    """A problem with the user's input (files, flags, configuration), not a bug."""


class ConfigError(UserError):
    """A configuration key or value that does not fit the family's config dataclass."""


class DataError(UserError):
    """A dataset that cannot be used for training as given."""


class CheckpointError(UserError):
    """A checkpoint that is missing, incomplete or belongs to something else."""
