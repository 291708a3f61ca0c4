# Vafa terminal firmware (MicroPython >= 1.22; also importable by CPython via the simulator).


def unload(*names):
    """Forget modules loaded on demand, so that the garbage collector can free them (a
    later import loads them again)."""
    import sys

    pkg = sys.modules["vafa"]
    for name in names:
        sys.modules.pop(name, None)
        try:
            delattr(pkg, name.rpartition(".")[2])
        except (AttributeError, KeyError):  # MicroPython: KeyError for a missing one
            pass
