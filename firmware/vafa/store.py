# Tiny flash store: a persistent, strictly increasing request sequence number, and the
# terminal's last successful purchase (for "refund last", T7). Every value is replaced
# by write-temp-then-rename so a power cut leaves the old or the new value.
# Works on MicroPython (littlefs/FAT) and CPython.
import json
import os


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def replace_file(tmp, dst):
    """Rename ``tmp`` over ``dst``; FAT cannot rename over an existing file."""
    try:
        os.rename(tmp, dst)
    except OSError:
        try:
            os.remove(dst)
        except OSError:
            pass
        os.rename(tmp, dst)


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
    replace_file(tmp, path)


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
        self._last_path = self._path("last.json")
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
        write_atomic(self._seq_path, str(n))
        self._seq = n
        return n

    def last_purchase(self):
        """{"id", "card", "amount"} of the last successful purchase, or None."""
        try:
            with open(self._last_path) as f:
                d = json.loads(f.read())
        except (OSError, ValueError):
            return None
        if not isinstance(d, dict) or not isinstance(d.get("id"), str) \
                or not isinstance(d.get("card"), str):
            return None
        return d

    def set_last_purchase(self, request_id, card, amount):
        write_atomic(self._last_path, json.dumps(
            {"id": request_id, "card": card, "amount": int(amount)}))

    def clear_last_purchase(self):
        try:
            os.remove(self._last_path)
        except OSError:
            pass
