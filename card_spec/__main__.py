"""Card tools (features C1, C2). `python -m card_spec --help`."""
from card_spec.cli import cli

cli(prog_name="python -m card_spec")
