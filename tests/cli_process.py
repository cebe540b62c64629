"""The real CLI in a fresh process, as installed: for runs a test kills, interrupts or checks
for torch. The child reports on stderr whether torch was imported (``TORCH_LOADED=...``)."""

from __future__ import annotations

import subprocess
import sys

CLI_SCRIPT = """
import sys
from imagexform.cli import cli
try:
    cli(sys.argv[1:])
finally:
    print("TORCH_LOADED=" + str("torch" in sys.modules), file=sys.stderr)
"""


def run_cli(*args: object, **kwargs: object) -> subprocess.Popen[str]:
    """``imagexform ARGS...`` started in a child process, its output piped as text."""
    return subprocess.Popen(
        [sys.executable, "-c", CLI_SCRIPT, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )
