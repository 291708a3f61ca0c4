# ruff: noqa: F821  (metadata/require/package/module are provided by the manifest tool)
# MicroPython freeze manifest for the Vafa terminal firmware.
# Build: make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/firmware/manifest.py
# The version here must equal vafa/version.py (checked by tests/firmware).
# No umqtt: the firmware has its own MQTT client (vafa/mqtt.py), since the frozen umqtt
# differs between MicroPython releases and a frozen module shadows /lib.
metadata(version="0.2.0", description="Vafa loyalty terminal firmware (ESP32, MicroPython)")

package("vafa")
module("main.py")  # the loader; vafa/start.py is the entry it runs
