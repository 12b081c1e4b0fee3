"""README.zh-CN.md stays a translation of README.md: the same commands, the same table numbers, the same
sections and the same documentation links (prose may differ; facts may not)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EN = (ROOT / "README.md").read_text(encoding="utf-8")
ZH = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", flags=re.S | re.M)


def fenced(markdown: str) -> list[str]:
    """Bodies of the fenced code blocks, in order."""
    return FENCE.findall(markdown)


def prose(markdown: str) -> str:
    """The text outside the fenced code blocks."""
    return FENCE.sub("", markdown)


def command_lines(markdown: str, program: str) -> set[str]:
    """`program ...` lines of the fenced blocks: continuations joined, trailing comment and spacing dropped."""
    lines = set()
    for body in fenced(markdown):
        for line in body.replace("\\\n", " ").splitlines():
            if line.strip().startswith(program + " "):
                lines.add(" ".join(line.split(" #", 1)[0].split()))
    return lines


def inline_commands(markdown: str, program: str) -> set[str]:
    """`program ...` spans of inline code in the prose."""
    return {" ".join(span.split()) for span in re.findall(r"`([^`\n]+)`", prose(markdown))
            if span.startswith(program + " ")}


def table_numbers(markdown: str) -> set[str]:
    """Numbers with a decimal point or a percent sign in the table rows."""
    rows = "\n".join(line for line in prose(markdown).splitlines() if line.lstrip().startswith("|"))
    return numbers(rows)


def numbers(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w.])\d[\d,]*\.\d+%?|(?<![\w.])\d[\d,]*%", text))


def heading_levels(markdown: str) -> list[int]:
    return [len(m) for m in re.findall(r"^(#{2,3}) \S", prose(markdown), flags=re.M)]


def doc_links(markdown: str) -> set[str]:
    """Local .md link targets, with a translation counted as its original."""
    return {target.replace(".zh-CN.md", ".md") for target in re.findall(r"\]\(([^)#:]+\.md)\)", prose(markdown))}


def test_the_readmes_are_read_as_expected():
    # Guards the helpers: an empty set on both sides would make every test below pass.
    assert len(command_lines(EN, "gankit")) >= 15 and command_lines(EN, "make") == {"make demo", "make test"}
    assert {"0.852", "1.43", "291.1", "5.3"} <= table_numbers(EN)
    assert heading_levels(EN).count(2) >= 4 and heading_levels(EN).count(3) >= 7
    assert "docs/reliability.md" in doc_links(EN)


@pytest.mark.parametrize("program", ["gankit", "make"])
def test_the_same_commands_in_code_blocks(program):
    en, zh = command_lines(EN, program), command_lines(ZH, program)
    assert en == zh, f"only in README.md: {sorted(en - zh)}; only in README.zh-CN.md: {sorted(zh - en)}"


@pytest.mark.parametrize("program", ["gankit", "make"])
def test_the_same_commands_in_prose(program):
    en, zh = inline_commands(EN, program), inline_commands(ZH, program)
    assert en == zh, f"only in README.md: {sorted(en - zh)}; only in README.zh-CN.md: {sorted(zh - en)}"


def test_every_table_number_is_translated():
    missing = table_numbers(EN) - numbers(ZH)
    assert not missing, f"README.zh-CN.md lacks these numbers of README.md's tables: {sorted(missing)}"


def test_the_same_sections():
    assert heading_levels(ZH) == heading_levels(EN), "level-2/level-3 headings differ between the READMEs"


def test_the_same_documentation_links():
    en, zh = doc_links(EN) - {"README.md"}, doc_links(ZH) - {"README.md"}  # each links the other
    assert en == zh, f"only in README.md: {sorted(en - zh)}; only in README.zh-CN.md: {sorted(zh - en)}"
