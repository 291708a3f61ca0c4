"""Technician CLI for terminals (feature O2). `python -m provisioning --help`."""
