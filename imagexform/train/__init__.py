"""The training side: the core loop every family shares (imports torch).

``imagexform.train.fit`` trains a family end to end, as ``imagexform train`` does; it is
imported on first use so that importing a submodule stays cheap.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "fit":
        from imagexform.train.fitting import fit

        return fit
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["fit"]
