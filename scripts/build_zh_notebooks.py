"""Build the Chinese notebooks (notebooks/zh/) from the English ones and the
translation files (translations/zh/<notebook>.md), then execute them.

    .venv/bin/python scripts/build_zh_notebooks.py                  # all twelve
    .venv/bin/python scripts/build_zh_notebooks.py 02_layer_norm    # only these
    .venv/bin/python scripts/build_zh_notebooks.py --no-execute ... # sources only: a quick
        # check of the translations (the notebook is then stored without outputs, which
        # the tests refuse: build it again without the flag before committing)
    .venv/bin/python scripts/build_zh_notebooks.py --template 02_layer_norm
        # write (or complete) the translation file: a section for every markdown
        # cell not yet translated, holding the English text to replace

One source, no drift. A translation file has one section per translated cell:

    <!-- cell s02-title markdown en:1f2e3d4c5b6a -->
    # 02 · 层归一化
    ...

`en:` is the start of the sha256 of the English cell the section translates.
Every markdown cell needs a section; a code cell needs one only where its
comments or printed strings are translated (its code must stay the English
code). The Chinese notebook is the English one, cell for cell (same ids, same
code), with the translated text, links that resolve from notebooks/zh/
(figures from images/zh/ where a Chinese one exists), and one cell after the
title that sets the language. tests/test_zh_edition.py fails when an English
cell changed after it was translated, a cell has no translation, the Chinese
code differs from the English beyond comments and strings, or a committed
Chinese notebook is not what this script builds.
"""

import argparse
import ast
import copy
import hashlib
import os
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
ZH_NOTEBOOKS = NOTEBOOKS / "zh"
TRANSLATIONS = ROOT / "translations" / "zh"
IMAGES = ROOT / "images"

LANGUAGE_CELL_ID = "zh-language"
LANGUAGE_CELL = (
    "from gpt_course import set_language\n"
    "\n"
    'set_language("zh")  # 从这里起，练习的反馈和交互演示的文字都用中文'
)
MARKER = re.compile(r"^<!-- cell (\S+) (markdown|code) en:([0-9a-f]{12}) -->$")
HEADER = (
    "<!-- Chinese translation of notebooks/{name}.ipynb, one section per cell, keyed by\n"
    "     cell id; en: is the sha256 of the English cell the section translates.\n"
    "     Build: .venv/bin/python scripts/build_zh_notebooks.py {name} -->\n"
)


def english_hash(source):
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


