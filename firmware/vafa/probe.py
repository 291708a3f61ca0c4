# What the terminal knows about itself for the health fields of its state (issue 16):
# free heap and Wi-Fi signal. The app finds it as ``hw.probe``; the simulator puts its
# own (simulator.hardware.SimProbe) there.


class Probe:
    """``wlan``: a network.WLAN (None: no Wi-Fi figure)."""

    def __init__(self, wlan=None):
        self.wlan = wlan

    def free_heap(self) -> "int | None":
        try:
            import gc

            return gc.mem_free()  # type: ignore[attr-defined]
        except Exception:
            return None

    def rssi(self) -> "int | None":
        w = self.wlan
        if w is None:
            return None
        try:
            if not w.isconnected():
                return None
            return int(w.status("rssi"))
        except Exception:  # a port without the "rssi" status
            return None
