# ruff: noqa: F821  (metadata/require/package/module are provided by the manifest tool)
# MicroPython freeze manifest for the Vafa terminal firmware.
# Build: make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/firmware/manifest.py
# The version here must equal vafa/version.py (checked by tests/firmware).
metadata(version="0.1.0", description="Vafa loyalty terminal firmware (ESP32, MicroPython)")

require("umqtt.simple")
package("vafa")
module("main.py")
