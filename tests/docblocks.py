"""The Python code blocks of one ``## `` section of a Markdown page (docs/api.md)."""
import pathlib
import re

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def python_blocks(page: str, heading: str) -> list[str]:
    """The fenced ``python`` blocks of the section whose ``## `` heading starts with
    ``heading``, in order (the section ends at the next ``## `` heading)."""
    text = (DOCS / page).read_text()
    sections = re.split(r"^## ", text, flags=re.M)
    (section,) = [s for s in sections if s.startswith(heading)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def run_blocks(blocks: list[str], name: str) -> dict:
    """Execute the blocks in order in one namespace; returns the namespace."""
    namespace: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{name} block {i + 1}", "exec"), namespace)
    return namespace
