"""The instructions of every "your turn" exercise can be trusted:

- the hidden solution keeps every line the skeleton gives outside its TODOs
  (the learner only replaces the TODOs and the `raise NotImplementedError`),
  so following the skeleton literally leads to the solution;
- nothing the learner has seen before the exercise (the code cells of the
  earlier notebooks and of this one up to the skeleton, and every source that
  `show_source` displays there) holds what the exercise asks for nearly line
  for line: an exercise that can be transcribed teaches nothing.

"Nearly line for line": the lines the learner writes (the solution's lines that
are not the skeleton's), comments and whitespace left out, trivial ones (a
closing bracket, `else:`, `return x`) dropped; a line counts as shown when a
line of one earlier cell or source is the same up to a small edit (difflib ratio
>= 0.9, e.g. another variable name of similar length), in the same order (the
longest common subsequence). More than 60% of the lines shown in one place
fails. Exercise 4.3 (separate dropout rates) is left out on purpose: it is the
book's runnable code, changed in a few places.
"""

import difflib
import inspect
import re

import pytest

from solutions import _namespace, notebook_cells, skeleton_code, solution_code, NOTEBOOKS
from test_yourturn_notebooks import RUNNABLE_SKELETONS, YOUR_TURN

EXERCISES = [(nb, check) for nb, check in YOUR_TURN if check not in RUNNABLE_SKELETONS]
SAME_LINE = 0.9       # difflib ratio from which two normalized lines count as the same
MOST_SHOWN = 0.6      # the share of the learner's lines one earlier place may show
_TRIVIAL = re.compile(r"^(|[)\]}]+,?|else:|try:|pass|return\w*)$")
_SHOW_SOURCE = re.compile(r"^show_source\((.+)\)\s*$", re.M)


def _code(line):
    """A line without its comment and its whitespace (strings keep their '#')."""
    out, quote = [], None
    for ch in line:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        out.append(ch)
    return re.sub(r"\s+", "", "".join(out))


def _given_lines(skeleton):
    """The skeleton's lines outside its TODOs: neither a TODO comment (nor the
    comment lines continuing it) nor the `raise NotImplementedError` line."""
    given, in_todo = [], False
    for line in skeleton.splitlines():
        stripped = line.strip()
        if stripped.startswith("# TODO"):
            in_todo = True
            continue
        if in_todo and re.match(r"#\s{2,}\S", stripped):  # "#         more of the TODO"
            continue
        in_todo = False
        if stripped.startswith("raise NotImplementedError"):
            continue
        if stripped:
            given.append(re.sub(r"\s+", " ", stripped))
    return given


def _learner_lines(notebook, check):
    """The solution's lines that the skeleton does not give, as code."""
    solution = [_code(line) for line in solution_code(notebook, check).splitlines()]
    skeleton = [_code(line) for line in skeleton_code(notebook, check).splitlines()]
    matcher = difflib.SequenceMatcher(None, solution, skeleton, autojunk=False)
    written = [solution[i] for tag, i1, i2, _, _ in matcher.get_opcodes() if tag != "equal"
               for i in range(i1, i2)]
    return [line for line in written if not _TRIVIAL.match(line)]


def _shown_source(expression, namespace, outputs):
    """What `show_source(expression)` displays: the object's source as it is now
    (not a stale stored output), or the stored output where it cannot be had."""
    try:
        return inspect.getsource(eval(expression, dict(namespace)))
    except Exception:
        return "\n".join(text for text in outputs if text.startswith("# source:"))


def _seen_before(notebook, check):
    """(where, text) for every code cell and show_source display the learner has
    met before the exercise's skeleton cell."""
    names = sorted(path.stem for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    seen = []
    for name in names[: names.index(notebook) + 1]:
        namespace = _namespace(name)
        for cell in notebook_cells(name):
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            if name == notebook and f"{check}(" in source and "NotImplementedError" in source:
                return seen
            seen.append((f"{name} cell {cell.get('id')}", source))
            outputs = ["".join(out.get("text") or out.get("data", {}).get("text/plain") or "")
                       for out in cell.get("outputs", [])]
            for expression in _SHOW_SOURCE.findall(source):
                seen.append((f"{name} cell {cell.get('id')}: show_source({expression})",
                             _shown_source(expression, namespace, outputs)))
    raise AssertionError(f"{notebook}: no skeleton cell calling {check}")


def _same(a, b):
    return a == b or difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= SAME_LINE


def _shown_in_order(wanted, text):
    """How many of the `wanted` lines `text` holds, in order (longest common
    subsequence, lines compared with _same)."""
    lines = [line for line in map(_code, text.splitlines()) if not _TRIVIAL.match(line)]
    best = [0] * (len(lines) + 1)
    for want in wanted:
        previous_diagonal = 0
        for j, line in enumerate(lines):
            here = previous_diagonal + 1 if _same(want, line) else max(best[j + 1], best[j])
            previous_diagonal, best[j + 1] = best[j + 1], here
    return best[-1]


@pytest.mark.parametrize("notebook, check", EXERCISES)
def test_the_solution_keeps_every_line_the_skeleton_gives(notebook, check):
    solution = [re.sub(r"\s+", " ", line.strip()) for line in solution_code(notebook, check).splitlines()]
    given = _given_lines(skeleton_code(notebook, check))
    assert given, f"{notebook}: the skeleton of {check} gives no line"
    matcher = difflib.SequenceMatcher(None, given, solution, autojunk=False)
    kept = sum(block.size for block in matcher.get_matching_blocks())
    missing = [line for line in given if line not in solution]
    assert kept == len(given) and not missing, (
        f"{notebook}: the hidden solution of {check} changes or drops lines the skeleton gives "
        f"outside its TODOs (a learner following it literally would not get there): {missing}")


@pytest.mark.parametrize("notebook, check", EXERCISES)
def test_the_exercise_is_not_printed_before_it(notebook, check):
    wanted = _learner_lines(notebook, check)
    assert len(wanted) >= 2, f"{notebook}: {check} asks for almost nothing: {wanted}"
    worst = max(((_shown_in_order(wanted, text), where) for where, text in _seen_before(notebook, check)),
                default=(0, "nothing"))
    assert worst[0] <= MOST_SHOWN * len(wanted), (
        f"{notebook}: {worst[0]} of the {len(wanted)} lines the learner writes for {check} are "
        f"printed, in order, in {worst[1]} before the exercise: show that after the exercise "
        f"(with the solution), show only part of it, or ask for a variant")


def test_the_measure_sees_a_transcription():
    """The measure itself: the solution's own body, renamed a little, is found;
    the skeleton alone is not."""
    notebook, check = "08_greedy_generation", "check_generate_text_simple"
    wanted = _learner_lines(notebook, check)
    renamed = solution_code(notebook, check).replace("idx_cond", "ids_cond")
    assert _shown_in_order(wanted, renamed) == len(wanted)
    assert _shown_in_order(wanted, skeleton_code(notebook, check)) <= 1
