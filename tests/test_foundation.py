"""The installed project: packages import, console scripts answer --help, layering holds."""
import ast
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPTS = ["eie-compress", "eie-simulate", "eie-sweep", "eie-plot", "eie-hwprune"]


def test_packages_import():
    import compressor
    import eie_sim

    assert compressor.__version__ == eie_sim.__version__


@pytest.mark.parametrize("script", SCRIPTS)
def test_console_script_help(script):
    exe = shutil.which(script) or str(pathlib.Path(sys.executable).parent / script)
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout and script in out.stdout


def test_compressor_never_imports_eie_sim():
    """docs/architecture.md: compressor/ is independent of eie_sim/."""
    offenders = []
    for path in (ROOT / "compressor").rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "eie_sim" or n.startswith("eie_sim.") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


# ---- the rooms of eie_sim/ (docs/architecture.md) ---------------------------------------
#: room -> rooms (besides itself) its modules may import at module level
EIE_ROOMS = {
    "errors": set(),
    "arch": {"errors"},
    "hw": {"errors", "arch"},
    "workloads": {"errors", "arch", "hw"},
    "sim": {"errors", "arch", "hw", "workloads"},
    "output": {"errors", "arch", "hw", "sim"},
    "api": {"errors", "arch", "hw", "workloads", "sim"},
    "apps": {"errors", "arch", "hw", "workloads", "sim", "output", "api"},
    "cli": {"errors", "arch", "hw", "workloads", "sim", "output", "api", "apps"},
}


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING`` as the test of an ``if``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: pathlib.Path) -> list[tuple[str, int, bool, bool]]:
    """``(module, line, at_top, typing_only)`` of every import of the file; ``typing_only``
    marks imports under ``if TYPE_CHECKING:`` (they never run, so they make no import
    cycle, but a room that names a higher room's types still depends on it)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []

    def visit(node, top, typing_only):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), top, True)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), top, typing_only)
                continue
            if isinstance(child, ast.Import):
                out.extend((a.name, child.lineno, top, typing_only) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                out.append((child.module, child.lineno, top, typing_only))
                out.extend((f"{child.module}.{a.name}", child.lineno, top, typing_only)
                           for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level:
                out.append(("<relative>", child.lineno, top, typing_only))
            visit(child, top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                          ast.ClassDef)), typing_only)
    visit(tree, True, False)
    return out


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "eie_sim" and len(parts) > 1 else None


def test_eie_sim_rooms_import_only_the_rooms_below_them():
    offenders = []
    for path in sorted((ROOT / "eie_sim").rglob("*.py")):
        here = _room(_module_name(path))
        if here is None:                      # eie_sim/__init__.py re-exports the API
            continue
        for mod, line, _, _ in _imports(path):      # TYPE_CHECKING imports count too
            if mod == "<relative>":
                offenders.append(f"{path.relative_to(ROOT)}:{line} relative import")
                continue
            there = _room(mod)
            if there and there != here and there not in EIE_ROOMS[here]:
                offenders.append(f"{path.relative_to(ROOT)}:{line} ({here}) imports {mod} ({there})")
    assert not offenders, offenders


def test_no_import_cycles_between_project_modules():
    """Module-level imports among eie_sim/ and compressor/ modules form no cycle."""
    modules = {}
    for pkg in ("eie_sim", "compressor"):
        for path in (ROOT / pkg).rglob("*.py"):
            modules[_module_name(path)] = path
    graph = {m: set() for m in modules}
    for m, path in modules.items():
        for mod, _, top, typing_only in _imports(path):
            if top and not typing_only:             # TYPE_CHECKING imports never run
                # "from a.b import c": a.b.c when it is a module, else a.b
                target = mod if mod in modules else mod.rpartition(".")[0]
                if target in modules and target != m and not m.startswith(target + "."):
                    graph[m].add(target)
    state: dict[str, int] = {}
    cycle: list[str] = []

    def dfs(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle.extend(stack[stack.index(nxt):] + [nxt])
                return True
            if nxt not in state and dfs(nxt, stack):
                return True
        stack.pop()
        state[node] = 2
        return False

    for m in sorted(graph):
        if m not in state and dfs(m, []):
            break
    assert not cycle, " -> ".join(cycle)


def test_project_imports_stand_at_the_top_of_modules():
    """Imports of the project's own modules are at module level (no hidden cycles); the
    exceptions are listed with their reason."""
    allowed = {("eie_sim/output/plots.py", "matplotlib")}   # slow to import, plots only
    late = []
    for pkg in ("eie_sim", "compressor"):
        for path in (ROOT / pkg).rglob("*.py"):
            rel = str(path.relative_to(ROOT))
            for mod, line, top, _ in _imports(path):
                own = mod.split(".")[0] in ("eie_sim", "compressor")
                if not top and own and (rel, mod.split(".")[0]) not in allowed:
                    late.append(f"{rel}:{line} {mod}")
    assert not late, late


def test_no_undefined_names_or_unused_imports():
    """Pyflakes' checks (ruff's F rules) over the packages, benchmarks and tests: an
    undefined name on a rarely taken path fails here, not in a user's run."""
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "F", "--quiet",
                          "--no-cache", "eie_sim", "compressor", "benchmarks", "tests"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


