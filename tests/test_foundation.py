"""The installed project: packages import, console scripts answer --help, layering holds."""
import ast
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPTS = ["eie-compress", "eie-simulate", "eie-sweep", "eie-plot"]


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
