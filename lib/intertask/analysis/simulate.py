"""Synthetic scaling studies with known truth, to measure whether the analysis's intervals cover.

The generative model (all in points, written to results.csv as fractions like real runs):

    baseline[seed, lang]        = base + lang_effect[lang] + b[seed] + e[lang]
    value[arm, k, draw, seed, lang] = base + lang_effect[lang] + truth(arm, k) + seen_effect * seen
                                  + u[arm, k, draw] + v[arm, k, draw, seed] + e[lang]

with u ~ N(0, draw_sd) (which tasks were drawn), v and b ~ N(0, seed_sd) (a training seed, the
baseline's included) and e ~ N(0, item_sd) (the finite item sample of one run in one language).
truth(arm, k) = offset[arm] + slope[arm] * k. With ``format_slots`` (arm -> per draw, the format of each
slot; the condition at k holds the first k slots, nested as the design draws them) every task of format
f adds ``format_effect[f]``, and conditions.csv gets the n_<format> counts. Everything is drawn for many studies at once
(leading axis), so hundreds of studies take milliseconds; `to_tables` turns one of them into the
results/conditions tables the runner writes. No torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..design import FORMATS
from ..report import gains as report_gains
from ..results import RESULT_COLUMNS
from .frame import scaling_frame
from .stats import MIN_CLUSTERS, Estimate, difference_estimate, holm, mean_estimate, slope_estimate


# one language per family (none of them a target below), so a diverse draw of k covers k families
_UNSEEN_POOL = ("fi", "ja", "ko", "ta", "eu", "id", "he", "te", "vi", "mr", "wo", "et")


@dataclass(frozen=True)
class SimSpec:
    """A design and its variance components (points). Defaults: params/scaling.yaml's sizes."""

    ks: tuple[int, ...] = (1, 2, 4, 8)
    draws: int = 3
    seeds: int = 3
    arms: tuple[str, ...] = ("english", "diverse")
    languages: tuple[str, ...] = ("en", "de", "ar", "hi", "sw", "th", "tr", "zh")
    train_language: str = "en"
    draw_sd: float = 1.5
    seed_sd: float = 0.5
    item_sd: float = 1.0
    language_sd: float = 5.0
    base: float = 60.0
    slope: dict = field(default_factory=dict)    # arm -> points per added task (default 0)
    offset: dict = field(default_factory=dict)   # arm -> points at k = 0 of the fitted line (default 0)
    seen_effect: float = 0.0                     # added where the target language was an intermediate one
    n_items: int = 300
    format_slots: dict = field(default_factory=dict)   # arm -> ((format of slot 1, 2, ...) per draw)
    format_effect: dict = field(default_factory=dict)  # format -> points per task of that format

    def format_counts(self, arm: str, k: int, draw: int) -> dict[str, int]:
        """Tasks of each format in (arm, k, draw) (draw from 0); {} without ``format_slots``."""
        if not self.format_slots:
            return {}
        slots = self.format_slots[arm][draw][:k]
        if len(slots) < k:
            raise ValueError(f"SimSpec.format_slots[{arm!r}][{draw}] has {len(slots)} slots; k = {k} needs {k}")
        return {f: slots.count(f) for f in FORMATS}

    def truth(self, arm: str, k: float) -> float:
        return float(self.offset.get(arm, 0.0) + self.slope.get(arm, 0.0) * k)

    def arm_difference(self, a: str, b: str, k: float | None = None) -> float:
        k = max(self.ks) if k is None else k
        return self.truth(a, k) - self.truth(b, k)


@dataclass
class SimStudies:
    """Arrays for n studies: baseline (n, S, L) and values (n, A, K, D, S, L), in points."""

    spec: SimSpec
    baseline: np.ndarray
    values: np.ndarray
    task_languages: list[list[list[str]]]   # [arm][k][draw] -> languages of the drawn tasks

    @property
    def gains(self) -> np.ndarray:
        return self.values - self.baseline[:, None, None, None, :, :]


def _task_languages(spec: SimSpec) -> list[list[list[str]]]:
    out = []
    for arm in spec.arms:
        per_k = []
        for k in spec.ks:
            if arm == "english":
                per_k.append([["en"] for _ in range(spec.draws)])
            else:
                pool = [lg for lg in spec.languages if lg != spec.train_language] + list(_UNSEEN_POOL)
                # a fixed rotation through the pool: some draws see a target language, some do not
                per_k.append([sorted({pool[(d * 3 + i * 5 + k) % len(pool)] for i in range(k)})
                              for d in range(spec.draws)])
        out.append(per_k)
    return out


