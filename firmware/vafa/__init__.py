# Vafa terminal firmware (MicroPython >= 1.22; also importable by CPython via the simulator).
