"""docs/reliability.md stays true: every row names a test that exists, with an exit code that fits."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reliability.md"
GROUPS = set(range(1, 14))


def _rows():
    rows = []
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[\d, ]+", cells[0]):
            rows.append(cells)
    return rows


def _test_names(path: Path) -> set:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def test_every_row_names_an_existing_test_and_a_valid_exit_code():
    rows = _rows()
    assert len(rows) >= 40
    for group, case, behaviour, code, test in rows:
        assert case and behaviour, test
        assert code in {"0", "1", "2", "130"}, (case, code)
        m = re.fullmatch(r"`(tests/[\w/]+\.py)::(test_\w+)`", test)
        assert m, f"row {case!r}: the test column must be `tests/...py::test_name`, got {test!r}"
        path = ROOT / m.group(1)
        assert path.is_file(), f"{m.group(1)} does not exist"
        assert m.group(2) in _test_names(path), f"{m.group(2)} is not a test in {m.group(1)}"


def test_the_table_covers_every_group():
    seen = {int(g) for row in _rows() for g in row[0].split(",")}
    text = PAGE.read_text(encoding="utf-8")
    pending = text.split("## Not covered yet", 1)[1] if "## Not covered yet" in text else ""
    listed = {int(g) for g in re.findall(r"\(group (\d+)\)", pending)}  # whole groups still open
    assert seen | listed == GROUPS


def test_usage_errors_are_2_and_runtime_failures_1():
    from xnet_edge.errors import ContractError, OutputError, UsageError, XnetEdgeError
    from xnet_edge.engine.manifest import ManifestError

    assert UsageError.exit_code == ContractError.exit_code == ManifestError.exit_code == 2
    assert XnetEdgeError.exit_code == OutputError.exit_code == 1
