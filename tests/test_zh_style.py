"""The Chinese edition reads as Chinese: one term per concept, typography that
renders, and code output that is Chinese or says why it is not.

- Terms: translations/zh/terms.md decides one Chinese term per concept and the
  variants not to use. No Chinese notebook (markdown, and the comments and
  strings of code cells), locale message, README.zh.md or the Chinese glossary
  uses a variant, except inside the term itself or an allowed context (提示 as a
  check's hint); the glossary's Chinese column says what terms.md says.
- Typography, as CommonMark (+ tables) renders it, like JupyterLab and GitHub:
  no italics on Chinese text, no bold run left as literal asterisks, no space
  after full-width punctuation, no line break inside a Chinese paragraph.
- Messages: a Chinese name put into a message template (tr("your {name} ...",
  name=tr(NAME))) sits in Chinese text without a space on either side.
- Code output: a line a code cell prints in English (no Chinese, two or more
  English words) is either Chinese after translating the code's string literal,
  or the markdown just above or below the cell says the output stays English
  (it says 英文), or the cell is in ENGLISH_OUTPUT with its reason.
Each test has a twin that plants a fault and sees it caught.
"""

import ast
import json
import re
import sys
from collections import namedtuple
from pathlib import Path

import nbformat
import pytest
from markdown_it import MarkdownIt

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import build_zh_notebooks as build  # noqa: E402

NAMES = build.english_notebooks()
TERMS_MD = REPO / "translations" / "zh" / "terms.md"
README_ZH = REPO / "README.zh.md"
GLOSSARY_ZH = build.ZH_NOTEBOOKS / "glossary.md"
LOCALE_ZH = REPO / "gpt_course" / "locale" / "zh"

CJK = re.compile(r"[\u4e00-\u9fff]")
CJK_CHARS = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"  # CJK punctuation, ideographs, full-width forms
# Full-width and CJK punctuation: 。，、：；！？（）「」《》【】… (not the ideographs)
FULL_WIDTH_PUNCTUATION = "\u3001-\u3003\u3008-\u3011\u3014-\u301f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"

MARKDOWN = MarkdownIt("commonmark").enable("table")


# ------------------------------------------------------------ sources

def _notebook_cells(name):
    return nbformat.read(build.ZH_NOTEBOOKS / f"{name}.ipynb", as_version=4).cells


def markdown_texts():
    """(where, markdown) for every Chinese notebook's markdown cell, README.zh.md and the glossary."""
    texts = [(f"notebooks/zh/{name}.ipynb cell {cell.id}", cell.source) for name in NAMES
             for cell in _notebook_cells(name) if cell.cell_type == "markdown"]
    texts.append(("README.zh.md", README_ZH.read_text(encoding="utf-8")))
    texts.append(("notebooks/zh/glossary.md", GLOSSARY_ZH.read_text(encoding="utf-8")))
    return texts


def chinese_texts():
    """(where, text) for every text the term test reads: the markdown above, the
    code cells (the code is the English code: only its Chinese comments and
    strings can hold a term) and every locale message (its Chinese side)."""
    texts = markdown_texts()
    texts += [(f"notebooks/zh/{name}.ipynb cell {cell.id} (code)", cell.source) for name in NAMES
              for cell in _notebook_cells(name) if cell.cell_type == "code"]
    for path in sorted(LOCALE_ZH.glob("*.json")):
        for english, chinese in json.loads(path.read_text(encoding="utf-8")).items():
            texts.append((f"gpt_course/locale/zh/{path.name} message {english[:50]!r}", chinese))
    return texts


# ------------------------------------------------------------ terms

Term = namedtuple("Term", "english term variants allowed")


