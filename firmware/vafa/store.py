# Tiny flash store: a persistent, strictly increasing request sequence number.
# Works on MicroPython (littlefs/FAT) and CPython.
import os


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


class Store:
    def __init__(self, root="."):
        root = root.rstrip("/") or "/"
        self.root = root
        try:
            os.mkdir(root)
        except OSError:
            pass  # exists
        self._seq_path = self._path("seq")
        self._tmp_path = self._path("seq.tmp")
        self._seq = None

    def _path(self, name):
        return self.root + "/" + name if self.root != "/" else "/" + name

    def last_seq(self):
        if self._seq is None:
            a = _read_int(self._seq_path) or 0
            # A crash between writing the temp file and the rename leaves the new value
            # in the temp file; it may or may not have been used, so take the larger one.
            b = _read_int(self._tmp_path) or 0
            self._seq = a if a > b else b
        return self._seq

    def next_seq(self):
        """Reserve and persist the next seq; returns it only once it is on flash."""
        n = self.last_seq() + 1
        with open(self._tmp_path, "w") as f:
            f.write(str(n))
        try:
            os.rename(self._tmp_path, self._seq_path)
        except OSError:
            # FAT cannot rename over an existing file; the temp file still holds n.
            try:
                os.remove(self._seq_path)
            except OSError:
                pass
            os.rename(self._tmp_path, self._seq_path)
        self._seq = n
        return n
