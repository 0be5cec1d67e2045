"""Writing figures: one way for every report and analysis module (no torch)."""

from __future__ import annotations

from pathlib import Path


def save_figure(fig, figures_dir: str | Path, name: str, dpi: int = 120) -> Path:
    """Save `fig` as `figures_dir/name` (folder created), cropped to its content; returns the path."""
    out = Path(figures_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path