def read_terms(markdown):
    """The rows of terms.md's table: the English concept (without a (...) note),
    the course's Chinese term, the variants (plain strings) and the allowed
    contexts (regular expressions). A `|` inside a cell is written \\|."""
    terms = []
    for line in markdown.splitlines():
        if not line.startswith("| ") or line.startswith(("| English", "|---")):
            continue
        cells = [cell.replace("\\|", "|").strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        assert len(cells) == 5, f"translations/zh/terms.md: a row needs 5 cells, this has {len(cells)}: {line}"
        english, term, variants, allowed, _ = cells
        terms.append(Term(re.sub(r"\s*\(.*\)$", "", english), term,
                          re.findall(r"`([^`]+)`", variants),
                          [re.compile(pattern, re.M) for pattern in re.findall(r"`([^`]+)`", allowed)]))
    return terms


def term_violations(text, terms):
    """(variant, term, the text around it) for every variant in text that neither
    overlaps its row's term (提示 in 提示词, 书中 in 原书中) nor lies inside one of
    its row's allowed contexts."""
    found = []
    for row in terms:
        if not row.variants:
            continue
        allowed = [(m.start(), m.end()) for pattern in row.allowed for m in pattern.finditer(text)]
        term = [(m.start(), m.end()) for m in re.finditer(re.escape(row.term), text)]
        for variant in row.variants:
            for m in re.finditer(re.escape(variant), text):
                if not any(start <= m.start() and m.end() <= end for start, end in allowed) and \
                        not any(m.start() < end and start < m.end() for start, end in term):
                    around = text[max(0, m.start() - 20):m.end() + 20].replace("\n", "⏎")
                    found.append((variant, row.term, around))
    return found


TERMS = read_terms(TERMS_MD.read_text(encoding="utf-8"))


def test_terms_md_decides_the_terms_the_issue_names():
    decided = {row.english for row in TERMS}
    for concept in ("prompt", "hint", "output head", "feed forward network", "greedy decoding",
                    "sampling", "the book", "the course's package", "token", "layer normalization",
                    "shortcut connection", "weight tying", "logits", "embedding", "attention head",
                    "KV cache", "temperature", "top-k sampling", "top-p sampling", "explorer",
                    "exercise check", "parameter", "argument"):
        assert concept in decided, f"translations/zh/terms.md has no row for {concept!r}"
    assert any("训练初探" == row.term for row in TERMS), "terms.md does not decide notebook 11's title"
    terms = [row.term for row in TERMS]
    assert len(terms) == len(set(terms)), "terms.md gives one Chinese term to two concepts"
    variants = [v for row in TERMS for v in row.variants]
    assert len(variants) == len(set(variants)), "terms.md lists a variant twice"


def test_no_chinese_text_uses_a_variant_term():
    problems = [f"{where}: {variant!r} -> write {term!r} (…{around}…)"
                for where, text in chinese_texts() for variant, term, around in term_violations(text, TERMS)]
    assert not problems, (
        "texts that use a variant of a decided term (translations/zh/terms.md); change the "
        "translation in translations/zh/NN_name.md (then rebuild the notebook), the locale "
        "message, README.zh.md or translations/zh/glossary.md:\n" + "\n".join(problems))


def test_the_term_test_catches_a_planted_variant_and_spares_allowed_contexts():
    caught = lambda text: [variant for variant, _, _ in term_violations(text, TERMS)]
    assert caught("先输入提示，再逐个输入词元。") == ["提示"]          # prompt written as 提示
    assert caught("# 提示：3 个词元") == ["提示"]                      # in a code comment too
    assert caught("先输入提示词，再逐个输入词元。") == []              # the term itself
    assert caught("检查会告诉你答案是否正确，不对时还会给出提示。") == []  # a check's hint
    assert caught("提示：用第 6 节的 `derivative` 函数。") == []        # an exercise's hint line
    assert caught("用哪一个的答案都算对）。提示：用第 6 节的函数。") == []
    assert caught("按单元格打印的提示先设置镜像。") == []              # the hint a cell prints
    assert caught("和书中一样，随机种子在构建模型之前设定。") == ["书中"]
    assert caught("和原书中一样。") == []
    assert caught("在笔记本电脑上更快。") == [] and caught("在笔记本上运行。") == ["笔记本"]
    assert caught("前馈网络的两层") == ["前馈网络"] and caught("前馈神经网络的两层") == []
    assert caught("这里用令牌。") == ["令牌"]


def _glossary_pairs(english_glossary):
    """(English concept, Chinese term) for every glossary row, a row "a / b" giving two."""
    pairs = []
    for _, english, chinese, _, _ in build.glossary_rows(english_glossary):
        english_parts = [re.sub(r"\s*\(.*\)$", "", part) for part in english.split(" / ")]
        chinese_parts = [re.split(r"[（(]", part)[0].strip() for part in chinese.split(" / ")]
        if len(chinese_parts) != len(english_parts):
            chinese_parts = chinese_parts[:1] * len(english_parts)
        pairs += list(zip(english_parts, chinese_parts))
    return pairs


def glossary_disagreements(english_glossary, terms):
    """Rows where the glossary's Chinese term (before any （…）) is not terms.md's term."""
    decided = {row.english: row.term for row in terms}
    return [f"{english}: the glossary says {chinese!r}, terms.md says {decided[english]!r}"
            for english, chinese in _glossary_pairs(english_glossary)
            if english in decided and chinese != decided[english]]


def test_the_glossary_and_terms_md_agree():
    english_glossary = (build.NOTEBOOKS / "glossary.md").read_text(encoding="utf-8")
    problems = glossary_disagreements(english_glossary, TERMS)
    assert not problems, (
        "the glossary's Chinese column (notebooks/glossary.md) and translations/zh/terms.md "
        "disagree; decide once, change both, then run .venv/bin/python "
        "scripts/build_zh_notebooks.py glossary:\n" + "\n".join(problems))
    shared = {english for english, _ in _glossary_pairs(english_glossary)} & {row.english for row in TERMS}
    assert len(shared) >= 20, f"terms.md and the glossary share only {sorted(shared)}: same English wording?"


def test_the_agreement_test_catches_a_changed_glossary_term():
    english_glossary = (build.NOTEBOOKS / "glossary.md").read_text(encoding="utf-8")
    planted = english_glossary.replace("| sampling | 采样 |", "| sampling | 抽样 |")
    assert planted != english_glossary
    assert glossary_disagreements(planted, TERMS) == [
        "sampling: the glossary says '抽样', terms.md says '采样'"]


# ------------------------------------------------------------ messages

def _gaps(text):
    """Spaces between two Chinese characters (or full-width punctuation)."""
    return [text[max(0, m.start() - 8):m.end() + 8]
            for m in re.finditer(f"(?<=[{CJK_CHARS}]) +(?=[{CJK_CHARS}])", text)]


def names_in_messages(tree, zh):
    """(template, placeholder, the Chinese text put into it) for every
    tr("... {placeholder} ...", placeholder=tr(X)) whose X is a string literal or
    a module-level string constant (a name passed through a variable is not seen)."""
    constants = {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                 for target in node.targets if isinstance(target, ast.Name)}
    is_tr = lambda node: isinstance(node, ast.Call) and getattr(node.func, "id", None) == "tr" and node.args
    found = []
    for node in ast.walk(tree):
        if not (is_tr(node) and isinstance(node.args[0], ast.Constant)):
            continue
        for keyword in node.keywords:
            if is_tr(keyword.value):
                inner = keyword.value.args[0]
                english = inner.value if isinstance(inner, ast.Constant) else constants.get(getattr(inner, "id", None))
                if isinstance(english, str) and node.args[0].value in zh and english in zh:
                    found.append((zh[node.args[0].value], keyword.arg, zh[english]))
    return found


def spaced_names(template, placeholder, value):
    """The gaps a Chinese value leaves in the template (the template's own don't count)."""
    filled = re.sub(r"\{" + placeholder + r"(?:[!:][^}]*)?\}", lambda m: value, template)
    return list(dict.fromkeys(gap for gap in _gaps(filled) if gap not in _gaps(template)))


def test_a_chinese_name_in_a_message_has_no_spaces_around_it():
    from gpt_course.language import catalog

    zh = catalog("zh")
    package = REPO / "gpt_course"
    problems = [f"{path.relative_to(REPO)}: {{{placeholder}}} = {value!r} in {template!r}: …{gap}…"
                for path in sorted(package.rglob("*.py"))
                for template, placeholder, value in names_in_messages(ast.parse(path.read_text(encoding="utf-8")), zh)
                for gap in spaced_names(template, placeholder, value)]
    assert not problems, (
        "a Chinese name put into a message sits between spaces; in the message's Chinese "
        "(gpt_course/locale/zh/*.json) write the placeholder with no space on a Chinese side "
        "(你的{name}在, not 你的 {name} 在):\n" + "\n".join(problems))


def test_the_message_check_catches_a_spaced_chinese_name():
    tree = ast.parse('NAME = "attention"\ntr("your {name} failed", name=tr(NAME))\n'
                     'tr("on {where}", where=tr("the input"))\n')
    zh = {"your {name} failed": "你的 {name} 失败了", "attention": "注意力层",
          "on {where}": "在{where}上", "the input": "输入"}
    found = names_in_messages(tree, zh)
    assert found == [("你的 {name} 失败了", "name", "注意力层"), ("在{where}上", "where", "输入")]
    assert spaced_names(*found[0]) == ["你的 注意力层 失败了"] and spaced_names(*found[1]) == []
    assert spaced_names("你的 {name} 失败了", "name", "LayerNorm") == []  # spaces next to Latin are right


# ------------------------------------------------------------ typography

def _without_math(text):
    """text with $...$ and $$...$$ outside code replaced by M: JupyterLab and GitHub
    render math before markdown, so * and _ inside it are not emphasis."""
    parts = re.split(r"(```.*?```|`[^`\n]*`)", text, flags=re.S)
    for k in range(0, len(parts), 2):
        parts[k] = re.sub(r"\$\$.*?\$\$|\$[^$\n]+\$", "M", parts[k], flags=re.S)
    return "".join(parts)


def _line(text, fragment):
    """The 1-based line of fragment in text (where a whole file is checked)."""
    index = text.find(fragment)
    return f" line {text.count(chr(10), 0, index) + 1}" if index >= 0 else ""


def chinese_italics(text):
    """The text of every <em> that holds Chinese."""
    html = MARKDOWN.render(_without_math(text))
    return [m.group(1) for m in re.finditer(r"<em>(.*?)</em>", html, flags=re.S)
            if re.search(f"[{CJK_CHARS}]", m.group(1))]


def literal_asterisks(text):
    """Every * left in the rendered text outside code: emphasis that did not render."""
    html = re.sub(r"<code>.*?</code>|<pre>.*?</pre>", " ", MARKDOWN.render(_without_math(text)), flags=re.S)
    plain = re.sub(r"<[^>]*>", "", html)
    return [m.group(0) for m in re.finditer(r".{0,15}\*.{0,15}", plain)]


def _inline_texts(text):
    """The rendered text of every inline run (paragraph, heading, list item, table
    cell): code spans as C, math as M, line breaks as ⏎, markup gone."""
    for token in MARKDOWN.parse(_without_math(text)):
        if token.type == "inline":
            parts = []
            for child in token.children or []:
                if child.type in ("text", "image"):
                    parts.append(child.content)
                elif child.type == "code_inline":
                    parts.append("C")
                elif child.type in ("softbreak", "hardbreak"):
                    parts.append("⏎")
            yield "".join(parts)


def spaces_after_full_width_punctuation(text):
    """Every full-width punctuation mark followed by a space and more text, as rendered."""
    pattern = re.compile(f"[{FULL_WIDTH_PUNCTUATION}][ \u00a0]+(?=[^\\s⏎])")
    return [run[max(0, m.start() - 12):m.end() + 12] for run in _inline_texts(text)
            for m in pattern.finditer(run)]


def line_breaks_in_chinese(text):
    """A line break inside a paragraph renders as a space (GitHub, JupyterLab's
    Chromium): between Chinese characters that is a stray gap."""
    gaps = []
    for token in MARKDOWN.parse(re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)):
        children = token.children or []
        for k, child in enumerate(children):
            if child.type != "softbreak":
                continue
            before = children[k - 1].content if k else ""
            after = children[k + 1].content if k + 1 < len(children) else ""
            if re.search(f"[{CJK_CHARS}]$", before) or re.match(f"[{CJK_CHARS}]", after):
                gaps.append(f"{before[-12:]}⏎{after[:12]}")
    return gaps


