# Vafa terminal, the ESP32 entry: main.py (the loader) imports this module from the active
# build and calls run(). Updatable over the air, unlike main.py.
import asyncio
import sys
import time

import machine
from micropython import const

from vafa import config as vconfig
from vafa.app import App
from vafa.journal import Journal
from vafa.net import Session
from vafa.store import Store

# The loop feeds the watchdog every LOOP_MS; only a hang (a driver stuck on the bus) lets
# it expire and reset the board. 30 s is above the longest call in a pass: a DNS lookup
# (lwIP gives up after about 7 s per DNS server, 21 s with three; docs/terminal.md),
# done rarely. Every socket is non-blocking (vafa.mqtt).
_WDT_MS = const(30000)
LOG_FILE = "error.log"
_LOG_MAX = const(8192)
CONFIG_FILE = "config.json"
_WIFI_JOIN_MS = const(20000)  # setup mode's wait for the shop's Wi-Fi, under _WDT_MS
_SETUP_HOLD_MS = const(1500)  # C (clear) held at power-on within this forces setup mode


def log(msg):
    print("[vafa]", msg)


def log_exception(e):
    sys.print_exception(e)
    try:
        import os

        try:
            if os.stat(LOG_FILE)[6] > _LOG_MAX:
                os.remove(LOG_FILE)
        except OSError:
            pass
        with open(LOG_FILE, "a") as f:
            f.write("%d " % time.time())
            sys.print_exception(e, f)
    except Exception:
        pass


def wifi_up(cfg):
    import network

    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if cfg["wifi"]["ssid"] and not wlan.isconnected():
        wlan.connect(cfg["wifi"]["ssid"], cfg["wifi"]["password"])  # returns at once
    return wlan


def set_rtc(unix_s):
    # The RTC keeps the time for log lines and across a soft reset (not a power cut).
    tm = time.gmtime(unix_s - 946684800 if time.gmtime(0)[0] == 2000 else unix_s)
    machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6] + 1, tm[3], tm[4], tm[5], 0))


def mqtt_factory(cfg):
    """A factory of vafa.mqtt.Client for the Session, and the note for the idle screen
    (None, or why TLS is not as it should be)."""
    from vafa.mqtt import Client, Sockets

    m = cfg["mqtt"]
    tls_ctx = None
    note = ""
    refused = None
    if m["tls"]:
        from vafa import tlsconf

        try:
            tls_ctx = tlsconf.context(insecure=m["insecure"])
        except tlsconf.TlsRefused as e:
            refused = e
            note = "NO CA.PEM"
            log("%s: MQTT stays offline" % (e,))
        else:
            if m["insecure"] and tlsconf.read_ca() is None:
                log("INSECURE: no ca.pem, broker certificate NOT verified (development only)")
    sockets = Sockets()  # one for the session: it caches the broker's address

    def make():
        if refused is not None:
            raise refused
        return Client(cfg["device_id"], m["host"], m["port"], user=m["user"],
                      password=m["password"], keepalive_s=m["keepalive_s"], tls=tls_ctx,
                      sockets=sockets)

    return make, note


def wifi_join(ssid, password, feed):
    """Join ``ssid`` and wait (bounded) until connected; True when it worked."""
    import network

    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    wlan.connect(ssid, password)
    deadline = time.ticks_add(time.ticks_ms(), _WIFI_JOIN_MS)
    while not wlan.isconnected():
        if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
            wlan.disconnect()
            return False
        feed()
        time.sleep_ms(100)
    return True


def setup_requested(keypad):
    """True when C (clear) is down within _SETUP_HOLD_MS of power-on: a technician holds
    it while plugging in to re-enrol the terminal."""
    deadline = time.ticks_add(time.ticks_ms(), _SETUP_HOLD_MS)
    while time.ticks_diff(deadline, time.ticks_ms()) > 0:
        if keypad.get_key() == "C":
            return True
        time.sleep_ms(20)
    return False


async def setup_mode(hw, wdt):
    """Scan the provisioning QR code until enrolled, then reboot into normal mode."""
    from vafa import enrol
    from vafa.http import post_json

    setup = enrol.Setup(hw, lambda ssid, pw: wifi_join(ssid, pw, wdt.feed), post_json,
                        CONFIG_FILE, pins=enrol.local_pins(CONFIG_FILE), log=log)
    setup.start()
    while setup.enrolled is None:
        setup.step()
        wdt.feed()
        await asyncio.sleep_ms(20)
    await asyncio.sleep_ms(2000)  # let the technician read "Enrolled <id>"
    machine.reset()


def on_loop_error(loop, context):
    log_exception(context.get("exception") or RuntimeError(context.get("message")))
    machine.reset()


async def main():
    from vafa.hw import esp32

    try:
        cfg = vconfig.load(CONFIG_FILE)
    except vconfig.ConfigError as e:
        log("no usable config (%s): setup mode" % (e,))
        cfg = None
    wdt = machine.WDT(timeout=_WDT_MS)
    asyncio.get_event_loop().set_exception_handler(on_loop_error)
    if cfg is None:
        # Setup mode's modules (enrol, http: about 7 KB of heap) load only when needed.
        from vafa import enrol

        pins = dict(vconfig.DEFAULT_PINS)
        pins.update(enrol.local_pins(CONFIG_FILE) or {})
        hw = esp32.build(pins, max_code=enrol.MAX_QR)
        try:
            await setup_mode(hw, wdt)
        finally:
            hw.deinit()
        return
    hw = esp32.build(cfg["pins"])
    if setup_requested(hw.keypad):
        from vafa import enrol

        hw.deinit()
        hw = esp32.build(cfg["pins"], max_code=enrol.MAX_QR)
        try:
            await setup_mode(hw, wdt)
        finally:
            hw.deinit()
        return
    hw.display.show([cfg["club_name"], "", "Starting..."])
    wlan = wifi_up(cfg)
    from vafa.clock import Clock
    from vafa.ntp import Sntp

    # Unsynced until NTP or a verified response says the time (no battery clock).
    clock = Clock(set_fn=set_rtc, log=log)
    sntp = Sntp(clock, cfg["ntp_host"], link_ok=wlan.isconnected, log=log,
                dns_server=lambda: wlan.ifconfig()[3])
    make_client, note = mqtt_factory(cfg)
    net = Session(make_client, cfg["device_id"], keepalive_s=cfg["mqtt"]["keepalive_s"],
                  time_fn=time.time, link_ok=wlan.isconnected, log=log)
    net.note = note
    journal = Journal("/data")
    app = App(cfg, hw, net, Store("/data"), log=log, journal=journal,
              config_loader=lambda: vconfig.load(CONFIG_FILE), clock=clock,
              on_reboot=machine.reset)
    # No connection attempt (DNS, TLS handshake: the steps that can take long) starts
    # while the cashier is typing a sale.
    net.busy = app.typing
    # Issue 16: health figures, remote config written back to config.json, and the
    # session's log lines in the app's ring (cmd "logs") as well as on the console.
    from vafa.probe import Probe

    setattr(hw, "probe", Probe(wlan))
    app.set_config_saver(lambda c: vconfig.save(c, CONFIG_FILE))
    net._log = app._say

    def feed():
        wdt.feed()
        sntp.poll(time.ticks_ms())  # never waits: one UDP datagram at a time

    try:
        await app.run(feed=feed)
    finally:
        sntp.close()
        net.close()
        hw.deinit()


def run():
    """Run the terminal until an error; the loader logs it (and reverts a trial build)."""
    asyncio.run(main())
