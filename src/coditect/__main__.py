"""``python -m coditect`` runs the CLI."""

from coditect.cli import main

main()