def _report(check):
    return [f"{where}{_line(text, found) if where.endswith('.md') else ''}: …{found}…"
            for where, text in markdown_texts() for found in check(text)]


def test_no_italics_on_chinese_text():
    problems = _report(chinese_italics)
    assert not problems, (
        "italics on Chinese text (browsers draw a fake slant: Chinese has no italic); write "
        "**bold** or 「」 quotes instead of *…* or _…_ (italic English alone is fine):\n" + "\n".join(problems))


def test_chinese_emphasis_renders():
    """`**用时：**约` stays literal in CommonMark (GitHub, JupyterLab): a closing
    ** after full-width punctuation must be followed by a space or punctuation."""
    problems = _report(literal_asterisks)
    assert not problems, (
        "emphasis shown as literal asterisks; move the full-width punctuation out of the bold run "
        "(`**用时**：约`, not `**用时：**约`):\n" + "\n".join(problems))


def test_no_space_after_full_width_punctuation():
    problems = _report(spaces_after_full_width_punctuation)
    assert not problems, (
        "a space after full-width punctuation (。，：） and the like already carry their own space); "
        "delete the space, and where it follows a bold run, move the punctuation out of it "
        "(`**还不对**：并`, not `**还不对：** 并`):\n" + "\n".join(problems))


def test_no_line_break_inside_chinese_text():
    problems = _report(line_breaks_in_chinese)
    assert not problems, "line breaks inside Chinese text render as a space; join the lines:\n" + \
        "\n".join(problems)


