# Vafa terminal, ESP32 entry point (frozen or copied to the board's flash).
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

# The loop feeds the watchdog every LOOP_MS; only a hang (a socket that ignores its
# timeout, a driver stuck on the bus) lets it expire and reset the board. 30 s is above
# the worst bounded wait in a pass (socket timeout 5 s x connect + subscribe + publish).
WDT_MS = const(30000)
LOG_FILE = "error.log"
LOG_MAX = const(8192)


def log(msg):
    print("[vafa]", msg)


def log_exception(e):
    sys.print_exception(e)
    try:
        import os

        try:
            if os.stat(LOG_FILE)[6] > LOG_MAX:
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


def sync_clock():
    try:
        import ntptime

        ntptime.settime()
    except Exception as e:
        log("ntp failed: %r" % (e,))


def mqtt_factory(cfg):
    from umqtt.simple import MQTTClient

    m = cfg["mqtt"]
    ssl_ctx = None
    if m["tls"]:
        import ssl

        ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            ssl_ctx.load_verify_locations(cafile="ca.pem")
            ssl_ctx.verify_mode = ssl.CERT_REQUIRED
        except OSError:
            ssl_ctx.verify_mode = ssl.CERT_NONE
            log("no ca.pem: broker certificate NOT verified")

    def make():
        return MQTTClient(cfg["device_id"], m["host"], port=m["port"], user=m["user"],
                          password=m["password"], keepalive=m["keepalive_s"], ssl=ssl_ctx)

    return make


def on_loop_error(loop, context):
    log_exception(context.get("exception") or RuntimeError(context.get("message")))
    machine.reset()


async def main():
    from vafa.hw import esp32

    cfg = vconfig.load("config.json")
    wdt = machine.WDT(timeout=WDT_MS)
    asyncio.get_event_loop().set_exception_handler(on_loop_error)
    hw = esp32.build(cfg["pins"])
    hw.display.show([cfg["club_name"], "", "Starting..."])
    wlan = wifi_up(cfg)
    synced = False
    net = Session(mqtt_factory(cfg), cfg["device_id"], keepalive_s=cfg["mqtt"]["keepalive_s"],
                  time_fn=time.time, link_ok=wlan.isconnected, log=log)
    journal = Journal("/data")
    app = App(cfg, hw, net, Store("/data"), log=log, journal=journal,
              config_loader=lambda: vconfig.load("config.json"))
    app.on_reboot = machine.reset

    def feed():
        nonlocal synced
        wdt.feed()
        if not synced and wlan.isconnected():
            synced = True
            sync_clock()

    try:
        await app.run(feed=feed)
    finally:
        net.close()
        hw.deinit()


try:
    asyncio.run(main())
except Exception as e:
    log_exception(e)
    time.sleep(2)
    machine.reset()
