"""``python -m imagexform`` runs the CLI in the current interpreter."""

from imagexform.cli import main

main()