@pytest.mark.parametrize("markdown, check, found", [
    ("这是*斜体*的中文。", chinese_italics, ["斜体"]),
    ("这是 _斜体_ 的中文。", chinese_italics, ["斜体"]),
    ("*[English version](../x.md)*，以及 $a*b*c$ 和 `*代码*`。", chinese_italics, []),
    ("**用时：**约 5 分钟。", literal_asterisks, ["**用时：**约 5 分钟。"]),
    ("**用时**：约 5 分钟。", literal_asterisks, []),
    ("它会回答 **还不对：** 并附上提示。", spaces_after_full_width_punctuation, ["它会回答 还不对： 并附上提示。"]),
    ("第一句。 第二句。", spaces_after_full_width_punctuation, ["第一句。 第二句。"]),
    ("| 表头 | 值 |\n|---|---|\n| 一致率： | 99% |", spaces_after_full_width_punctuation, []),
    ("运行 `a。 b` 与\n\n```\n句号。 空格\n```\n", spaces_after_full_width_punctuation, []),
    ("第一行，\n第二行。", line_breaks_in_chinese, ["第一行，⏎第二行。"]),
    ("English line\nanother line", line_breaks_in_chinese, []),
])
def test_the_typography_checks_catch_what_they_should(markdown, check, found):
    assert check(markdown) == found


