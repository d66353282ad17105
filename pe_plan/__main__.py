"""``python -m pe_plan`` runs the CLI."""

from pe_plan.cli import main

main()
