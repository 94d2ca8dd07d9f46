"""Determinism: every notebook passes strict nbval twice in a row.

The README's test command already runs strict nbval over notebooks/ once (the
`notebooks` test path). This test runs the same strict nbval pass a second time,
in its own pytest process with fresh kernels, so each notebook is executed twice
and both runs must reproduce the stored outputs cell for cell. Two runs that
both equal the stored outputs equal each other, apart from what
nbval_sanitize.cfg masks on purpose (memory addresses, wall-clock timings) and
the two cells marked NBVAL_IGNORE_OUTPUT (a timing plot in 09, the optional
download in 10). A notebook that printed an unseeded random number, a dict in
hash order, or anything else that drifts between runs fails here.

Deselect while iterating on the package:  bash scripts/test.sh -m "not determinism"
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The English notebooks and the Chinese edition built from them (notebooks/zh/).
NOTEBOOKS = (sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
             + sorted((REPO / "notebooks" / "zh").glob("[0-9][0-9]_*.ipynb")))


@pytest.mark.determinism
def test_every_notebook_passes_strict_nbval_a_second_time():
    assert len(NOTEBOOKS) >= 24, "expected the course's notebooks 00-11, in English and Chinese"
    env = {**os.environ, "COLUMNS": "80", "CUDA_VISIBLE_DEVICES": "",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    # The repo's pytest config (pyproject.toml) adds --nbval (strict, not
    # --nbval-lax) and the sanitize file, as for the first pass.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA",
         *[str(path.relative_to(REPO)) for path in NOTEBOOKS]],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1800,
    )
    tail = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, f"second strict nbval run failed:\n{tail}"
    # Every notebook had its cells compared (-rA lists each passed cell), and
    # nothing was skipped.
    passed = set(re.findall(r"^PASSED notebooks/(\S+\.ipynb)::", result.stdout, re.MULTILINE))
    shown = [path.relative_to(REPO / "notebooks").as_posix() for path in NOTEBOOKS]
    missing = sorted(name for name in shown if name not in passed)
    assert not missing, f"no cell of {missing} passed the second run:\n{tail}"
    assert "skipped" not in result.stdout.splitlines()[-1], tail
