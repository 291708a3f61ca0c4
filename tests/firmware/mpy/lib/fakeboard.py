# ruff: noqa: UP031  (MicroPython test helper: %-formatting kept on purpose)
# Test doubles as strict as the board: a flash that fills up like LittleFS, and the
# ESP32's clocks that restart at 2000-01-01 on a power cut. They run under MicroPython
# (the flash is mounted as a user VFS with os.mount, so the firmware's own open(),
# os.rename() etc. hit it) and under CPython (the same calls are routed to it).
import os
import sys

EPOCH_2000_S = 946684800
ENOSPC = 28
ENOENT = 2
_MP = sys.implementation.name == "micropython"


class FakeFlash:
    """LittleFS on a small partition: ``blocks`` blocks of ``block_size`` bytes; every
    file and directory takes whole blocks (at least one). A write that does not fit
    writes what fits, then raises OSError(28), as LittleFS's lfs_file_write returns
    LFS_ERR_NOSPC part way; rename replaces the target atomically. ``max_read`` is the
    largest single read() or readinto() a file served (read() without a size counts
    as the rest of the file)."""

    def __init__(self, blocks=16, block_size=4096):
        self.blocks = blocks
        self.block_size = block_size
        self.files = {}
        self.dirs = {""}
        self.max_read = 0
        self.writes = 0
        self.budget = None

    # -- accounting --------------------------------------------------------------
    def _blocks_of(self, n):
        return max(1, (n + self.block_size - 1) // self.block_size)

    def used_blocks(self):
        return sum(self._blocks_of(len(b)) for b in self.files.values()) + len(self.dirs)

    def free_bytes_for(self, path):
        """Bytes ``path`` can still grow by."""
        cur = self.files.get(path)
        own = self._blocks_of(len(cur)) if cur is not None else 0
        free_blocks = self.blocks - self.used_blocks() + own
        room = free_blocks * self.block_size - (len(cur) if cur is not None else 0)
        return room if self.budget is None or self.budget > room else self.budget

    def fill(self, leave_bytes=0):
        """Other data takes the flash: from now on only ``leave_bytes`` more can be
        written (in all files together, block slack included) until unfill()."""
        self.budget = leave_bytes

    def unfill(self):
        self.budget = None

    # -- the VFS interface (MicroPython's os.mount protocol) ----------------------------
    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def _norm(self, path):
        path = "/" + path.strip("/")
        return "" if path == "/" else path

    def open(self, path, mode="r"):
        path = self._norm(path)
        parent = path.rpartition("/")[0]
        if parent not in self.dirs:
            raise OSError(ENOENT)
        if "w" in mode:
            if path not in self.files and self.free_bytes_for(path) <= 0:
                raise OSError(ENOSPC)
            self._freed(len(self.files.get(path, b"")))
            self.files[path] = bytearray()
        elif "a" in mode:
            if path not in self.files:
                if self.free_bytes_for(path) <= 0:
                    raise OSError(ENOSPC)
                self.files[path] = bytearray()
        elif path not in self.files:
            raise OSError(ENOENT)
        return FakeFile(self, path, mode)

    def stat(self, path):
        path = self._norm(path)
        if path in self.dirs:
            return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        if path not in self.files:
            raise OSError(ENOENT)
        return (0x8000, 0, 0, 0, 0, 0, len(self.files[path]), 0, 0, 0)

    def _freed(self, n):
        if self.budget is not None:
            self.budget += n  # what other data left for us stays; this comes back

    def remove(self, path):
        path = self._norm(path)
        if path not in self.files:
            raise OSError(ENOENT)
        self._freed(len(self.files.pop(path)))

    def rename(self, a, b):
        a, b = self._norm(a), self._norm(b)
        if a in self.dirs:  # a directory and what is under it, as LittleFS renames one
            if b in self.dirs or b in self.files or b.rpartition("/")[0] not in self.dirs:
                raise OSError(17 if b in self.dirs or b in self.files else ENOENT)
            for d in [d for d in self.dirs if d == a or d.startswith(a + "/")]:
                self.dirs.discard(d)
                self.dirs.add(b + d[len(a):])
            for f in [f for f in self.files if f.startswith(a + "/")]:
                self.files[b + f[len(a):]] = self.files.pop(f)
            return
        if a not in self.files:
            raise OSError(ENOENT)
        self._freed(len(self.files.get(b, b"")))
        self.files[b] = self.files.pop(a)

    def mkdir(self, path):
        path = self._norm(path)
        if path in self.dirs or path in self.files:
            raise OSError(17)  # EEXIST
        if self.blocks - self.used_blocks() <= 0:
            raise OSError(ENOSPC)
        self.dirs.add(path)

    def rmdir(self, path):
        path = self._norm(path)
        if path not in self.dirs:
            raise OSError(ENOENT)
        if any(p.startswith(path + "/") for p in list(self.files) + list(self.dirs)):
            raise OSError(39)  # ENOTEMPTY, as LittleFS refuses
        self.dirs.discard(path)

    def ilistdir(self, path):
        path = self._norm(path)
        names = [(p[len(path) + 1:], 0x4000 if p in self.dirs else 0x8000)
                 for p in list(self.files) + list(self.dirs)
                 if p.startswith(path + "/") and "/" not in p[len(path) + 1:]]
        return iter([(n, t, 0, 0) for n, t in names])

    def listdir(self, path):
        return [e[0] for e in self.ilistdir(path)]

    def chdir(self, path):
        pass

    def getcwd(self):
        return "/"

    def statvfs(self, path):
        free = self.blocks - self.used_blocks()
        return (self.block_size, self.block_size, self.blocks, free, free, 0, 0, 0, 0, 255)


class FakeFile:
    def __init__(self, flash, path, mode):
        self.flash = flash
        self.path = path
        self.text = "b" not in mode
        self.writable = "w" in mode or "a" in mode
        self.pos = len(flash.files[path]) if "a" in mode else 0
        self.closed = False

    def _data(self):
        return self.flash.files[self.path]

    def read(self, n=-1):
        data = self._data()
        if n is None or n < 0:
            n = len(data) - self.pos
        self.flash.max_read = max(self.flash.max_read, n)
        out = bytes(data[self.pos:self.pos + n])
        self.pos += len(out)
        return out.decode() if self.text else out

    def readinto(self, buf):
        out = self.read(len(buf))
        buf[:len(out)] = out
        return len(out)

    def write(self, b):
        if not self.writable:
            raise OSError(9)  # EBADF
        if isinstance(b, str):
            b = b.encode()
        data = self._data()
        room = self.flash.free_bytes_for(self.path)
        grow = self.pos + len(b) - len(data)
        fits = len(b) if grow <= room else len(b) - (grow - room)
        fits = max(0, fits)
        data[self.pos:self.pos + fits] = b[:fits]
        self.pos += fits
        self.flash.writes += 1
        if self.flash.budget is not None:
            self.flash.budget -= max(0, min(fits, grow))
        if fits < len(b):
            raise OSError(ENOSPC)
        return len(b)

    def seek(self, pos, whence=0):
        if whence == 1:
            pos += self.pos
        elif whence == 2:
            pos += len(self._data())
        self.pos = pos
        return pos

    def tell(self):
        return self.pos

    def flush(self):
        pass

    def close(self):
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_routed = []  # CPython: (mount point, flash, saved functions)


def mount(flash, point="/flash"):
    """Make ``point`` the fake flash; returns the path to use as the firmware's root."""
    if _MP:
        os.mount(flash, point)
        return point
    import builtins
    import tempfile

    # A unique mount point that cannot collide with a real directory.
    point = tempfile.mkdtemp(prefix="vafa-flash-")
    saved = {"open": builtins.open, "remove": os.remove, "rename": os.rename,
             "mkdir": os.mkdir, "stat": os.stat, "rmdir": os.rmdir, "listdir": os.listdir,
             "statvfs": os.statvfs}
    _routed.append((point, flash, saved))

    def inside(p):
        p = str(p)
        return p == point or p.startswith(point + "/")

    def rel(p):
        return str(p)[len(point):] or "/"

    def route(name, fn):
        def call(p, *args, **kwargs):
            if inside(p):
                if name == "rename":
                    return flash.rename(rel(p), rel(args[0]))
                return getattr(flash, name)(rel(p), *args)
            return saved[name](p, *args, **kwargs)

        return call

    builtins.open = route("open", saved["open"])
    for name in ("remove", "rename", "mkdir", "stat", "rmdir", "listdir", "statvfs"):
        setattr(os, name, route(name, saved[name]))
    return point


def umount(point):
    if _MP:
        os.umount(point)
        return
    import builtins

    for i, (p, _, saved) in enumerate(_routed):
        if p == point:
            builtins.open = saved["open"]
            for name in ("remove", "rename", "mkdir", "stat", "rmdir", "listdir", "statvfs"):
                setattr(os, name, saved[name])
            del _routed[i]
            return


class FakeBoardClock:
    """The ESP32's clocks: ``ticks_ms()`` since power-on, wrapping at 2**30 like
    MicroPython's; an RTC without a battery: ``power_cut()`` restarts the ticks and sets
    the RTC to 2000-01-01 00:00, as the board comes back. ``advance(ms)`` lets time
    pass; ``settime(unix_s)`` is what machine.RTC().datetime() does for the firmware."""

    def __init__(self, unix_s=EPOCH_2000_S, ticks=0):
        self.ms = ticks
        self._rtc_ms = unix_s * 1000
        self.cuts = 0

    def ticks_ms(self):
        return self.ms & 0x3FFFFFFF

    def time(self):
        return self._rtc_ms // 1000

    def settime(self, unix_s):
        self._rtc_ms = unix_s * 1000

    def advance(self, ms):
        self.ms += ms
        self._rtc_ms += ms

    def power_cut(self):
        self.ms = 0
        self._rtc_ms = EPOCH_2000_S * 1000
        self.cuts += 1
