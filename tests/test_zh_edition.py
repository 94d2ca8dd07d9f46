"""The Chinese edition (notebooks/zh/): one source, no drift, Chinese all the
way to the learner.

- Every Chinese notebook is what scripts/build_zh_notebooks.py makes from the
  English notebook and its translation file: every markdown cell translated,
  every translation made from the English text as it is now (its en: hash),
  the code the English code (comments and strings aside). The tests below also
  show the build catching a changed English cell, a missing translation and
  changed code, on a copy.
- Every text the package shows a learner (exercise verdicts and hints,
  explorer titles, labels and readouts, figure labels) has a Chinese
  translation with the same placeholders, and every translation still has its
  English text in the code.
- The glossary's terms are the terms the Chinese notebooks use (one term per
  concept, and the typography, are tests/test_zh_style.py's).
- Links resolve, and each notebook links to its twin in the other language.
The Chinese notebooks themselves are re-executed by nbval like the English ones.
"""

import ast
import importlib
import re
import shutil
import string
import sys
import warnings
from pathlib import Path

import nbformat
import pytest

import gpt_course
from gpt_course.language import LANGUAGES, catalog, cjk_font, get_language, speaking, tr

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import build_zh_notebooks as build  # noqa: E402

PACKAGE = Path(gpt_course.__file__).resolve().parent
NAMES = build.english_notebooks()
CJK = re.compile(r"[\u4e00-\u9fff]")


# ------------------------------------------------------------ one source, no drift