def simulate(spec: SimSpec, n_studies: int, seed: int = 0) -> SimStudies:
    """Draw `n_studies` independent studies of `spec` (vectorized)."""
    rng = np.random.default_rng(seed)
    A, K, D, S, L = len(spec.arms), len(spec.ks), spec.draws, spec.seeds, len(spec.languages)
    lang = rng.normal(0, spec.language_sd, size=(n_studies, 1, L))
    baseline = spec.base + lang + rng.normal(0, spec.seed_sd, (n_studies, S, 1)) + \
        rng.normal(0, spec.item_sd, (n_studies, S, L))
    truth = np.array([[spec.truth(a, k) for k in spec.ks] for a in spec.arms])           # (A, K)
    tl = _task_languages(spec)
    seen = np.array([[[[lg in tl[a][j][d] for lg in spec.languages] for d in range(D)] for j in range(K)]
                     for a in range(A)], dtype=float)                                    # (A, K, D, L)
    fmt = np.array([[[sum(spec.format_effect.get(f, 0.0) * c for f, c in spec.format_counts(a, k, d).items())
                      for d in range(D)] for k in spec.ks] for a in spec.arms])           # (A, K, D)
    values = (spec.base + lang[:, None, None, None, :, :]
              + truth[None, :, :, None, None, None]
              + fmt[None, :, :, :, None, None]
              + spec.seen_effect * seen[None, :, :, :, None, :]
              + rng.normal(0, spec.draw_sd, (n_studies, A, K, D, 1, 1))
              + rng.normal(0, spec.seed_sd, (n_studies, A, K, D, S, 1))
              + rng.normal(0, spec.item_sd, (n_studies, A, K, D, S, L)))
    return SimStudies(spec, baseline, values, tl)


def condition_name(arm: str, k: int, draw: int) -> str:
    return f"{arm}-k{k}-d{draw}"


def to_tables(sims: SimStudies, study: int = 0, target: str = "xnli") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(results, conditions) of one simulated study, shaped as `intertask run` writes them."""
    spec = sims.spec
    n = spec.n_items
    rows = []
    for s in range(spec.seeds):
        for li, lang in enumerate(spec.languages):
            rows.append(("none", s + 1, lang, sims.baseline[study, s, li], "none"))
    conds = [{"condition": "none", "arm": "baseline", "k": 0, "draw": 0, "tasks": "", "task_languages": "",
              "task_families": "", "n_languages": 0, "n_families": 0}]
    for a, arm in enumerate(spec.arms):
        for j, k in enumerate(spec.ks):
            for d in range(spec.draws):
                name = condition_name(arm, k, d + 1)
                langs = sims.task_languages[a][j][d]
                tasks = "+".join(f"{arm}{k}d{d + 1}t{i}" for i in range(k))
                counts = spec.format_counts(arm, k, d)
                matched = all(spec.format_counts(other, k, d) == counts for other in spec.arms)
                conds.append({"condition": name, "arm": arm, "k": k, "draw": d + 1, "tasks": tasks,
                              "task_languages": "+".join(langs), "task_families": "",
                              "n_languages": len(langs), "n_families": len(langs) if arm != "english" else 1,
                              **({f"n_{f}": c for f, c in counts.items()} | ({"format_matched": matched}
                                                                             if counts else {}))})
                for s in range(spec.seeds):
                    for li, lang in enumerate(spec.languages):
                        rows.append((name, s + 1, lang, sims.values[study, a, j, d, s, li], tasks))
    frame = pd.DataFrame(rows, columns=["condition", "seed", "language", "points", "intermediate_tasks"])
    results = pd.DataFrame({
        "study": "simulated", "run": frame["condition"] + "__" + target + "__s" + frame["seed"].astype(str),
        "model": "simulated", "intermediate_tasks": frame["intermediate_tasks"].where(
            frame["condition"] != "none", "none"), "seed": frame["seed"], "target_task": target,
        "language": frame["language"], "split": "test", "metric": "accuracy", "value": frame["points"] / 100,
        "n_examples": n, "condition": frame["condition"]})
    return results, pd.DataFrame(conds)


def study_frames(sims: SimStudies, target: str = "xnli"):
    """The analysis frame (`frame.scaling_frame`) of every simulated study, in order.

    The frame of study 0 is built as a report builds it (results -> gains -> frame); the others
    reuse its rows with their own gains, so hundreds of studies cost one regression each.
    """
    results, conds = to_tables(sims, 0, target)
    frame = scaling_frame(report_gains(results), conds)
    spec = sims.spec
    where = {condition_name(arm, k, d + 1): (a, j, d) for a, arm in enumerate(spec.arms)
             for j, k in enumerate(spec.ks) for d in range(spec.draws)}
    a, j, d = (np.array([where[c][i] for c in frame["condition"]]) for i in range(3))
    s = frame["seed"].to_numpy(int) - 1
    li = frame["language"].map({lg: i for i, lg in enumerate(spec.languages)}).to_numpy(int)
    for study in range(sims.values.shape[0]):
        value = sims.values[study, a, j, d, s, li] / 100
        base = sims.baseline[study, s, li] / 100
        yield frame.assign(value=value, baseline=base, gain=value - base)


def write_study(folder: str | Path, spec: SimSpec, seed: int = 0) -> Path:
    """Write results.csv and conditions.csv of one simulated study into `folder` (a study root)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    results, conds = to_tables(simulate(spec, 1, seed))
    results.to_csv(folder / "results.csv", index=False)
    conds.to_csv(folder / "conditions.csv", index=False)
    return folder