def english_notebooks():
    return sorted(path.stem for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def translation_file(name):
    return TRANSLATIONS / f"{name}.md"


def read_translations(name):
    """{cell id: (cell type, English hash, translated text)} from the file."""
    path = translation_file(name)
    if not path.exists():
        return {}
    sections, current, lines = {}, None, []

    def close():
        if current is not None:
            if current[0] in sections:
                raise ValueError(f"{path.name}: cell {current[0]} is translated twice")
            sections[current[0]] = (current[1], current[2], "\n".join(lines).strip("\n"))

    for line in path.read_text(encoding="utf-8").splitlines():
        match = MARKER.match(line)
        if match:
            close()
            current, lines = match.groups(), []
        elif current is not None:
            lines.append(line)
    close()
    return sections


def write_template(name):
    """Add a section, holding the English text, for every markdown cell not yet
    translated (in notebook order); existing sections are kept as they are."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    done = read_translations(name)
    path = translation_file(name)
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER.format(name=name)
    added = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.id not in done:
            text += (f"\n<!-- cell {cell.id} markdown en:{english_hash(cell.source)} -->\n"
                     f"{cell.source}\n")
            added += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"{path.relative_to(ROOT)}: {added} section(s) added")


# ------------------------------------------------------------------ links

LINK = re.compile(r'(\]\(|src="|href=")([^)"\s]+)')
ZH_TWINS = {"glossary.md"}  # files besides the notebooks that notebooks/zh/ has in Chinese


def _zh_target(target, notebook_names):
    """Where a link of an English notebook points, seen from notebooks/zh/."""
    if re.match(r"^[a-z]+:|^#|^/", target):
        return target  # a URL, an anchor, an absolute path
    path, _, anchor = target.partition("#")
    suffix = "#" + anchor if anchor else ""
    def twin(name):
        return name in ZH_TWINS or (name.endswith(".ipynb") and Path(name).stem in notebook_names)

    if "/" not in path and twin(path):
        return target  # the Chinese twin, next to this one
    if path.startswith("../") and "/" not in path[3:] and twin(path[3:]):
        return target  # ../NN_name.ipynb, ../glossary.md: the English twin, on purpose
    zh_figure = IMAGES / "zh" / Path(path).name
    if path.startswith("../images/") and path.endswith(".svg") and zh_figure.exists():
        return "../../images/zh/" + Path(path).name + suffix
    return "../" + path + suffix


def zh_links(markdown, notebook_names):
    return LINK.sub(lambda m: m.group(1) + _zh_target(m.group(2), notebook_names), markdown)


CJK = re.compile(r"[\u4e00-\u9fff]")


def has_prose(markdown):
    """True when a markdown cell has English words to translate (three or more
    outside code, math, links' targets and HTML tags)."""
    text = re.sub(r"```.*?```|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|<[^>]*>|\]\([^)]*\)", " ",
                  markdown, flags=re.DOTALL)
    return len(re.findall(r"[A-Za-z]{2,}", text)) >= 3


# ------------------------------------------------------------------ code

def code_skeleton(source):
    """The code with every comment and string left out (f-strings keep their
    {expressions}): two cells are the same code when their skeletons match."""
    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(source))

    class Blank(ast.NodeTransformer):
        def visit_Constant(self, node):
            return ast.Constant("") if isinstance(node.value, str) else node

        def visit_JoinedStr(self, node):
            fields = [self.visit(v) for v in node.values if isinstance(v, ast.FormattedValue)]
            return ast.JoinedStr(values=fields)

    return ast.dump(Blank().visit(tree))


# ------------------------------------------------------------------ build

def build_notebook(name):
    """The Chinese notebook as it should be (without outputs), and a list of
    problems (missing or stale translations, changed code); raises nothing."""
    english = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    translations = read_translations(name)
    names = set(english_notebooks())
    problems = []
    ids = {cell.id for cell in english.cells}
    for cell_id in sorted(set(translations) - ids):
        problems.append(f"{name}: the translation of cell {cell_id} has no English cell "
                        f"(deleted or renamed?): remove it from translations/zh/{name}.md")
    zh = copy.deepcopy(english)
    for cell in zh.cells:
        section = translations.get(cell.id)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if section is None:
            if cell.cell_type == "markdown":
                problems.append(f"{name}: markdown cell {cell.id} has no translation: run "
                                f"scripts/build_zh_notebooks.py --template {name} and "
                                f"translate its section")
            continue
        kind, sha, text = section
        if kind != cell.cell_type:
            problems.append(f"{name}: cell {cell.id} is {cell.cell_type}, its translation "
                            f"says {kind}")
            continue
        if sha != english_hash(cell.source):
            problems.append(f"{name}: English cell {cell.id} changed after it was translated "
                            f"(en:{sha}, now en:{english_hash(cell.source)}): update its "
                            f"translation, then its marker's en: value")
        if cell.cell_type == "code":
            try:
                same = code_skeleton(text) == code_skeleton(cell.source)
            except SyntaxError as err:
                same = False
                problems.append(f"{name}: the Chinese code of cell {cell.id} does not parse: {err}")
            if not same:
                problems.append(f"{name}: the Chinese code of cell {cell.id} differs from the "
                                f"English beyond comments and strings")
            cell.source = text
        else:
            if has_prose(cell.source) and not CJK.search(re.sub(r"\[[^\]]*\]\([^)]*\)", "", text)):
                problems.append(f"{name}: markdown cell {cell.id} is still English: "
                                f"translate its section in translations/zh/{name}.md")
            cell.source = zh_links(text, names)
    title = next((i for i, c in enumerate(zh.cells) if c.cell_type == "markdown"), -1)
    language_cell = nbformat.v4.new_code_cell(LANGUAGE_CELL)
    language_cell.id = LANGUAGE_CELL_ID
    zh.cells.insert(title + 1, language_cell)
    return zh, problems


# ------------------------------------------------------------------ glossary

GLOSSARY = "glossary"  # notebooks/glossary.md -> notebooks/zh/glossary.md
GLOSSARY_HEADER = "| 术语 | English | 释义 | 讲解它的 notebook |\n|---|---|---|---|"


def glossary_rows(markdown):
    """(key, English term, Chinese term, English meaning, taught in) per table row."""
    rows = []
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) == 4 and line.startswith("| ") and cells[0] != "English":
            key = "term-" + re.sub(r"[^a-z0-9]+", "-", cells[0].lower()).strip("-")
            rows.append((key, *cells))
    return rows


