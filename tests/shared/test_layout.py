"""pytest imports test modules of folders without `__init__.py` by their basename: two such modules with the same
name stop the whole run at collection ("import file mismatch"), which a run of one folder never shows."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def clashes(root: Path) -> dict[str, list[str]]:
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in sorted(root.rglob("test_*.py")):
        if not (path.parent / "__init__.py").exists():
            by_name[path.name].append(str(path.relative_to(root)))
    return {name: paths for name, paths in by_name.items() if len(paths) > 1}


def test_rootless_test_modules_have_unique_basenames() -> None:
    assert clashes(TESTS) == {}


def test_a_clash_is_named_and_packages_are_exempt(tmp_path: Path) -> None:
    for folder in ("a", "b", "pkg"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "test_x.py").write_text("")
    (tmp_path / "pkg" / "__init__.py").write_text("")
    assert clashes(tmp_path) == {"test_x.py": ["a/test_x.py", "b/test_x.py"]}
