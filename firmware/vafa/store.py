# Tiny flash store: a persistent, strictly increasing request sequence number, and the
# terminal's last sales (for "refund last", T7). Every value is replaced by
# write-temp-then-rename so a power cut leaves the old or the new value.
# Works on MicroPython (littlefs/FAT) and CPython.
#
# seq never goes below a floor: the config's seq_floor (the backend's last accepted seq
# for this device, written at enrolment, so a reflashed board does not reuse ids) and
# any last_seq a REPLAY / ID_REUSED answer names (raise_floor()).
import json
import os

from micropython import const

_MAX_SALES = const(16)  # sales kept for "refund last", newest last
SALES_NAME = "sales.json"
_MAX_SALES_BYTES = const(4096)  # 16 sales are about 1.7 KB; a bigger file is not ours


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read(24).strip())
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
    """Replace ``path`` with ``text``. On OSError (e.g. 28, flash full) the old file is
    untouched and no temp file is left behind."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
        replace_file(tmp, path)
    except OSError:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


class Store:
    def __init__(self, root=".", seq_floor=0):
        root = root.rstrip("/") or "/"
        self.root = root
        try:
            os.mkdir(root)
        except OSError:
            pass  # exists
        self._seq_path = self._path("seq")
        self._tmp_path = self._path("seq.tmp")
        self._sales_path = self._path(SALES_NAME)
        self._seq = None
        self.seq_floor = seq_floor if isinstance(seq_floor, int) and seq_floor > 0 else 0

    def _path(self, name):
        return self.root + "/" + name if self.root != "/" else "/" + name

    def last_seq(self):
        if self._seq is None:
            a = _read_int(self._seq_path) or 0
            # A crash between writing the temp file and the rename leaves the new value
            # in the temp file; it may or may not have been used, so take the larger one.
            b = _read_int(self._tmp_path) or 0
            self._seq = a if a > b else b
        return self._seq if self._seq > self.seq_floor else self.seq_floor

    def next_seq(self):
        """Reserve and persist the next seq; returns it only once it is on flash.
        Raises OSError when it cannot be written (flash full): no seq is used then."""
        n = self.last_seq() + 1
        write_atomic(self._seq_path, str(n))
        self._seq = n
        return n

    def raise_floor(self, last_seq):
        """The backend says it accepted seqs up to ``last_seq``: never issue those again.
        True when the floor moved (persisted as the seq, so it survives a reboot; if
        the write fails it still holds in RAM for this boot)."""
        if not isinstance(last_seq, int) or isinstance(last_seq, bool) \
                or last_seq <= self.last_seq():
            return False
        self.seq_floor = last_seq
        try:
            write_atomic(self._seq_path, str(last_seq))
            self._seq = last_seq
        except OSError:
            pass
        return True

    # ---- sales for "refund last" ----------------------------------------------------
    def sales(self):
        """[{"id", "card", "amount", "ts", "clk", "boot", "up"}] of the last _MAX_SALES
        sales, oldest first (journaled ones included)."""
        try:
            with open(self._sales_path) as f:
                d = json.loads(f.read(_MAX_SALES_BYTES))
        except (OSError, ValueError):
            d = None
        if not isinstance(d, list):
            return []
        return [s for s in d if isinstance(s, dict) and isinstance(s.get("id"), str)
                and isinstance(s.get("card"), str)][-_MAX_SALES:]

    def _write_sales(self, sales):
        write_atomic(self._sales_path, json.dumps(sales[-_MAX_SALES:]))

    def add_sale(self, request_id, card, amount, ts, clk, boot, up_ms):
        """Remember a sale (online or journaled) for "refund last". Raises OSError."""
        sales = [s for s in self.sales() if s["id"] != request_id]
        sales.append({"id": request_id, "card": card, "amount": int(amount), "ts": int(ts),
                      "clk": 1 if clk else 0, "boot": boot, "up": int(up_ms)})
        self._write_sales(sales)

    def last_sale_of(self, card):
        """The newest remembered sale of ``card``, or None."""
        for s in reversed(self.sales()):
            if s["card"] == card:
                return s
        return None

    def rename_sale(self, old_id, new_id):
        """A journaled sale was re-issued under a new id."""
        sales = self.sales()
        for s in sales:
            if s["id"] == old_id:
                s["id"] = new_id
                self._write_sales(sales)
                return True
        return False

    def remove_sale(self, request_id):
        sales = self.sales()
        keep = [s for s in sales if s["id"] != request_id]
        if len(keep) != len(sales):
            self._write_sales(keep)
