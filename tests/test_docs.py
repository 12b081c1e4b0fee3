"""The documentation lists what the tests check: docs/reliability.md's bad-input table is the catalogue."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_reliability_table_lists_every_bad_input_case_in_order():
    from test_bad_inputs import CASES

    text = (DOCS / "reliability.md").read_text(encoding="utf-8")
    table = text[text.index("| # | bad input |"):]
    rows = re.findall(r"^\| (\d+) \| (.*?) \| (.*?) \|$", table, flags=re.M)
    assert [int(n) for n, _, _ in rows] == list(range(1, len(rows) + 1))
    assert [name.replace("`", "") for _, name, _ in rows] == list(CASES)
