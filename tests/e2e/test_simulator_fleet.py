"""Issue 16 end to end, through the real broker, worker and panel: the simulator's
firmware reports its health on the state topic and the terminal page shows it with its
warnings; a config changed in the panel reaches the terminal by a signed cmd, is applied,
written to its config.json and confirmed; its logs are fetched from the panel; reflashed
(a fresh config.json), it gets the panel's config again without anyone pressing a
button."""

import json

import simulator  # noqa: F401  (firmware on sys.path)
from backend.extensions import db
from backend.models import TerminalHealth
from simulator.terminal import SimTerminal
from tests import factories
from tests.conftest import AuthActions


def health(stack):
    with stack.app.app_context():
        row = db.session.get(TerminalHealth, "t01")
        result = None if row is None else {
            "reported": row.reported_at, "heap": row.free_heap, "applied": row.applied_version,
            "logs": row.log_lines}
        db.session.remove()
        return result


def test_health_config_and_logs_from_the_panel(stack):
    with stack.app.app_context():
        factories.staff_user(db.session, username="fleet-admin")
        db.session.commit()
    client = stack.app.test_client()
    assert AuthActions(client).login("fleet-admin").status_code == 302
    cfg_path = stack.instance_dir / "devices" / "t01" / "config.json"
    provisioned = cfg_path.read_text()
    term = SimTerminal(cfg_path)
    try:
        assert term.connect(10)
        # The state published on connect carries the health fields.
        assert term.run_until(lambda: (health(stack) or {}).get("heap") == 92_000, 10)
        page = client.get("/terminals/t01").get_data(as_text=True)
        table = page.split('id="terminal-health"')[1].split("</section>")[0]
        assert "۸۹ KB" in table and "dBm" in table and "تنظیم است" in table
        assert 'data-warning="none"' in table

        # A change on the board shows as a warning: the paper runs out.
        term.hw.printer.paper_ok = lambda now_ms=None: False
        term.app.on_key("C")  # any pass of the loop: the change goes out
        assert term.run_until(lambda: 'data-warning="paper"' in client.get(
            "/terminals/t01").get_data(as_text=True), 10)
        row = client.get("/terminals").get_data(as_text=True).split('data-device="t01"')[1]
        assert "کاغذ تمام شده" in row.split("</tr>")[0]

        # Remote config: saved in the panel, sent signed, applied, persisted, confirmed.
        response = client.post("/terminals/t01/config", data={
            "lang": "en", "contrast": "۹۰", "footer": "Thanks for shopping", "idle_s": "۲۰",
            "ops": ["purchase", "lookup"]})
        assert response.status_code == 302
        assert term.run_until(lambda: (health(stack) or {}).get("applied") == 1, 10)
        assert term.app.idle_ms == 20_000 and "refund" not in term.app.ops
        on_flash = json.loads(cfg_path.read_text())
        assert (on_flash["cfg_ver"], on_flash["footer"], on_flash["contrast"]) == (
            1, "Thanks for shopping", 90)
        page = client.get("/terminals/t01").get_data(as_text=True)
        assert "اعمال شد" in page.split('id="config-state"')[1].split("</p>")[0]
        term.app.on_key("R")  # refunds are off now
        assert term.hw.display.lines[0] == "Not on this"

        # Remote logs: asked from the panel, sent back by the terminal, shown.
        assert client.post("/terminals/t01/logs").status_code == 302
        assert term.run_until(lambda: (health(stack) or {}).get("logs"), 10)
        page = client.get("/terminals/t01").get_data(as_text=True)
        logs = page.split('id="log-lines"')[1].split("</pre>")[0]
        assert "mqtt connected" in logs and "config 1 applied" in logs
        assert "not allowed on this terminal" in logs

        # Reflashed: the provisioned config.json again (cfg_ver 0). Its state says 0, the
        # worker re-sends version 1 by itself, and the terminal applies it.
        term.close()
        cfg_path.write_text(provisioned)
        term = SimTerminal(cfg_path)
        assert term.app.cfg_ver == 0 and term.app.idle_ms != 20_000
        assert term.connect(10)
        assert term.run_until(lambda: term.app.cfg_ver == 1, 15)
        assert term.app.idle_ms == 20_000 and "refund" not in term.app.ops
        assert json.loads(cfg_path.read_text())["footer"] == "Thanks for shopping"
        assert term.run_until(lambda: (health(stack) or {}).get("applied") == 1, 10)
        page = client.get("/terminals/t01").get_data(as_text=True)
        config = page.split('id="config-state"')[1].split("</p>")[0]
        assert "اعمال شد" in config and "پس از فلش دوباره، خودکار دوباره ارسال شد" in config
    finally:
        term.close()
