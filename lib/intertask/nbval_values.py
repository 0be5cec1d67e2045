"""pytest plugin for nbval: a cell that records values (`intertask.values.record_values`) is checked by them.

Load it with `-p intertask.nbval_values` next to `--nbval-lax`. In a checked cell
(tag `nbval-check-output`) that records values, the recorded values are compared with the
recomputed ones within `FLOAT_ABS_TOL` (exactly for counts, ids, names), and the cell's other
outputs (printed tables) are shown for the reader but not compared, so formatting may change
freely. Checked cells without recorded values keep nbval's sanitized text comparison.
"""

from __future__ import annotations

from pathlib import Path

from nbval.plugin import IPyNbCell

from intertask.values import FLOAT_ABS_TOL, compare_values, values_in

# nbval builds its cell items itself (no hook for a subclass), so the comparison is wrapped in place
_nbval_compare = IPyNbCell.compare_outputs


def _compare_outputs(self, test, ref, skip_compare=None) -> bool:
    expected = values_in(ref)
    if expected is None:
        return _nbval_compare(self, test, ref, skip_compare)
    got = values_in(test) or {}
    mismatches = compare_values(expected, got)
    self.comparison_traceback = [
        f"{Path(str(self.fspath)).name}: cell {self.cell_num}: recorded value {m}" for m in mismatches]
    if mismatches:
        self.comparison_traceback.append(f"(floats compare within abs {FLOAT_ABS_TOL:g}; counts, ids and names exactly)")
    return not mismatches


def pytest_configure(config) -> None:
    IPyNbCell.compare_outputs = _compare_outputs


def pytest_unconfigure(config) -> None:
    IPyNbCell.compare_outputs = _nbval_compare
