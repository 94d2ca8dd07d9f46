"""The package reads like the course: the chapter in book/ in notebook order,
public interfaces only between modules and in the notebooks, and every
public name importable from gpt_course itself."""

import ast
import importlib
import json
import pkgutil
import re
from pathlib import Path

import gpt_course

PACKAGE = Path(gpt_course.__file__).resolve().parent
NOTEBOOKS = PACKAGE.parent / "notebooks"


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def test_book_and_beyond_read_in_notebook_order():
    for folder, first, last in (("book", 1, 8), ("beyond", 9, 12)):
        names = [m.name for m in pkgutil.iter_modules([str(PACKAGE / folder)])]
        numbers = [int(re.match(r"nb(\d\d)_", name).group(1)) for name in names]
        assert numbers == sorted(numbers) and set(numbers) == set(range(first, last + 1)), names


def test_explorers_and_exercises_are_named_after_their_notebooks():
    stems = {path.stem for path in NOTEBOOKS.glob("*.ipynb")}
    for folder in ("explorers", "exercises"):
        for module in pkgutil.iter_modules([str(PACKAGE / folder)]):
            if module.name.startswith("nb"):
                assert module.name[2:] in stems, f"{folder}/{module.name}.py names no notebook"


def test_no_module_imports_another_modules_private_names():
    for path, _ in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.relative_to(PACKAGE)} imports {private} from {node.module}"


def test_no_notebook_shows_or_imports_a_private_name():
    pattern = re.compile(r"(?<![\w])_[a-z]\w*|\._[a-z]\w*")
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                found = pattern.findall("".join(cell["source"]))
                assert not found, f"{notebook.name}: {found}"


def test_every_public_name_is_importable_from_gpt_course():
    """The book, beyond the book and the shared modules (explorers and
    exercises are imported by the notebook that uses them)."""
    for _, name in _modules():
        if name.split(".")[1] in ("explorers", "exercises"):
            continue
        module = importlib.import_module(name)
        for public in getattr(module, "__all__", []):
            assert getattr(gpt_course, public, None) is getattr(module, public), f"{name}.{public}"
