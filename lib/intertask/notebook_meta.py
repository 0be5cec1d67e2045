"""Notebook metadata as JupyterLab writes it, so opening a notebook in Lab does not mark it unsaved.

Lab replaces a notebook's `kernelspec` with the kernel's own spec and `language_info` with what the
kernel reports, and saves the current nbformat minor version with cell ids; a notebook that already
holds exactly those is left unchanged. `python -m intertask.notebook_meta --check notebooks/*.ipynb`
lists notebooks that are not normalised (exit status 1); without --check it rewrites them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def language_info() -> dict:
    """What ipykernel reports for this interpreter (Lab copies it into the notebook on connect)."""
    major = sys.version_info[0]
    return {"codemirror_mode": {"name": "ipython", "version": major}, "file_extension": ".py",
            "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
            "pygments_lexer": f"ipython{major}", "version": sys.version.split()[0]}


def normalised(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `nb` with Lab's metadata; cell contents and other metadata are kept."""
    out = nbformat.from_dict(nb)
    out.metadata["kernelspec"] = dict(KERNELSPEC)
    out.metadata["language_info"] = language_info()
    out.nbformat, out.nbformat_minor = nbformat.current_nbformat, nbformat.current_nbformat_minor
    for i, cell in enumerate(out.cells):
        cell.setdefault("id", f"cell-{i:02d}")
    return out


def differences(path: str | Path) -> list[str]:
    """What Lab would rewrite in the notebook at `path` (empty when it is normalised)."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))  # as stored: nbformat.read would add cell ids
    nb = nbformat.from_dict(raw)
    want = normalised(nb)
    found = []
    for key in ("kernelspec", "language_info"):
        if nb.metadata.get(key) != want.metadata[key]:
            found.append(f"metadata.{key}: {dict(nb.metadata.get(key) or {})} -> {dict(want.metadata[key])}")
    if (nb.nbformat, nb.nbformat_minor) != (want.nbformat, want.nbformat_minor):
        found.append(f"nbformat {nb.nbformat}.{nb.nbformat_minor} -> {want.nbformat}.{want.nbformat_minor}")
    if any("id" not in c for c in nb.cells):
        found.append("cells without ids")
    return found


def normalise(path: str | Path) -> bool:
    """Rewrite the notebook with Lab's metadata; True when it changed."""
    if not differences(path):
        return False
    nb = nbformat.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    nbformat.write(normalised(nb), str(path))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m intertask.notebook_meta", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--check", action="store_true", help="only list what Lab would rewrite; exit 1 if anything")
    args = parser.parse_args(argv)
    bad = 0
    for path in args.notebooks:
        if args.check:
            for d in differences(path):
                print(f"{path}: {d}")
                bad = 1
        elif normalise(path):
            print(f"normalised {path}")
    if bad:
        print("fix: python -m intertask.notebook_meta " + " ".join(args.notebooks), file=sys.stderr)
    return bad


if __name__ == "__main__":
    sys.exit(main())
