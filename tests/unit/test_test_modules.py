"""pytest imports test modules by their base name (rootdir-relative packages are not used here):
two test files of one name in different folders stop `make test` at collection with "import
file mismatch". This holds them apart before a full run would."""

from __future__ import annotations

from collections import Counter

from text2image.paths import ROOT


def test_no_two_test_modules_share_a_name() -> None:
    names = Counter(path.name for path in (ROOT / "tests").rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
