"""cmd topic through the real broker: the backend's MQTT user publishes signed commands,
the simulator's firmware shows, reloads or reboots; a forged one is ignored."""

import json

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import simulator  # noqa: F401  (firmware on sys.path)
from backend import protocol
from simulator.terminal import SimTerminal


def publish(stack, device_id, payload):
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-cmd", clean_session=True)
    c.username_pw_set(stack.app.config["MQTT_USERNAME"], stack.app.config["MQTT_PASSWORD"])
    c.connect("127.0.0.1", stack.broker.backend_port)
    c.loop_start()
    try:
        c.publish(protocol.topic(device_id, "cmd"), payload, qos=1).wait_for_publish(5)
    finally:
        c.disconnect()
        c.loop_stop()


def test_display_config_reboot_and_forged_commands(stack):
    cfg_path = stack.instance_dir / "devices" / "t01" / "config.json"
    key = bytes.fromhex(json.loads(cfg_path.read_text())["key_hex"])
    term = SimTerminal(cfg_path)
    try:
        assert term.connect(10)
        term.run_for(0.2)  # SUBACK
        signed = protocol.encode_frame(b'{"op":"display","text":"Shop closes\\nat 21:00"}', key)
        publish(stack, "t01", signed)
        assert term.run_until(lambda: term.hw.display.lines == ["Shop closes", "at 21:00"], 5)

        forged = b'{"op":"reboot"}\n' + b"0" * 64
        publish(stack, "t01", forged)
        assert term.run_until(lambda: term.app.security_events == 1, 5)
        assert term.boots == 1

        cfg = json.loads(cfg_path.read_text())
        cfg["club_name"] = "Renamed Club"
        cfg_path.write_text(json.dumps(cfg))
        publish(stack, "t01", protocol.encode_frame(b'{"op":"config"}', key))
        assert term.run_until(lambda: term.app.club_name == "Renamed Club", 5)

        publish(stack, "t01", protocol.encode_frame(b'{"op":"reboot"}', key))
        assert term.run_until(lambda: term.boots == 2, 5)
        assert term.connect(10)  # the rebooted firmware connects and subscribes again
        term.run_for(0.2)
        publish(stack, "t01", protocol.encode_frame(b'{"op":"display","text":"Back"}', key))
        assert term.run_until(lambda: term.hw.display.lines == ["Back"], 5)
    finally:
        term.close()


def test_a_persian_message_from_the_backend_shows_on_the_terminals_screen(stack):
    """The panel's message service builds it, the broker carries it, the firmware draws it
    with its own font into the screen's pixels, and Tesseract reads it back."""
    from datetime import UTC, datetime

    from PIL import Image, ImageFilter

    from backend.extensions import db
    from backend.services import terminal_commands
    from tests.support import ocr

    ocr.require_languages("fas")
    cfg_path = stack.instance_dir / "devices" / "t01" / "config.json"
    term = SimTerminal(cfg_path)
    try:
        assert term.connect(10)
        term.run_for(0.2)  # SUBACK
        with stack.app.app_context():
            command = terminal_commands.build_command(db.session, "t01", "display",
                                                      "خوش آمدید\nفروشگاه باز است",
                                                      datetime.now(UTC))
        publish(stack, "t01", command.frame)
        assert term.run_until(
            lambda: term.hw.display.lines == ["خوش آمدید", "فروشگاه باز است"], 5)
        row = term.hw.display.image().crop((0, 0, 128, 16)).convert("L")
        assert row.getbbox() is not None  # the pixels, not only the lines, hold it
        big = row.resize((512, 64), Image.Resampling.NEAREST).filter(ImageFilter.GaussianBlur(1))
        read = ocr.read_text(big, lang="fas", psm=13, scale=1.0)
        assert ocr.similarity(read, "خوش آمدید") >= 0.7, read
    finally:
        term.close()
