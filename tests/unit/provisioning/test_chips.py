"""docs/hardware.md's pin tables are firmware/vafa/pins.py's maps, cell for cell."""

import re
from pathlib import Path

from provisioning import chips as pins

DOC = Path(__file__).resolve().parents[3] / "docs" / "hardware.md"


def doc_maps() -> dict[str, dict]:
    maps, chip = {}, None
    for line in DOC.read_text().splitlines():
        heading = re.match(r"### `(\w+)`", line)
        if heading:
            chip = heading.group(1)
            maps[chip] = {}
            continue
        row = re.match(r"\| [^|]+ \| [^|]+ \| `(\w+)(?:\[(\d)\])?` \| ([^|]+) \|$", line)
        if chip is None or row is None:
            continue
        field, index, cell = row.group(1), row.group(2), row.group(3).strip()
        value = None if cell == "not wired" else int(re.fullmatch(r"(?:UART|GPIO)(\d+)",
                                                                  cell).group(1))
        if index is None:
            maps[chip][field] = value
        else:
            maps[chip].setdefault(field, [None] * 4)[int(index)] = value
    return maps


def test_the_docs_tables_are_the_pin_maps():
    assert doc_maps() == pins.MAPS


def test_the_docs_name_every_pin_the_validation_refuses():
    text = DOC.read_text()
    for chip, facts in pins.CHIP_FACTS.items():
        section = text.split(f"### `{chip}`")[1].split("###")[0]
        groups = re.findall(r"GPIO((?:\d+/)*\d+)", section.split("Never wired")[1])
        listed = {int(pin) for group in groups for pin in group.split("/")}
        assert set(facts["reserved"]) | set(facts["input_only"]) <= listed, chip


def test_every_map_is_valid_for_its_chip_only():
    for chip in pins.CHIPS:
        assert pins.problems(pins.MAPS[chip], chip) == []
        for other in set(pins.CHIPS) - {chip}:
            assert pins.problems(pins.MAPS[chip], other), (chip, other)
