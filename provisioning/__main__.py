from provisioning.cli import cli

cli(prog_name="python -m provisioning")
