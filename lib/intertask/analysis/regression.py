"""Regression of the zero-shot gain on k, families covered and seen language/family; mixed-model cross-check.

One row per (condition, seed, zero-shot language); the source language is left out (it is not
zero-shot and would make "seen language" mean "English"). Language fixed effects absorb how much
each target language gains on average, so seen_language compares a language with itself. The
clusters are the task draws (conditions): CR1 cluster-robust standard errors with t intervals whose
df is the number of clusters carrying the term minus 1 (cluster-robust SEs over-reject when few
clusters carry a term). An indicator term that is on (or off) in fewer than 3 clusters is "not
identified".

The cross-check is statsmodels' MixedLM: draw as a random intercept, language x seed as fixed
effects, fitted per target task and arm for the slope on k, and at the largest shared k for the
arm difference.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats as _st

from .curves import k_scale
from .frame import arm_rank, zero_shot
from .stats import MIN_CLUSTERS, t_quantile

REGRESSION_TERMS = ("intercept", "k", "n_families", "seen_language", "seen_family")


def _drop_degenerate(X: np.ndarray, names: list[str]) -> tuple[list[int], dict[str, str]]:
    """Indices of the columns kept (in order) and the reason each other column was dropped."""
    kept: list[int] = []
    dropped: dict[str, str] = {}
    for j, name in enumerate(names):
        col = X[:, j]
        if name != "intercept" and np.ptp(col) == 0:
            dropped[name] = f"dropped: constant ({col[0]:g} in every row)"
            continue
        if kept:
            A = X[:, kept]
            coef, *_ = np.linalg.lstsq(A, col, rcond=None)
            if np.linalg.norm(col - A @ coef) <= 1e-9 * max(np.linalg.norm(col), 1.0):
                with_ = [names[kept[i]] for i in range(len(kept)) if abs(coef[i]) > 1e-9 and
                         not names[kept[i]].startswith("lang[")]
                dropped[name] = f"dropped: collinear with {', '.join(with_) or 'the language effects'}"
                continue
        kept.append(j)
    return kept, dropped


def _cluster_count(x: np.ndarray, clusters: np.ndarray) -> int:
    """For an indicator: clusters where it is on and where it is off (the smaller); else all clusters."""
    n = int(clusters.max()) + 1 if clusters.size else 0
    if set(np.unique(x)) <= {0.0, 1.0}:
        on = np.bincount(clusters, weights=x, minlength=n) > 0
        off = np.bincount(clusters, weights=1 - x, minlength=n) > 0
        return int(min(on.sum(), off.sum()))
    return n


def _fit(g: pd.DataFrame, level: float, arm_terms: list[str], scale: str) -> list[dict]:
    langs = sorted(g["language"].unique())
    # language effects come right after the intercept, so a term that is only a language contrast
    # (seen_family when every task is English) is the one dropped, not a language
    names = ["intercept", *[f"lang[{lg}]" for lg in langs[1:]], *REGRESSION_TERMS[1:],
             *[f"arm[{a}]" for a in arm_terms]]
    X = np.column_stack([np.ones(len(g)), *[(g["language"] == lg).to_numpy(float) for lg in langs[1:]],
                         k_scale(np.maximum(g["k"].to_numpy(float), 1), scale),
                         g["n_families"].to_numpy(float), g["seen_language"].to_numpy(float),
                         g["seen_family"].to_numpy(float),
                         *[(g["arm"] == a).to_numpy(float) for a in arm_terms]])
    y = 100 * g["gain"].to_numpy(float)
    kept, dropped = _drop_degenerate(X, names)
    Xk = X[:, kept]
    beta, *_ = np.linalg.lstsq(Xk, y, rcond=None)
    clusters = pd.factorize(g["condition"].astype(str))[0]
    G = int(clusters.max()) + 1
    n, p = Xk.shape
    resid = y - Xk @ beta
    bread = np.linalg.pinv(Xk.T @ Xk)
    scores = np.zeros((G, p))
    np.add.at(scores, clusters, Xk * resid[:, None])
    # CR1: the small-sample factor of Stata/statsmodels' cluster option
    factor = G / max(G - 1, 1) * (n - 1) / max(n - p, 1)
    cov = factor * bread @ (scores.T @ scores) @ bread
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    rows = []
    for j, name in enumerate(names):
        if name.startswith("lang["):
            continue
        base = {"term": name, "n_obs": n, "n_clusters": G, "df": np.nan}
        if j not in kept:
            rows.append({**base, "coef": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan,
                         "term_clusters": 0, "identified": False, "note": dropped[name]})
            continue
        i = kept.index(j)
        tc = _cluster_count(X[:, j], clusters) if name != "intercept" else G
        ok = tc >= MIN_CLUSTERS and G - 1 >= 1 and se[i] > 0
        # cluster-robust SEs over-reject when few clusters carry a term (MacKinnon & Webb 2017):
        # the t reference gets the clusters that carry it, not all of them
        df = min(G, tc) - 1
        q = float(t_quantile(1 - (1 - level) / 2, df)) if ok else np.nan
        from_t = 2 * _t_sf(abs(beta[i]) / se[i], df) if ok else np.nan
        rows.append({**base, "df": float(df) if ok else np.nan, "coef": float(beta[i]),
                     "se": float(se[i]) if ok else np.nan,
                     "ci_low": float(beta[i] - q * se[i]) if ok else np.nan,
                     "ci_high": float(beta[i] + q * se[i]) if ok else np.nan, "p": float(from_t),
                     "term_clusters": tc, "identified": bool(ok),
                     "note": "" if ok else f"not identified: rests on {tc} cluster(s) (needs {MIN_CLUSTERS})"})
    return rows


def _t_sf(t: float, df: float) -> float:
    return float(_st.t.sf(t, df))


def regression(frame: pd.DataFrame, level: float = 0.95, by: str | None = "target_task",
               arm_effects: bool = False, scale: str = "k") -> pd.DataFrame:
    """OLS of the zero-shot gain (points) on k (or log2 k), n_families, seen_language, seen_family
    (+ arm indicators with ``arm_effects``) and language fixed effects, per target task.

    Terms that are constant or collinear with earlier ones are dropped (``note`` says why).
    Columns: [by,] term, coef, se, ci_low, ci_high, p, n_obs, n_clusters, term_clusters, identified,
    note. Coefficients describe association in this design, not causal effects.
    """
    cols = ["term", "coef", "se", "df", "ci_low", "ci_high", "p", "n_obs", "n_clusters", "term_clusters",
            "identified", "note"]
    data = zero_shot(frame)
    data = data[data["k"] > 0]
    groups = [((), data)] if by is None else [((key,), g) for key, g in data.groupby(by)]
    arms = sorted(data["arm"].unique(), key=lambda a: (a != "english", arm_rank(a))) if arm_effects else []
    rows = []
    for key, g in groups:
        if not g.empty:
            rows += [{**({by: key[0]} if by else {}), **r} for r in _fit(g, level, arms[1:], scale)]
    return pd.DataFrame(rows, columns=([by] if by else []) + cols)


def _mixed(data: pd.DataFrame, formula: str, term: str, level: float) -> dict:
    import statsmodels.formula.api as smf

    out = {"estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "converged": False, "note": ""}
    per_cell = int(data.groupby(["arm", "k"])["condition"].nunique().min())
    if per_cell < MIN_CLUSTERS:   # the same rule as the cluster statistics
        out["note"] = f"not identified: {per_cell} draws per (arm, k) (needs {MIN_CLUSTERS})"
        return out
    errors = []
    # lbfgs raises (rather than moving on) when the draw variance sits on its boundary at 0
    for method in ("lbfgs", "bfgs", "powell"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = smf.mixedlm(formula, data, groups=data["condition"]).fit(reml=True, method=method)
            ci = fit.conf_int(alpha=1 - level).loc[term]
        except (np.linalg.LinAlgError, ValueError) as e:
            errors.append(f"{method}: {e}")
            continue
        boundary = float(np.asarray(fit.cov_re)[0, 0]) < 1e-8
        out.update(estimate=float(fit.params[term]), ci_low=float(ci.iloc[0]), ci_high=float(ci.iloc[1]),
                   converged=bool(fit.converged), note="draw variance estimated at 0" if boundary else "")
        return out
    out["note"] = "did not fit: " + "; ".join(errors)
    return out


def mixed_model(frame: pd.DataFrame, level: float = 0.95, scale: str = "k") -> pd.DataFrame:
    """statsmodels MixedLM cross-check: slope per arm and arm difference at the largest shared k.

    gain (points) ~ x + language:seed (fixed), random intercept per draw (condition). Wald
    intervals from the REML fit. Columns: target_task, metric, what, estimate, ci_low, ci_high,
    converged, note.
    """
    data = zero_shot(frame)
    data = data[data["k"] > 0].assign(y=lambda d: 100 * d["gain"],
                                      cell=lambda d: d["language"].astype(str) + ":" + d["seed"].astype(str))
    rows = []
    keys = [c for c in ("target_task", "metric") if c in data.columns]
    for key, g in data.groupby(keys):
        key = key if isinstance(key, tuple) else (key,)
        arms = sorted(g["arm"].unique(), key=arm_rank)
        for arm in arms:
            a = g[g["arm"] == arm].assign(x=lambda d: k_scale(d["k"].to_numpy(), scale))
            if a["k"].nunique() < 2:
                continue
            rows.append({**dict(zip(keys, key)), "what": f"slope ({arm})",
                         **_mixed(a, "y ~ 0 + x + C(cell)", "x", level)})
        for i, arm_a in enumerate(arms):
            for arm_b in arms[i + 1:]:
                common = set(g.loc[g["arm"] == arm_a, "k"]) & set(g.loc[g["arm"] == arm_b, "k"])
                if not common:
                    continue
                k = max(common)
                d = g[(g["k"] == k) & g["arm"].isin([arm_a, arm_b])].assign(
                    a=lambda d: (d["arm"] == arm_a).astype(float))
                rows.append({**dict(zip(keys, key)), "what": f"{arm_a} - {arm_b} at k = {k}",
                             **_mixed(d, "y ~ 0 + a + C(cell)", "a", level)})
    return pd.DataFrame(rows, columns=[*keys, "what", "estimate", "ci_low", "ci_high", "converged", "note"])
