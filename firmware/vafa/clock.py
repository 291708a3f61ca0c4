# Millisecond ticks: MicroPython's wrap-around-safe time.ticks_* on the device, and a
# monotonic stand-in under CPython (the simulator and tests).
try:
    from time import ticks_add, ticks_diff, ticks_ms
except ImportError:  # CPython
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, d):
        return a + d