# ---- docstrings and docs name only modules that exist ------------------------------------
_PKGS = ("eie_sim", "compressor", "benchmarks", "tests", "tools")
#: a file path of a project module: ``eie_sim/hw/layout.py``, or relative to a package:
#: ``hw/layout.py``, ``training/nn.py`` (only ``.py`` paths count, not data files)
_MODULE_PATH = re.compile(r"(?<![\w/.-])((?:[a-z_][a-z0-9_]*/)+[a-z_][a-z0-9_]*\.py)\b")
#: a dotted name in the project: ``eie_sim.hw.layout``, ``compressor.training.nn.train``
_DOTTED = re.compile(r"(?<![\w.])((?:eie_sim|compressor)(?:\.[A-Za-z_]\w*)+)")
#: names that stay on purpose: (file, name) -> why (none today)
_STALE_ALLOWED: dict[tuple[str, str], str] = {}


def _module_files(rel: str) -> bool:
    """Whether a ``.py`` path names a file of the tree (from the root or from a package)."""
    return any((base / rel).is_file() for base in (ROOT, ROOT / "eie_sim", ROOT / "compressor"))


def _bound_names(init: pathlib.Path) -> set[str]:
    """The names a package's ``__init__`` binds at module level (imports, defs, assignments)."""
    names = set()
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def _dotted_resolves(name: str) -> bool:
    """Whether ``a.b.c...`` starts with a module of the tree and, where the longest such
    prefix is a package, the next part is a name its ``__init__`` binds (an attribute of
    a module is not checked: only names that look like modules count)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:i])
        if base.with_suffix(".py").is_file():
            return True
        if (base / "__init__.py").is_file():
            if i == len(parts) or not parts[i].islower():
                return True
            return parts[i] in _bound_names(base / "__init__.py")
    return False


def test_docstrings_and_docs_name_only_modules_that_exist():
    """Every module path (``eie_sim/<room>/<module>.py`` or from a package, as
    ``<room>/<module>.py``) and dotted module name (``eie_sim.<room>.<module>``) in the
    sources, docs/*.md and README.md names a module of the tree as it is at test time."""
    here = pathlib.Path(__file__).resolve()         # this file's patterns and allow-list
    files = [p for pkg in _PKGS for p in sorted((ROOT / pkg).rglob("*.py")) if p != here]
    files += sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
    stale = []
    for path in files:
        rel = str(path.relative_to(ROOT))
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for m in _MODULE_PATH.finditer(line):
                if not _module_files(m.group(1)) and (rel, m.group(1)) not in _STALE_ALLOWED:
                    stale.append(f"{rel}:{n} {m.group(1)}")
            for m in _DOTTED.finditer(line):
                if not _dotted_resolves(m.group(1)) and (rel, m.group(1)) not in _STALE_ALLOWED:
                    stale.append(f"{rel}:{n} {m.group(1)}")
    assert not stale, stale
