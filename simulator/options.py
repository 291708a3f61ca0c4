"""What the simulator's command line and its window share: exit codes and where a
terminal's config.json is (the window is started by the CLI and must not import it)."""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_REFUSED = 1  # ok:false from the backend, or the terminal refused the input
EXIT_NO_RESPONSE = 2  # timeout, broker unreachable, bad setup (argparse usage errors too)


def config_path(args) -> Path:
    """--config, or the backend instance's devices/<id>/config.json."""
    return args.config or args.instance_dir / "devices" / args.device / "config.json"
