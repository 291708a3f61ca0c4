# The terminal's TLS policy, one place for MQTT (main.py) and enrolment (vafa.http):
# the peer's certificate is verified against ca.pem in the filesystem root (installed by
# provisioning); without it TLS is refused, unless the config says "insecure" (a
# development setting, shown on the idle screen as "INSECURE TLS").
#
# API checked against MicroPython v1.22.0 (C ssl module: SSLContext(PROTOCOL_TLS_CLIENT)
# defaults to CERT_NONE, load_verify_locations(cafile=None, *, cadata=None)) and
# v1.23.0+ (micropython-lib ssl.py over the C tls module: the constructor sets CERT_NONE,
# load_verify_locations(cafile=None, cadata=None)): so verify_mode is always set
# explicitly, and the CA goes in as cadata= (a PEM str, which CPython accepts too).
# CERT_REQUIRED needs server_hostname at wrap_socket (ValueError otherwise, all releases).
CA_FILE = "ca.pem"


class TlsRefused(OSError):
    pass


def read_ca(path=CA_FILE):
    """The PEM text of ``path``, or None when there is none (or it is empty/unreadable)."""
    try:
        with open(path) as f:
            pem = f.read()
    except OSError:
        return None
    return pem if "-----BEGIN CERTIFICATE-----" in pem else None


def context(insecure=False, ca_file=CA_FILE, ssl_mod=None):
    """An SSLContext for a client: verifying against ``ca_file``; without one, CERT_NONE
    if ``insecure`` else TlsRefused."""
    if ssl_mod is None:
        import ssl as ssl_mod
    ctx = ssl_mod.SSLContext(ssl_mod.PROTOCOL_TLS_CLIENT)
    pem = read_ca(ca_file)
    if pem is not None:
        ctx.load_verify_locations(cadata=pem)
        _set(ctx, "verify_mode", ssl_mod.CERT_REQUIRED)
        return ctx
    if not insecure:
        raise TlsRefused("no %s: refusing an unverified TLS connection" % ca_file)
    if hasattr(ctx, "check_hostname"):
        _set(ctx, "check_hostname", False)  # CPython: must go before CERT_NONE
    _set(ctx, "verify_mode", ssl_mod.CERT_NONE)
    return ctx


def _set(ctx, name, value):
    # setattr: the 1.22 stubs omit SSLContext.verify_mode, which the 1.22 C module has
    # (extmod/modssl_mbedtls.c, ssl_context_attr); check_hostname is CPython's only.
    setattr(ctx, name, value)
