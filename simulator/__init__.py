"""Vafa terminal simulator: runs the real firmware app (firmware/vafa) on CPython with
simulated scanner, keypad, display, printer, indicator and a paho-mqtt network."""

from simulator.shim import FIRMWARE_DIR, install

install()

__all__ = ["FIRMWARE_DIR", "install"]