# ------------------------------------------------------------ code output

# Words that stay English in Chinese text too (names, as the glossary keeps them).
SAME_IN_CHINESE = {"ReLU", "GELU", "LayerNorm", "Dropout", "softmax", "logits", "logit", "argmax",
                   "GPT", "OK", "True", "False", "None", "torch", "tiktoken", "numpy", "matplotlib",
                   "ipywidgets", "safetensors", "bfloat16", "float32", "int8", "bf16", "nan", "inf"}

# Cells whose printed English stays, and why. A cell leaves the list once its output is Chinese.
ENGLISH_OUTPUT = {
    ("08_greedy_generation", "generate"): "the text GPT-2 generates is English",
    ("09_faster_generation", "c09-28"): "the text GPT-2 generates is English",
    ("09_faster_generation", "c09-35"): "the sampled tokens are English words",
}


def english_lines(text):
    """Printed lines with no Chinese and two or more English words outside quotes
    (quoted text is what the model reads or writes) that are not the text of an
    error (the package's error messages stay English, for programmers)."""
    lines = []
    for line in text.splitlines():
        if CJK.search(line) or re.match(r"\s*\w*(Error|Exception|Warning)\b", line):
            continue
        unquoted = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", " ", line)
        words = [w for w in unquoted.split()
                 if re.fullmatch(r"[(\[]?[A-Za-z]{2,}'?[,.;:?!)\]]*", w) and w.strip("()[],.;:?!'") not in SAME_IN_CHINESE]
        if len(words) >= 2:
            lines.append(line.strip())
    return lines