def test_there_are_thirteen_chinese_notebooks():
    assert len(NAMES) == 13
    assert sorted(p.stem for p in build.ZH_NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_chinese_notebook_is_what_the_build_makes(name):
    built, problems = build.build_notebook(name)
    assert not problems, "\n".join(problems)
    committed = nbformat.read(build.ZH_NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert [(c.id, c.cell_type) for c in committed.cells] == [(c.id, c.cell_type) for c in built.cells]
    for ours, theirs in zip(built.cells, committed.cells):
        assert theirs.source == ours.source, (
            f"notebooks/zh/{name}.ipynb cell {ours.id} is not what the build makes from the "
            f"English notebook and translations/zh/{name}.md: run "
            f".venv/bin/python scripts/build_zh_notebooks.py {name}")
    executed = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in executed), f"zh/{name}.ipynb is not executed"


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A copy of notebooks/ and translations/ the build reads instead of the real ones."""
    notebooks, translations = tmp_path / "notebooks", tmp_path / "translations" / "zh"
    shutil.copytree(build.NOTEBOOKS, notebooks, ignore=shutil.ignore_patterns("zh"))
    shutil.copytree(build.TRANSLATIONS, translations)
    monkeypatch.setattr(build, "NOTEBOOKS", notebooks)
    monkeypatch.setattr(build, "ZH_NOTEBOOKS", notebooks / "zh")
    monkeypatch.setattr(build, "TRANSLATIONS", translations)
    return notebooks, translations


def _edit_english(notebooks, name, cell_type, edit):
    path = notebooks / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells[1:] if c.cell_type == cell_type)
    cell.source = edit(cell.source)
    nbformat.write(nb, path)
    return cell.id


def test_build_catches_a_changed_english_cell(scratch):
    notebooks, _ = scratch
    cell_id = _edit_english(notebooks, "02_layer_norm", "markdown", lambda s: s + "\nOne more sentence.")
    _, problems = build.build_notebook("02_layer_norm")
    assert any(f"English cell {cell_id} changed after it was translated" in p for p in problems), problems


def test_build_catches_a_cell_without_translation(scratch):
    notebooks, translations = scratch
    path = translations / "03_gelu_vs_relu.md"
    sections = build.read_translations("03_gelu_vs_relu")
    cell_id = next(i for i, (kind, _, _) in sections.items() if kind == "markdown")
    text = path.read_text(encoding="utf-8")
    start = text.index(f"<!-- cell {cell_id} ")
    end = text.find("\n<!-- cell ", start + 1)
    path.write_text(text[:start] + (text[end + 1:] if end != -1 else ""), encoding="utf-8")
    _, problems = build.build_notebook("03_gelu_vs_relu")
    assert any(f"markdown cell {cell_id} has no translation" in p for p in problems), problems


def test_build_catches_changed_code(scratch):
    notebooks, translations = scratch
    nb = nbformat.read(notebooks / "01_dummy_gpt.ipynb", as_version=4)
    translated = build.read_translations("01_dummy_gpt")  # a cell translated already keeps its section
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.strip()
                and c.id not in translated)
    changed = cell.source + "\nx = 0  # one line more than the English"
    with open(translations / "01_dummy_gpt.md", "a", encoding="utf-8") as f:
        f.write(f"\n<!-- cell {cell.id} code en:{build.english_hash(cell.source)} -->\n{changed}\n")
    _, problems = build.build_notebook("01_dummy_gpt")
    assert any(f"code of cell {cell.id} differs from the English" in p for p in problems), problems


def test_build_catches_an_untranslated_section(scratch):
    notebooks, translations = scratch
    nb = nbformat.read(notebooks / "04_feed_forward.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and build.has_prose(c.source))
    path = translations / "04_feed_forward.md"
    text = path.read_text(encoding="utf-8")
    start = text.index(f"<!-- cell {cell.id} ")
    end = text.find("\n<!-- cell ", start + 1)
    section = f"<!-- cell {cell.id} markdown en:{build.english_hash(cell.source)} -->\n{cell.source}\n"
    path.write_text(text[:start] + section + (text[end + 1:] if end != -1 else ""), encoding="utf-8")
    _, problems = build.build_notebook("04_feed_forward")
    assert any(f"markdown cell {cell.id} is still English" in p for p in problems), problems


def test_chinese_glossary_is_what_the_build_makes():
    built, problems = build.build_glossary()
    assert not problems, "\n".join(problems)
    assert (build.ZH_NOTEBOOKS / "glossary.md").read_text(encoding="utf-8") == built, (
        "notebooks/zh/glossary.md is not what the build makes from notebooks/glossary.md and "
        "translations/zh/glossary.md: run .venv/bin/python scripts/build_zh_notebooks.py glossary")
    english = build.glossary_rows((build.NOTEBOOKS / "glossary.md").read_text(encoding="utf-8"))
    rows = [line for line in built.splitlines() if line.startswith("| ") and not line.startswith("| 术语")]
    assert len(rows) == len(english) >= 40
    for key, en, zh, meaning, taught in english:  # every term, its Chinese first, a Chinese meaning
        row = next(r for r in rows if f" | {en} | " in r)
        assert row.startswith(f"| {zh} | {en} | ") and row.endswith(f" | {taught} |"), row
        assert CJK.search(row.split(" | ")[2]), row


def test_build_catches_a_changed_glossary_meaning(scratch):
    notebooks, _ = scratch
    path = notebooks / "glossary.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("A trainable lookup table", "A learned lookup table"), encoding="utf-8")
    _, problems = build.build_glossary()
    assert any("term-embedding changed after it was translated" in p for p in problems), problems


def test_build_catches_a_glossary_term_without_translation(scratch):
    notebooks, _ = scratch
    path = notebooks / "glossary.md"
    path.write_text(path.read_text(encoding="utf-8") + "| loss | 损失 | How wrong the model is. | [11](11_training_glimpse.ipynb) |\n",
                    encoding="utf-8")
    _, problems = build.build_glossary()
    assert any("term-loss has no translation" in p for p in problems), problems


@pytest.mark.parametrize("english, chinese, same", [
    ("x = 1  # one\nprint('mean:', x)", "x = 1  # 一\nprint('均值：', x)", True),
    ('print(f"loss {loss:.3f}")', 'print(f"损失 {loss:.3f}")', True),
    ('print(f"loss {loss:.3f}")', 'print(f"损失 {val:.3f}")', False),
    ("torch.manual_seed(123)", "torch.manual_seed(124)", False),
    ("y = f(x)", "y = g(x)", False),
    ("%matplotlib inline\nx = 1", "%matplotlib inline\nx = 1  # 注释", True),
])
def test_code_skeleton_ignores_only_comments_and_strings(english, chinese, same):
    assert (build.code_skeleton(english) == build.code_skeleton(chinese)) is same


# ------------------------------------------------------------ links

LINK = re.compile(r'(?:\]\(|src="|href=")([^)"\s]+)')


def _links(path):
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            for target in LINK.findall(cell.source):
                if not re.match(r"^[a-z]+:|^#", target):
                    yield target.partition("#")[0]


@pytest.mark.parametrize("name", NAMES)
def test_links_resolve_and_twins_link_each_other(name):
    english, chinese = build.NOTEBOOKS / f"{name}.ipynb", build.ZH_NOTEBOOKS / f"{name}.ipynb"
    for path in (english, chinese):
        missing = [t for t in _links(path) if not (path.parent / t).exists()]
        assert not missing, f"{path.relative_to(REPO)} links to missing files: {missing}"
    assert f"zh/{name}.ipynb" in set(_links(english)), f"{name} does not link its Chinese twin"
    assert f"../{name}.ipynb" in set(_links(chinese)), f"zh/{name} does not link its English twin"


def test_glossary_links_resolve_and_the_glossaries_link_each_other():
    english, chinese = build.NOTEBOOKS / "glossary.md", build.ZH_NOTEBOOKS / "glossary.md"
    links = {}
    for path in (english, chinese):
        links[path] = [t.partition("#")[0] for t in LINK.findall(path.read_text(encoding="utf-8"))
                       if not re.match(r"^[a-z]+:|^#", t)]
        missing = [t for t in links[path] if not (path.parent / t).exists()]
        assert not missing, f"{path.relative_to(REPO)} links to missing files: {missing}"
    assert "zh/glossary.md" in links[english] and "../glossary.md" in links[chinese]
    # the Chinese glossary sends a reader to the Chinese notebooks, and they to it
    assert all(t.startswith("../glossary") or "/" not in t for t in links[chinese]), links[chinese]
    for name in NAMES:
        for target in _links(build.ZH_NOTEBOOKS / f"{name}.ipynb"):
            assert not target.endswith("../glossary.md"), f"zh/{name} links the English glossary"


def test_readmes_link_each_other_and_the_chinese_notebooks():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    readme_zh = (REPO / "README.zh.md").read_text(encoding="utf-8")
    assert "README.zh.md" in readme and "README.md" in readme_zh
    for name in NAMES:
        assert f"notebooks/zh/{name}.ipynb" in readme_zh, name
    # the same two commands
    for command in ("bash scripts/lab.sh", "bash scripts/test.sh"):
        assert command in readme and command in readme_zh


def test_a_repeated_heading_or_summary_has_one_chinese_wording():
    """"Solution (try it yourself first)" or "## Exercises" read the same in every
    Chinese notebook (they had drifted into three wordings)."""
    wordings = {}
    for name in NAMES:
        english = {c.id: c for c in nbformat.read(build.NOTEBOOKS / f"{name}.ipynb", as_version=4).cells}
        for cell in nbformat.read(build.ZH_NOTEBOOKS / f"{name}.ipynb", as_version=4).cells:
            if cell.cell_type != "markdown" or cell.id not in english:
                continue
            for pattern in (r"<summary>(.*?)</summary>", r"(?m)^(#{2,4} .*)$"):
                en, zh = (re.findall(pattern, text) for text in (english[cell.id].source, cell.source))
                if len(en) == len(zh):
                    for a, b in zip(en, zh):
                        wordings.setdefault(a, set()).add(b)
    several = {en: sorted(zh) for en, zh in wordings.items() if len(zh) > 1}
    assert not several, f"one English text, several Chinese wordings: {several}"


# ------------------------------------------------------------ the glossary's terms

def _glossary():
    """(English, [Chinese terms], [notebook numbers]) for every glossary row."""
    return [(english, [re.split(r"[（(]", term)[0].strip() for term in chinese.split(" / ")],
             re.findall(r"\[(\d\d)\]", taught))
            for _, english, chinese, _, taught in build.glossary_rows(
                (build.NOTEBOOKS / "glossary.md").read_text(encoding="utf-8"))]


def test_every_glossary_term_appears_in_the_chinese_notebooks_that_teach_it():
    texts = {name[:2]: "\n".join(c.source for c in nbformat.read(
        build.ZH_NOTEBOOKS / f"{name}.ipynb", as_version=4).cells if c.cell_type == "markdown")
        for name in NAMES}
    rows = _glossary()
    assert len(rows) > 40
    absent = [f"{english} -> {term} (zh/{number})" for english, terms, numbers in rows
              for term in terms for number in numbers if term not in texts[number]]
    assert not absent, "glossary terms the Chinese notebooks that teach them do not use:\n" + \
        "\n".join(absent)


# ------------------------------------------------------------ the package speaks Chinese

def _string_literals(tree):
    """Every str constant, docstrings excluded, with the node it belongs to."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node


def _programmer_errors(tree):
    """ids of the nodes inside `raise SomeError(...)` for errors other than NotYet
    (argument checks speak to programmers, in English)."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            func = node.exc.func
            if getattr(func, "id", getattr(func, "attr", "")) != "NotYet":
                inside |= {id(n) for n in ast.walk(node.exc)}
    return inside


# Keyword arguments whose strings are settings, not text (matplotlib's loc="upper left").
# why= completes an argument check's error message, which speaks to programmers.
SETTINGS = {"loc", "textcoords", "xycoords", "ha", "va", "fontweight", "family", "cmap", "why"}
# Text that is the same in both editions: what the model reads, and names of layers.
SAME_IN_CHINESE = {"Every effort moves you forward today", "GELU (tanh)", "Linear 1 + GELU"}


def _settings(tree):
    return {id(k.value) for node in ast.walk(tree) if isinstance(node, ast.Call)
            for k in node.keywords if k.arg in SETTINGS}


def _prose(text):
    """Two or more plain English words (not identifiers, not code)."""
    return sum(bool(re.fullmatch(r"[(\"']?[A-Za-z]{2,}[,.;:?!)\"']*", word)) for word in text.split()) >= 2


LEARNER_FACING = sorted((PACKAGE / "exercises").glob("*.py")) + sorted((PACKAGE / "explorers").glob("*.py"))


@pytest.mark.parametrize("path", LEARNER_FACING, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_text_a_learner_reads_has_a_chinese_translation(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    errors = _programmer_errors(tree) | _settings(tree)
    zh = catalog("zh")
    untranslated = [node.value for node in _string_literals(tree)
                    if id(node) not in errors and _prose(node.value) and node.value not in zh
                    and node.value not in SAME_IN_CHINESE]
    assert not untranslated, (f"{path.relative_to(REPO)}: no Chinese for these texts (add them "
                              f"to gpt_course/locale/zh/*.json):\n" + "\n".join(untranslated))
    fstrings = [ast.unparse(node)[:80] for node in ast.walk(tree)
                if isinstance(node, ast.JoinedStr) and id(node) not in errors
                and _prose("".join(v.value for v in node.values if isinstance(v, ast.Constant)))]
    assert not fstrings, (f"{path.relative_to(REPO)}: text made with f-strings cannot be "
                          f"translated; write tr(\"... {{name}} ...\", name=...):\n" + "\n".join(fstrings))


def _fields(template):
    return sorted(field for _, field, spec, _ in string.Formatter().parse(template) if field is not None)


def test_translations_keep_the_placeholders_and_are_chinese():
    for english, chinese in catalog("zh").items():
        assert _fields(english) == _fields(chinese), (english, chinese)
        assert CJK.search(chinese) or not _prose(english), (english, chinese)


def test_every_translation_still_has_its_english_text_in_the_code():
    sources = sorted(PACKAGE.rglob("*.py")) + [REPO / "scripts" / "draw_figures.py"]
    literals = {node.value for path in sources
                for node in _string_literals(ast.parse(path.read_text(encoding="utf-8")))}
    stale = sorted(set(catalog("zh")) - literals)
    assert not stale, "translations whose English text is no longer in the code:\n" + "\n".join(stale)


def test_tr_and_set_language():
    assert get_language() == "en" and set(LANGUAGES) == {"en", "zh"}
    assert tr("Not yet: {text}", text="x") == "Not yet: x"
    with speaking("zh"):
        assert tr("Not yet: {text}", text="x") == "还不对：x"
        assert tr("a text nobody translated") == "a text nobody translated"
    assert get_language() == "en"
    with pytest.raises(ValueError, match="language must be one of"):
        gpt_course.set_language("fr")


def test_the_course_ships_its_chinese_font():
    """The course's own font, not whatever the machine has: found first, under its
    own name (a system's full Noto font is another font to matplotlib), licensed."""
    from fontTools.ttLib import TTFont
    from matplotlib import font_manager

    for mono, family in ((False, "GPT Course CJK SC"), (True, "GPT Course Mono CJK SC")):
        path = Path(cjk_font(mono=mono))
        assert path.parent == REPO / "gpt_course" / "fonts", path
        assert font_manager.FontProperties(fname=str(path)).get_name() == family
        names = " ".join(str(record) for record in TTFont(str(path))["name"].names)
        assert "Noto" not in names and "Open Font License" in names
        assert path.stat().st_size < 1_000_000
    assert "SIL OPEN FONT LICENSE" in (REPO / "gpt_course" / "fonts" / "OFL.txt").read_text(encoding="utf-8")


def test_the_chinese_font_has_every_character_the_chinese_edition_writes():
    """Figures fall back glyph by glyph from DejaVu Sans to the shipped Chinese font:
    together they draw every character of the translations (a new one needs the
    font cut again by scripts/subset_cjk_font.py, which also keeps every GPT-2
    token's characters that Noto has)."""
    import matplotlib
    from fontTools.ttLib import TTFont

    dejavu = set(TTFont(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")).getBestCmap())
    texts = [path.read_text(encoding="utf-8") for path in sorted(
        [*(REPO / "translations" / "zh").glob("*.md"), *(REPO / "gpt_course" / "locale" / "zh").glob("*.json")])
        if path.name != "terms.md"]  # the term decisions, for translators: never drawn
    written = {ord(c) for text in texts for c in text if c.isprintable()}
    for mono in (False, True):
        missing = sorted(chr(c) for c in written - dejavu - set(TTFont(cjk_font(mono=mono)).getBestCmap()))
        assert not missing, (
            f"{Path(cjk_font(mono=mono)).name} lacks {''.join(missing)!r}, which the translations use: "
            f"cut the font again with scripts/subset_cjk_font.py (its docstring says how)")


EXPLORERS = [
    ("nb02_layer_norm", "layer_norm_explorer"), ("nb03_gelu_vs_relu", "gelu_explorer"),
    ("nb04_feed_forward", "feed_forward_explorer"), ("nb05_shortcut_connections", "shortcut_explorer"),
    ("nb06_transformer_block", "attention_explorer"), ("nb07_gpt_model", "model_size_explorer"),
    ("nb09_faster_generation", "sampling_explorer"),
]


@pytest.mark.parametrize("module, factory", EXPLORERS)
def test_explorers_draw_chinese_without_missing_glyphs(module, factory):
    from fontTools.ttLib import TTFont

    glyphs = set(TTFont(cjk_font(), fontNumber=0).getBestCmap()) | {ord("\n")}
    make = getattr(importlib.import_module(f"gpt_course.explorers.{module}"), factory)
    with speaking("zh"), warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        explorer = make()
        explorer.static_png()
    shown = explorer.title + explorer.static_note() + explorer.readout_text
    assert CJK.search(explorer.title), explorer.title
    assert explorer.title in explorer.children[0].value  # the live widget's header
    missing = sorted({ch for ch in shown if ord(ch) not in glyphs})
    assert not missing, f"{factory}: the font has no glyph for {missing}"
    labels = [t.get_text() for t in explorer.figure.findobj(lambda a: hasattr(a, "get_text"))]
    assert any(CJK.search(label) for label in labels), f"{factory}: no Chinese label in {labels}"


def _english_run(text):
    """Six or more English words in a row outside `code`: text left untranslated."""
    text = re.sub(r"`[^`]*`", " ", text)
    match = re.search(r"(?:\b[A-Za-z]{2,}[,;:]? +){5}[A-Za-z]{2,}\b", text)
    return match.group(0) if match else None


def test_exercise_verdicts_speak_chinese():
    from solutions import run_cell, skeleton_code, solution_code
    from test_yourturn_notebooks import RUNNABLE_SKELETONS, YOUR_TURN

    for english, check in YOUR_TURN:
        notebook = f"zh/{english}"  # the Chinese notebook's cells (its comments and strings)
        with speaking("zh"):
            right = run_cell(notebook, solution_code(notebook, check))
            wrong = None if check in RUNNABLE_SKELETONS else run_cell(notebook, skeleton_code(notebook, check))
        assert right.startswith("正确！") and not _english_run(right), (check, right)
        if wrong is not None:
            assert wrong.startswith("还不对：") and not _english_run(wrong), (check, wrong)
