"""The MicroPython releases the terminal supports (1.22 through 1.29) and what an image for
one of them must respect: the modules its ESP32 build has built in or frozen, and the
`.mpy` format it loads.

The module lists (`micropython_modules.json`) come from the release's
`micropython-esp32-stubs` (top-level stubs are the build's own and frozen modules; the
stdlib ones it has are in CORE_MODULES); tests/firmware/test_typecheck.py installs the
stubs of every release and checks the file against them. Regenerate it with
`python -m provisioning.releases STUBS_DIR...` (each a `pip install --target` folder named
after its release).

`.mpy` versions from MicroPython's docs/reference/mpyfiles.rst: 6.2 for v1.22.x, 6.3 from
v1.23.0 on. A bytecode-only file (arch 0, which mpy-cross writes by default) carries no
sub-version and loads on any release of the same major version; a file with native code
must match the sub-version exactly.
"""

import ast
import json
import sys
from pathlib import Path

RELEASES = {"1.22": (6, 2), "1.23": (6, 3), "1.24": (6, 3), "1.25": (6, 3), "1.26": (6, 3),
            "1.27": (6, 3), "1.28": (6, 3), "1.29": (6, 3)}
DEFAULT_RELEASE = "1.24"
MODULES_FILE = Path(__file__).with_name("micropython_modules.json")
# Built into every ESP32 build in the range (C modules), stubbed under stdlib/ by newer
# stub releases instead of at the top level.
CORE_MODULES = ("array", "asyncio", "builtins", "collections", "io", "json", "os", "re",
                "ssl", "struct", "sys")
_NOT_MODULES = {"stdlib", "stubs", "_mpy_shed", "__builtins__"}


class ReleaseError(ValueError):
    pass


def release_of(text: str) -> str:
    """"1.24", "v1.24.1" or "1.24.1" → "1.24"; anything outside the range is refused."""
    parts = text.strip().lstrip("v").split(".")
    release = ".".join(parts[:2])
    if release not in RELEASES:
        raise ReleaseError(f"MicroPython {text} is not supported (supported: "
                           f"{', '.join(RELEASES)})")
    return release


def modules_from_stubs(stub_dir: Path) -> list[str]:
    """Top-level module names a release's stub folder documents (its build's modules)."""
    names = set()
    for path in stub_dir.iterdir():
        name = path.name.removesuffix(".pyi") if path.is_file() else path.name
        if path.name.endswith((".dist-info", ".md", ".toml")) or name in _NOT_MODULES:
            continue
        names.add(name)
    stdlib = stub_dir / "stdlib"
    for name in CORE_MODULES:
        if (stdlib / f"{name}.pyi").exists() or (stdlib / name).is_dir() or name in names:
            names.add(name)
    return sorted(names)


def builtin_modules(release: str) -> set[str]:
    return set(json.loads(MODULES_FILE.read_text())[release_of(release)])


def imports_of(source: str) -> set[str]:
    """Top-level module names a file imports (relative imports are the package's own)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def missing_modules(firmware_dir: Path, release: str, provided: set[str]) -> dict[str, str]:
    """Modules the firmware imports that neither the release nor `provided` (the image's
    own top-level modules) has: module → first importing file. Imports inside a `try`
    with an `except ImportError` are CPython fallbacks and skipped."""
    builtin = builtin_modules(release)
    missing = {}
    for path in sorted(firmware_dir.rglob("*.py")):
        if path.name == "manifest.py":
            continue
        tree = ast.parse(path.read_text())
        optional = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                    isinstance(h.type, ast.Name) and h.type.id == "ImportError"
                    for h in node.handlers):
                for inner in node.body:
                    optional |= imports_of(ast.unparse(inner)) if isinstance(
                        inner, ast.Import | ast.ImportFrom) else set()
        for name in sorted(imports_of(path.read_text()) - optional):
            if name not in builtin and name not in provided and name not in missing:
                missing[name] = path.relative_to(firmware_dir).as_posix()
    return missing


def mpy_problem(data: bytes, release: str) -> str | None:
    """Why an .mpy file would not load on `release`, or None. Header: 'M', version,
    flags (arch << 2 | sub-version), small-int bits."""
    major, minor = RELEASES[release_of(release)]
    if len(data) < 4 or data[:1] != b"M":
        return "not an .mpy file"
    if data[1] != major:
        return f".mpy version {data[1]}, MicroPython {release} loads version {major}"
    arch, sub_version = data[2] >> 2, data[2] & 3
    if arch and sub_version != minor:
        return (f"native .mpy version {major}.{sub_version}, MicroPython {release} "
                f"needs {major}.{minor}")
    return None


def main(stub_dirs: list[str]) -> None:
    table = json.loads(MODULES_FILE.read_text()) if MODULES_FILE.exists() else {}
    for name in stub_dirs:
        path = Path(name)
        table[release_of(path.name)] = modules_from_stubs(path)
    MODULES_FILE.write_text(json.dumps(dict(sorted(table.items())), indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
