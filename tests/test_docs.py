"""The README says what is there: its layout names only paths that exist, its rule table is one.

A layout that names a file which became a package (``cli.py`` -> ``cli/``), or a rule table cut
in two by a blank line (Markdown then renders the second half as a paragraph of pipes), misleads
the reader who trusts the README; both happened.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
TOKEN = re.compile(r"`([^`]+)`|([()])")


def section(title: str, text: str = README) -> str:
    """The body of the ``## title`` section, up to the next heading of that level."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert match, f"the README has no section {title!r}"
    return match.group(1)


def layout_paths(text: str) -> list[tuple[str, list[Path]]]:
    """Each path the layout names, with the folders it may be relative to.

    A bullet reads ``- `folder/`: ... `file.py` ... `sub/` (`inner.py`, ...)``: names are relative
    to the bullet's folder, names inside parentheses to the folder just before them, and a name
    may also be given from the repository's root.
    """
    found: list[tuple[str, list[Path]]] = []
    for bullet in re.split(r"^- ", text, flags=re.M)[1:]:
        bases = [ROOT]
        last: Path | None = None
        for match in TOKEN.finditer(bullet):
            name, paren = match.groups()
            if paren == "(":
                bases.append(last or bases[-1])
            elif paren == ")":
                bases.pop() if len(bases) > 1 else None
            elif name and ("/" in name or "." in name) and " " not in name:
                candidates = list(dict.fromkeys([bases[-1], bases[min(1, len(bases) - 1)], ROOT]))
                found.append((name, candidates))
                where = next((base / name for base in candidates if (base / name).exists()), None)
                if name.endswith("/") and where is not None:
                    last = where
                    if len(bases) == 1:
                        bases.append(where)  # the bullet's own folder
    return found


def test_the_layout_names_only_paths_that_exist() -> None:
    named = layout_paths(section("Layout"))
    assert len(named) > 15, "the layout parser no longer finds the layout's names"
    missing = [name for name, bases in named if not any((base / name).exists() for base in bases)]
    assert not missing, f"the README's layout names paths that do not exist: {missing}"


def test_the_layout_check_catches_a_file_that_became_a_package() -> None:
    stale = "- `matcher/`: the service: `server.py`, `cli.py`, `console/` (`web.py`, `nothing.py`).\n"
    named = layout_paths(stale)
    missing = [name for name, bases in named if not any((base / name).exists() for base in bases)]
    assert missing == ["cli.py", "nothing.py"]


def table_blocks(text: str) -> list[list[str]]:
    """The Markdown tables of a text: runs of consecutive lines starting with ``|``."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def test_the_rule_table_is_one_table_in_rule_order() -> None:
    blocks = table_blocks(section("Policy rules enforced"))
    assert len(blocks) == 1, f"the rule table is split into {len(blocks)} pieces: {[b[0] for b in blocks]}"
    [table] = blocks
    assert table[0].startswith("| rule |") and set(table[1]) <= {"|", "-", ":"}
    rules = [row.split("|")[1].strip() for row in table[2:]]
    numbers = [int(rule.removeprefix("P")) for rule in rules]
    assert numbers == sorted(set(numbers)), f"rules out of order or repeated: {rules}"
    for policy in (ROOT.parent / "shared" / "POLICY.md", ROOT.parent.parent / "shared" / "POLICY.md"):
        if policy.exists():  # every rule named is a rule of the policy
            assert all(f"**{rule} " in policy.read_text() for rule in rules), rules


def test_the_table_check_catches_a_blank_line() -> None:
    split = "| rule | what | where |\n|---|---|---|\n| P1 | a | b |\n\n| P5 | c | d |\n"
    assert len(table_blocks(split)) == 2
