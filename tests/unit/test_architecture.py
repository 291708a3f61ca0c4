"""The shape docs/architecture.md claims, checked against the code's own imports.

Every import is read — module level and function local, since a local import hides a
reverse edge just as well — and the rules are: no import cycles in any of our packages or
in the firmware; layers import downwards only; no library module imports a CLI; views and
the MQTT worker never commit; and the map of the tree in docs/architecture.md names every
folder there is.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("backend", "simulator", "provisioning", "bench", "card_spec")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(root: Path, top: str) -> dict[str, Path]:
    return {_module_name(path, root): path for path in (root / top).rglob("*.py")
            if "migrations" not in path.parts or path.name == "__init__.py"}


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """The modules of `known` that `path` imports (each `from a import b` counts as a.b
    when a.b is a module of ours, else as a)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def _graph(root: Path, tops: tuple[str, ...]) -> dict[str, set[str]]:
    sources: dict[str, Path] = {}
    for top in tops:
        sources.update(_sources(root, top))
    known = set(sources)
    graph = {name: _imports(path, name, known) for name, path in sources.items()}
    # A package's __init__ importing its own submodules is how a package exposes them; a
    # submodule importing its package's __init__ for a name is the same edge backwards.
    # Both are real edges here: the cycle they make is the one we forbid.
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def _without_package_faces(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Drop the edge from a package's __init__ to its own submodules when the __init__
    only re-exports (the submodule importing a sibling through the package is then the
    edge that counts)."""
    return {name: {target for target in targets if not target.startswith(name + ".")}
            for name, targets in graph.items()}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return _graph(ROOT, PACKAGES)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_our_packages(graph):
    assert _cycles(_without_package_faces(graph)) == []


def test_no_import_cycles_in_the_firmware():
    firmware = _graph(ROOT / "firmware", ("vafa",))
    assert _cycles(_without_package_faces(firmware)) == []


LAYER_RULES = [
    # (importer prefix, forbidden prefixes)
    ("backend.engine", ("backend.models", "backend.services", "backend.ledger", "backend.web",
                        "backend.mqtt", "backend.jobs", "backend.notifications",
                        "backend.database", "backend.extensions")),
    ("backend.models", ("backend.services", "backend.web", "backend.mqtt", "backend.jobs",
                        "backend.notifications", "backend.ledger")),
    ("backend.ledger", ("backend.services", "backend.web", "backend.mqtt", "backend.jobs")),
    ("backend.notifications", ("backend.services", "backend.web", "backend.mqtt",
                               "backend.jobs")),
    ("backend.services", ("backend.web", "backend.mqtt", "backend.jobs", "backend.cli")),
    ("backend.jobs", ("backend.web", "backend.mqtt", "backend.cli")),
    ("backend.mqtt", ("backend.web", "backend.cli")),
    # The panel sends signed commands through the publisher adapter; it never runs the worker.
    ("backend.web", ("backend.mqtt.worker", "backend.jobs", "backend.cli")),
    ("card_spec", ("backend", "simulator", "provisioning")),
]


@pytest.mark.parametrize(("importer", "forbidden"), LAYER_RULES,
                         ids=[rule[0] for rule in LAYER_RULES])
def test_layers_import_downwards(graph, importer, forbidden):
    wrong = sorted(f"{name} -> {target}" for name, targets in graph.items()
                   if name == importer or name.startswith(importer + ".")
                   for target in targets
                   if any(target == bad or target.startswith(bad + ".") for bad in forbidden))
    assert wrong == []


def test_libraries_never_import_a_cli(graph):
    def is_cli(name: str) -> bool:
        return name.rpartition(".")[2] in ("cli", "__main__", "card_commands")

    wrong = sorted(f"{name} -> {target}" for name, targets in graph.items()
                   if not is_cli(name) and name not in ("backend",)
                   for target in targets if is_cli(target))
    assert wrong == []


def _calls(path: Path, attributes: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.relative_to(ROOT)}:{node.lineno} .{node.func.attr}()"
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in attributes]


def test_views_never_commit_or_roll_back():
    found = [call for path in sorted((ROOT / "backend" / "web").rglob("*.py"))
             for call in _calls(path, {"commit", "rollback", "note"})]
    assert found == []


def test_the_worker_never_commits():
    found = [call for path in sorted((ROOT / "backend" / "mqtt").rglob("*.py"))
             for call in _calls(path, {"commit"})]
    assert found == []


def test_the_map_names_every_folder():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = re.search(r"^## Map of the tree\n(.*?)(?=^## )", text, re.M | re.S)
    assert section, "docs/architecture.md has no '## Map of the tree' section"
    folders = sorted(
        str(path.relative_to(ROOT)) for top in PACKAGES + ("firmware", "tests", "deploy")
        for path in [ROOT / top, *(ROOT / top).rglob("*")]
        if path.is_dir() and "__pycache__" not in path.parts
        and not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
        and path.relative_to(ROOT).parts[:2] not in {("backend", "static"),
                                                       ("backend", "templates"),
                                                       ("backend", "translations")}
        and len(path.relative_to(ROOT).parts) <= 3)
    missing = [folder for folder in folders if f"`{folder}/`" not in section.group(1)]
    assert missing == []


def _web_audiences():
    return [ROOT / "backend" / "web" / audience for audience in ("admin", "portal", "api")]


def test_an_audiences_views_import_its_blueprint_module_not_its_package():
    """`from backend.web.admin import bp` would make every view depend on the package's
    import order (a hidden cycle: the package imports the view that imports it); the
    package only imports its views, which take `bp` from blueprint.py and the API's
    machinery from api/operations.py."""
    found = []
    for path in sorted((ROOT / "backend").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.module is None:
                continue
            package = ROOT / Path(*node.module.split("."))
            if package not in _web_audiences():
                continue
            not_modules = [alias.name for alias in node.names
                           if not (package / f"{alias.name}.py").exists()]
            if not_modules and path != package / "__init__.py":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {not_modules}")
    assert found == []


def test_the_panels_and_the_portals_forms_live_in_their_forms_module():
    found = []
    for audience in _web_audiences()[:2]:
        for path in sorted(audience.glob("*.py")):
            if path.name == "forms.py":
                continue
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.ClassDef) and any(
                        getattr(base, "id", "") == "FlaskForm" for base in node.bases):
                    found.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert found == []