def simulate_items(n_items: int, p_base: float, flip_up: float, flip_down: float, n_studies: int,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Paired per-item correctness (n_studies, n_items) of a baseline and a condition on the same items.

    A baseline-wrong item becomes right with probability `flip_up`, a right one wrong with
    `flip_down`; the true gain (points) is 100 * ((1 - p) * flip_up - p * flip_down).
    """
    rng = np.random.default_rng(seed)
    base = (rng.random((n_studies, n_items)) < p_base).astype(float)
    u = rng.random((n_studies, n_items))
    cond = np.where(base == 0, (u < flip_up).astype(float), (u >= flip_down).astype(float))
    return base, cond, 100 * ((1 - p_base) * flip_up - p_base * flip_down)


def spec_from_params(params: dict, **components) -> SimSpec:
    """A SimSpec with the design sizes of a validated params dict (k >= 1, draws, seeds, arms, languages)."""
    design = params["design"]
    langs = params.get("languages")
    kw = {"ks": tuple(int(k) for k in design["k"] if int(k) > 0), "draws": int(design["draws"]),
          "seeds": len(params["seeds"]), "arms": tuple(design.get("arms", ("english", "diverse")))}
    if isinstance(langs, list) and langs:
        kw["languages"] = tuple(langs)
    return SimSpec(**{**kw, **components})


@dataclass
class ArrayAnalysis:
    """The analysis's claim-making statistics for many studies at once (leading axis: study)."""

    slope: Estimate            # (n, A)
    difference: Estimate       # (n,): first arm minus second at the largest k
    level: Estimate            # (n, A): mean gain at the largest k
    claims: np.ndarray         # (n,) number of Holm-corrected directional claims
    identified: bool


def analyse_arrays(sims: SimStudies, alpha: float = 0.05) -> ArrayAnalysis:
    """The same estimators as `curves` (t on draw means, baseline seed noise in levels, Holm over the
    slope, level and difference statements), vectorized over simulated studies."""
    spec = sims.spec
    zero = [i for i, lg in enumerate(spec.languages) if lg != spec.train_language]
    draws = sims.gains[..., zero].mean(axis=(-1, -2))                       # (n, A, K, D)
    n, A, K, D = draws.shape
    x = np.repeat(np.asarray(spec.ks, dtype=float), D)
    slope = slope_estimate(x, draws.reshape(n, A, K * D))
    difference = difference_estimate(draws[:, 0, -1, :], draws[:, 1, -1, :]) if A > 1 else None
    base = sims.baseline[..., zero].mean(axis=-1)                           # (n, S)
    S = base.shape[1]
    if S > 1:
        extra, extra_df = base.var(axis=1, ddof=1)[:, None] / S, S - 1
    else:
        extra, extra_df = draws[:, :, -1, :].var(axis=-1, ddof=1), D - 1
    level = mean_estimate(draws[:, :, -1, :], extra, extra_df)
    identified = D >= MIN_CLUSTERS and K >= 2
    ps = [slope.p_value(), level.p_value()] + ([difference.p_value()[:, None]] if difference is not None else [])
    p = np.concatenate(ps, axis=1)
    if not identified:
        p = np.full_like(p, np.nan)
    adj = np.vstack([holm(row) for row in p])
    claims = np.nansum(adj < alpha, axis=1)
    return ArrayAnalysis(slope, difference, level, claims, identified)