def _printed(cell):
    return "".join(output.get("text", "") for output in cell.get("outputs", [])
                   if output.output_type == "stream" and output.name == "stdout")


def english_output_without_a_word(name, cells):
    """(cell id, first English line) for each code cell printing English that is
    neither listed nor next to markdown saying the output stays English (英文)."""
    found = []
    for k, cell in enumerate(cells):
        if cell.cell_type != "code" or (name, cell.id) in ENGLISH_OUTPUT:
            continue
        lines = english_lines(_printed(cell))
        if not lines:
            continue
        above = next((c.source for c in reversed(cells[:k]) if c.cell_type == "markdown"), "")
        below = next((c.source for c in cells[k + 1:] if c.cell_type == "markdown"), "")
        if "英文" not in above and "英文" not in below:
            found.append((cell.id, lines[0]))
    return found


@pytest.mark.parametrize("name", NAMES)
def test_printed_output_is_chinese_or_says_why_not(name):
    problems = [f"notebooks/zh/{name}.ipynb cell {cell_id} prints {line!r}"
                for cell_id, line in english_output_without_a_word(name, _notebook_cells(name))]
    assert not problems, (
        "code cells printing English with no word on why; translate the printed labels (the "
        f"string literals, in the cell's code section of translations/zh/{name}.md), or say in "
        "the markdown just above or below that the output stays as the book prints it, in "
        "English (the sentence must say 英文), then rebuild the notebook:\n" + "\n".join(problems))


def test_english_output_allowances_are_still_needed():
    stale = [f"{name} {cell_id} ({why})" for (name, cell_id), why in ENGLISH_OUTPUT.items()
             if not english_lines(_printed(next(c for c in _notebook_cells(name) if c.id == cell_id)))]
    assert not stale, "ENGLISH_OUTPUT lists cells that print no English line any more; remove them:\n" + \
        "\n".join(stale)


def test_the_output_check_catches_an_english_label():
    code = lambda text, cell_id="c1": nbformat.v4.new_code_cell(
        "", id=cell_id, outputs=[nbformat.v4.new_output("stream", name="stdout", text=text)])
    markdown = lambda text: nbformat.v4.new_markdown_cell(text)
    assert english_lines("Total number of parameters: 163,009,536\n") == ["Total number of parameters: 163,009,536"]
    assert english_lines("参数总数：163,009,536\n'Every effort moves you' -> [6109]\n") == []
    assert english_lines("ValueError: token ids must be in [0, 50257)\ntensor([True, False])\n") == []
    assert english_output_without_a_word("nb", [markdown("统计参数。"), code("Total number of parameters: 1\n")]) \
        == [("c1", "Total number of parameters: 1")]
    assert english_output_without_a_word("nb", [markdown("输出保持原书的英文。"), code("Total number of parameters: 1\n")]) == []
    assert english_output_without_a_word("08_greedy_generation", [code("Hello, I am a model\n", "generate")]) == []


def test_not_written_yet_spaces_a_code_name_and_not_a_chinese_one():
    """The one shared message a name reaches through a variable (the check above
    cannot see it): 你的 LayerNorm 仍然抛出, but 你的带 KV 缓存的注意力层仍然抛出."""
    from gpt_course.exercises.code_check import not_written_yet
    from gpt_course.exercises.nb09_faster_generation import ATTENTION_NAME
    from gpt_course.language import speaking, tr

    err = NotImplementedError()
    with speaking("zh"):
        assert not_written_yet("LayerNorm", err).startswith("你的 LayerNorm 仍然抛出 NotImplementedError：")
        chinese = not_written_yet(tr(ATTENTION_NAME), NotImplementedError("轮到你了"))
        assert chinese.startswith(f"你的{tr(ATTENTION_NAME)}仍然抛出 NotImplementedError（轮到你了）"), chinese
        assert not _gaps(chinese), chinese
    assert not_written_yet("LayerNorm", err).startswith("your LayerNorm still raises NotImplementedError:")