def glossary_sections(markdown):
    """What a translation covers, {key: English}: the intro (title and paragraph
    above the table), then each row's meaning."""
    intro = markdown[:markdown.index("\n| English |")].strip("\n")
    return {"intro": intro, **{key: meaning for key, _, _, meaning, _ in glossary_rows(markdown)}}


def build_glossary():
    """The Chinese glossary (Chinese term first, in the order the notebooks teach
    the terms, meanings translated), and a list of problems, as build_notebook."""
    english = (NOTEBOOKS / f"{GLOSSARY}.md").read_text(encoding="utf-8")
    rows = glossary_rows(english)
    translations = read_translations(GLOSSARY)
    problems = []
    wanted = glossary_sections(english)
    for key in sorted(set(translations) - set(wanted)):
        problems.append(f"{GLOSSARY}: the translation {key} has no English row (renamed or "
                        f"removed?): remove it from translations/zh/{GLOSSARY}.md")
    texts = {}
    for key, source in wanted.items():
        if key not in translations:
            problems.append(f"{GLOSSARY}: {key} has no translation: run scripts/build_zh_notebooks.py "
                            f"--template {GLOSSARY} and translate its section")
            texts[key] = source
            continue
        _, sha, text = translations[key]
        if sha != english_hash(source):
            problems.append(f"{GLOSSARY}: the English of {key} changed after it was translated "
                            f"(en:{sha}, now en:{english_hash(source)}): update its translation, "
                            f"then its marker's en: value")
        if not CJK.search(text):
            problems.append(f"{GLOSSARY}: {key} is still English: translate its section in "
                            f"translations/zh/{GLOSSARY}.md")
        texts[key] = text
    first_taught = lambda row: min(re.findall(r"\[(\d\d)\]", row[4]) or ["99"])
    lines = [f"| {zh} | {en} | {texts[key]} | {taught} |"
             for key, en, zh, _, taught in sorted(rows, key=first_taught)]
    names = set(english_notebooks())
    markdown = zh_links(texts["intro"], names) + "\n\n" + GLOSSARY_HEADER + "\n" + "\n".join(lines) + "\n"
    return markdown, problems


def write_glossary_template():
    """Add a section, holding the English, for the intro and every row not yet translated."""
    english = (NOTEBOOKS / f"{GLOSSARY}.md").read_text(encoding="utf-8")
    done = read_translations(GLOSSARY)
    path = translation_file(GLOSSARY)
    text = path.read_text(encoding="utf-8") if path.exists() else (
        "<!-- Chinese translation of notebooks/glossary.md: the intro, then one section per row\n"
        "     (its meaning), keyed by the English term; en: is the sha256 of the English text.\n"
        "     Build: .venv/bin/python scripts/build_zh_notebooks.py glossary -->\n")
    added = 0
    for key, source in glossary_sections(english).items():
        if key not in done:
            text += f"\n<!-- cell {key} markdown en:{english_hash(source)} -->\n{source}\n"
            added += 1
    path.write_text(text, encoding="utf-8")
    print(f"{path.relative_to(ROOT)}: {added} section(s) added")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook names, e.g. 02_layer_norm (default: all)")
    parser.add_argument("--template", action="store_true", help="write translation templates")
    parser.add_argument("--no-execute", action="store_true", help="write sources only")
    args = parser.parse_args(argv)
    names = [Path(n).stem for n in args.names] or [*english_notebooks(), GLOSSARY]
    if args.template:
        for name in names:
            write_glossary_template() if name == GLOSSARY else write_template(name)
        return 0
    ZH_NOTEBOOKS.mkdir(exist_ok=True)
    os.environ.setdefault("COLUMNS", "80")  # as the English notebooks were stored
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    failed = False
    if GLOSSARY in names:
        names.remove(GLOSSARY)
        markdown, problems = build_glossary()
        for problem in problems:
            print(problem, file=sys.stderr)
        failed |= bool(problems)
        (ZH_NOTEBOOKS / f"{GLOSSARY}.md").write_text(markdown, encoding="utf-8")
        print(f"zh/{GLOSSARY}.md", flush=True)
    for name in names:
        zh, problems = build_notebook(name)
        for problem in problems:
            print(problem, file=sys.stderr)
        failed |= bool(problems)
        path = ZH_NOTEBOOKS / f"{name}.ipynb"
        nbformat.write(zh, path)
        if not args.no_execute:
            sys.path.insert(0, str(ROOT / "scripts"))
            from execute_notebooks import execute

            print(f"zh/{name}.ipynb: {execute(path):.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
