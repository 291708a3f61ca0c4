# ruff: noqa: UP031  (MicroPython test helper: %-formatting kept on purpose)
# A `machine` module for the hardware drivers under the WebAssembly MicroPython, as strict
# as the ESP32's: constructors take the keyword arguments the stubs of every supported
# release agree on (anything else raises TypeError, as PWM(duty=...) does on newer
# builds), pins are wired into an electrical model (a pressed key joins a row and a
# column; two pins driving one net to different levels are a short), the I2C bus carries
# an SSD1306 whose RAM is rebuilt from the bytes sent, and UARTs keep what was written and
# serve what the test queues. Install with sys.modules["machine"] = fake_machine.

_LOW = 0
_HIGH = 1


class ShortCircuit(Exception):
    pass


class _Board:
    def __init__(self):
        self.reset()

    def reset(self):
        self.pins = {}  # GPIO -> Pin
        self.pressed = []  # [(row GPIO, column GPIO)]
        self.uarts = {}  # id -> UART
        self.i2c_devices = {}  # addr -> device

    def net(self, gpio):
        """The GPIOs joined to ``gpio`` through pressed keys."""
        found = {gpio}
        grew = True
        while grew:
            grew = False
            for a, b in self.pressed:
                if (a in found) != (b in found):
                    found.add(a)
                    found.add(b)
                    grew = True
        return found

    def level(self, gpio):
        drivers = []
        pulled_up = False
        for pin_id in self.net(gpio):
            pin = self.pins.get(pin_id)
            if pin is None:
                continue
            driven = pin.driven()
            if driven is not None:
                drivers.append((pin_id, driven))
            if pin.pull == Pin.PULL_UP:
                pulled_up = True
        levels = set([d for _p, d in drivers])
        if len(levels) > 1:
            raise ShortCircuit("GPIOs %s drive one net high and low" % sorted(
                [p for p, _d in drivers]))
        if levels:
            return levels.pop()
        return _HIGH if pulled_up else None  # None: floating

    def check(self):
        for gpio in list(self.pins):
            self.level(gpio)


board = _Board()


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        if type(id) is not int:
            raise TypeError("Pin id must be an int")
        self.id = id
        self.mode = None
        self.pull = None
        self._out = _HIGH if mode == Pin.OPEN_DRAIN else _LOW
        board.pins[id] = self
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, value=None):
        if mode != -1:
            if mode not in (Pin.IN, Pin.OUT, Pin.OPEN_DRAIN):
                raise ValueError("invalid pin mode %r" % (mode,))
            self.mode = mode
        if pull != -1:
            self.pull = pull
        if value is not None:
            self._out = 1 if value else 0
        board.check()

    def driven(self):
        if self.mode == Pin.OUT:
            return self._out
        if self.mode == Pin.OPEN_DRAIN and self._out == 0:
            return _LOW
        return None

    def value(self, x=None):
        if x is None:
            level = board.level(self.id)
            if level is None:
                raise AssertionError("GPIO %d read while floating" % self.id)
            return level
        self._out = 1 if x else 0
        board.check()
        return None


class UART:
    _OPTIONS = ("baudrate", "tx", "rx", "rxbuf", "txbuf", "timeout", "bits", "parity",
                "stop")

    def __init__(self, id, **options):
        for name in options:
            if name not in UART._OPTIONS:
                raise TypeError("unexpected keyword argument '%s'" % name)
        if id not in (0, 1, 2):
            raise ValueError("UART(%r) does not exist" % (id,))
        if id in board.uarts and not board.uarts[id].closed:
            raise AssertionError("UART %d initialised twice" % id)
        self.id = id
        self.options = options
        self.incoming = bytearray()
        self.written = bytearray()
        self.closed = False
        board.uarts[id] = self

    def any(self):
        return len(self.incoming)

    def read(self, n=-1):
        if not self.incoming:
            return None
        n = len(self.incoming) if n < 0 else n
        data = bytes(self.incoming[:n])
        self.incoming = self.incoming[n:]
        return data

    def write(self, data):
        if self.closed:
            raise OSError("UART deinitialised")
        if "tx" not in self.options:
            raise AssertionError("UART %d written without a TX pin" % self.id)
        self.written.extend(data)
        return len(data)

    def txdone(self):
        # True: everything written has left (this double sends at once); a test sets
        # busy to hold the line.
        return not getattr(self, "busy", False)

    def deinit(self):
        self.closed = True


class PWM:
    def __init__(self, pin, freq=None, duty_u16=None, duty_ns=None):
        if not isinstance(pin, Pin):
            raise TypeError("PWM needs a Pin")
        self.pin = pin
        self.freq_hz = freq
        self.duty = duty_u16 or 0
        self.closed = False

    def duty_u16(self, value=None):
        if value is None:
            return self.duty
        if not 0 <= value <= 65535:
            raise ValueError("duty_u16 must be 0..65535")
        self.duty = value
        return None

    def deinit(self):
        self.closed = True


class SSD1306Model:
    """The controller as far as the driver uses it: command bytes (with the column and
    page range commands' arguments) and display RAM writes in horizontal addressing."""

    def __init__(self):
        self.ram = bytearray(128 * 8)
        self.on = False
        self.commands = []
        self._pending = None  # (command, args still expected, collected)
        self._col = self._page = 0
        self._cols = (0, 127)
        self._pages = (0, 7)

    def command(self, byte):
        self.commands.append(byte)
        if self._pending is not None:
            cmd, left, args = self._pending
            args.append(byte)
            if left > 1:
                self._pending = (cmd, left - 1, args)
                return
            self._pending = None
            if cmd == 0x21:
                self._cols = (args[0], args[1])
                self._col = args[0]
            elif cmd == 0x22:
                self._pages = (args[0], args[1])
                self._page = args[0]
            return
        if byte in (0x21, 0x22):
            self._pending = (byte, 2, [])
        elif byte == 0xAF:
            self.on = True
        elif byte == 0xAE:
            self.on = False

    def data(self, data):
        for byte in data:
            self.ram[self._page * 128 + self._col] = byte
            self._col += 1
            if self._col > self._cols[1]:
                self._col = self._cols[0]
                self._page += 1
                if self._page > self._pages[1]:
                    self._page = self._pages[0]

    def pixel(self, x, y):
        return (self.ram[(y // 8) * 128 + x] >> (y % 8)) & 1

    def receive(self, data):
        control = data[0]
        if control == 0x80:
            if len(data) != 2:
                raise AssertionError("Co=1 carries one command byte")
            self.command(data[1])
        elif control == 0x00:
            for byte in data[1:]:
                self.command(byte)
        elif control == 0x40:
            self.data(data[1:])
        else:
            raise AssertionError("bad SSD1306 control byte %#x" % control)


class I2C:
    def __init__(self, id, scl=None, sda=None, freq=400000):
        if not isinstance(scl, Pin) or not isinstance(sda, Pin):
            raise TypeError("I2C needs scl and sda Pins")
        self.freq_hz = freq

    def _device(self, addr):
        if addr not in board.i2c_devices:
            raise OSError(19)  # ENODEV: nothing acknowledges the address
        return board.i2c_devices[addr]

    def writeto(self, addr, buf, stop=True):
        self._device(addr).receive(bytes(buf))
        return 1

    def writevto(self, addr, vector, stop=True):
        joined = bytearray()
        for part in vector:
            joined.extend(part)
        self._device(addr).receive(bytes(joined))
        return len(vector)
