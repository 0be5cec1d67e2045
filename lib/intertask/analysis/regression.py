"""Regression of the zero-shot gain on k, families covered and seen language/family; mixed-model cross-check.

One row per (condition, seed, zero-shot language); the source language is left out (it is not
zero-shot and would make "seen language" mean "English"). Language fixed effects absorb how much
each target language gains on average, so seen_language compares a language with itself. The
clusters are the task draws (conditions): CR2 cluster-robust standard errors (Bell & McCaffrey)
with t intervals whose df is the Bell-McCaffrey df, at most the number of clusters carrying the
term minus 1 (cluster-robust SEs over-reject when few clusters carry a term). An indicator term
that is on (or off) in fewer than 3 clusters is "not identified".

Format composition. A design stratified by format gives every arm the same number of tasks of each
format at every k; where the pool cannot (conditions.csv: ``format_matched`` False, or unequal
``n_<format>`` counts between arms at a k), diversity and format are confounded, and the regression
adds the format counts that vary as covariates (`format_composition` says when, and why, in words).

The cross-check is statsmodels' MixedLM: draw as a random intercept, language x seed as fixed
effects, fitted per target task and arm for the slope on k, and at the largest shared k for the
arm difference.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

from ..design import FORMATS
from .curves import k_scale
from .frame import arm_rank, zero_shot
from .stats import MIN_CLUSTERS, t_quantile

REGRESSION_TERMS = ("intercept", "k", "n_families", "seen_language", "seen_family")
FORMAT_TERMS = tuple(f"n_{f}" for f in FORMATS)
# the arms compared for composition: drawn conditions only (the baseline and the control hold no task)
_REFERENCE_ARMS = ("baseline", "control")


@dataclass(frozen=True)
class FormatComposition:
    """Whether the arms hold the same formats at every k, and the format covariates a fit then needs."""

    recorded: bool                  # conditions.csv has the n_<format> counts
    differs: bool                   # some k where the arms' mean counts of a format differ
    covariates: tuple[str, ...]     # the n_<format> columns that vary across conditions (when differs)
    where: tuple[str, ...]          # e.g. "k = 4: diverse 1.0 classification + 3.0 tagging, english 4.0 classification"
    ks: tuple[int, ...] = ()        # the k values at which the arms differ

    def note(self) -> str:
        """One sentence for the report ('' when the design recorded no format counts)."""
        if not self.recorded:
            return ""
        if not self.differs:
            return "The arms hold the same number of tasks of each format at every k: no format covariate is needed."
        return (f"The arms differ in format composition (mean tasks per condition: {'; '.join(self.where)}): "
                f"arm differences at those k mix language diversity with task format, so they claim no "
                f"direction, and the regression carries the format counts ({', '.join(self.covariates)}) as "
                f"covariates; its n_families term is the format-adjusted diversity effect.")


def format_composition(frame: pd.DataFrame) -> FormatComposition:
    """Compare the arms' format counts (``n_<format>`` of conditions.csv) at each k of `frame`."""
    present = [c for c in FORMAT_TERMS if c in frame.columns]
    if not present:
        return FormatComposition(False, False, (), ())
    extra = ["format_matched"] if "format_matched" in frame.columns else []
    cond = frame[["condition", "arm", "k", *present, *extra]].drop_duplicates("condition")
    cond = cond[(cond["k"] > 0) & ~cond["arm"].isin(_REFERENCE_ARMS)]
    counts = cond[present].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy(float)
    ks, arms = cond["k"].to_numpy(int), cond["arm"].to_numpy(str)
    where, differ_at = [], set()
    # plain numpy over the few conditions: the calibration test calls this for hundreds of studies
    for k in np.unique(ks):
        at_k = sorted(set(arms[ks == k]), key=arm_rank)
        if len(at_k) < 2:
            continue
        means = np.array([counts[(ks == k) & (arms == a)].mean(axis=0) for a in at_k])   # (arms, formats)
        if (np.ptp(means, axis=0) > 1e-9).any():
            held = ["{} {}".format(a, " + ".join(f"{m:.1f} {col[2:]}" for col, m in zip(present, row) if m > 0)
                                   or "no task") for a, row in zip(at_k, means)]
            where.append(f"k = {int(k)}: {', '.join(held)}")
            differ_at.add(int(k))
    if extra:
        unmatched = ~cond["format_matched"].astype(str).str.lower().isin(["true", "1"]).to_numpy()
        flagged = set(ks[unmatched].tolist()) - differ_at
        if flagged:
            where.append(f"k = {', '.join(map(str, sorted(flagged)))}: the design marks conditions "
                         f"format_matched = False")
            differ_at |= flagged
    differs = bool(where)
    covariates = tuple(c for j, c in enumerate(present) if differs and np.ptp(counts[:, j]) > 0)
    return FormatComposition(True, differs, covariates, tuple(where), tuple(sorted(differ_at)))


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


def _cr2(X: np.ndarray, resid: np.ndarray, clusters: np.ndarray, bread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CR2 cluster-robust covariance and Bell-McCaffrey degrees of freedom per coefficient.

    CR2 (Bell & McCaffrey 2002) scales each cluster's residuals by (I - H_gg)^(-1/2), undoing the
    shrinkage OLS residuals suffer in high-leverage clusters; its t reference gets Satterthwaite df
    from the design (Imbens & Kolesar 2016), which fall well below G - 1 when a coefficient rests on a
    few clusters' contrasts. Written here (statsmodels offers CR1 only): with a few dozen task draws,
    a dozen fixed effects and format covariates, CR1 with t(G - 1) claimed a null n_families term in
    about 10% of simulated studies; this is close to 5% (tests/test_format_covariates.py).
    """
    n, p = X.shape
    M = np.eye(n) - X @ bread @ X.T                      # residual maker I - H
    meat = np.zeros((p, p))
    gmat = np.zeros((p, n, int(clusters.max()) + 1))     # per coefficient: the n x G matrix of Imbens-Kolesar
    for c in range(gmat.shape[2]):
        rows = np.flatnonzero(clusters == c)
        w, v = np.linalg.eigh(M[np.ix_(rows, rows)])
        # eigenvalues near 0: the cluster alone determines a direction; leave it unscaled
        inv_sqrt = np.where(w > 1e-8, 1 / np.sqrt(np.clip(w, 1e-8, None)), 1.0)
        A = (v * inv_sqrt) @ v.T
        score = X[rows].T @ (A @ resid[rows])
        meat += np.outer(score, score)
        gmat[:, :, c] = (M[rows].T @ A @ X[rows] @ bread).T
    lam = [np.linalg.eigvalsh(g.T @ g) for g in gmat]
    df = np.array([lm.sum() ** 2 / (lm ** 2).sum() if (lm ** 2).sum() > 0 else np.nan for lm in lam])
    return bread @ meat @ bread, df


def _cluster_count(x: np.ndarray, clusters: np.ndarray) -> int:
    """For an indicator: clusters where it is on and where it is off (the smaller); else all clusters."""
    n = int(clusters.max()) + 1 if clusters.size else 0
    if set(np.unique(x)) <= {0.0, 1.0}:
        on = np.bincount(clusters, weights=x, minlength=n) > 0
        off = np.bincount(clusters, weights=1 - x, minlength=n) > 0
        return int(min(on.sum(), off.sum()))
    return n


def _fit(g: pd.DataFrame, level: float, arm_terms: list[str], scale: str,
         format_terms: tuple[str, ...] = ()) -> list[dict]:
    langs = sorted(g["language"].unique())
    # language effects come right after the intercept, so a term that is only a language contrast
    # (seen_family when every task is English) is the one dropped, not a language; format counts come
    # last, so the one that k (their sum) makes redundant is dropped, never k or n_families
    names = ["intercept", *[f"lang[{lg}]" for lg in langs[1:]], *REGRESSION_TERMS[1:],
             *[f"arm[{a}]" for a in arm_terms], *format_terms]
    X = np.column_stack([np.ones(len(g)), *[(g["language"] == lg).to_numpy(float) for lg in langs[1:]],
                         k_scale(np.maximum(g["k"].to_numpy(float), 1), scale),
                         g["n_families"].to_numpy(float), g["seen_language"].to_numpy(float),
                         g["seen_family"].to_numpy(float),
                         *[(g["arm"] == a).to_numpy(float) for a in arm_terms],
                         *[pd.to_numeric(g[c], errors="coerce").fillna(0).to_numpy(float) for c in format_terms]])
    y = 100 * g["gain"].to_numpy(float)
    kept, dropped = _drop_degenerate(X, names)
    Xk = X[:, kept]
    beta, *_ = np.linalg.lstsq(Xk, y, rcond=None)
    clusters = pd.factorize(g["condition"].astype(str))[0]
    G = int(clusters.max()) + 1
    n, p = Xk.shape
    resid = y - Xk @ beta
    bread = np.linalg.pinv(Xk.T @ Xk)
    cov, bm_df = _cr2(Xk, resid, clusters, bread)
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
        # cluster-robust SEs over-reject when few clusters carry a term (MacKinnon & Webb 2017): the t
        # reference gets at most the clusters that carry it, fewer where Bell-McCaffrey says so
        df = float(min(min(G, tc) - 1, bm_df[i])) if np.isfinite(bm_df[i]) else min(G, tc) - 1
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
               arm_effects: bool = False, scale: str = "k", formats: bool | None = None) -> pd.DataFrame:
    """OLS of the zero-shot gain (points) on k (or log2 k), n_families, seen_language, seen_family
    (+ arm indicators with ``arm_effects``) and language fixed effects, per target task.

    ``formats``: add the format counts (``n_<format>``) that vary as covariates; None (default) adds
    them exactly where the arms' format composition differs (`format_composition`), False never.
    Terms that are constant or collinear with earlier ones are dropped (``note`` says why).
    Columns: [by,] term, coef, se, ci_low, ci_high, p, n_obs, n_clusters, term_clusters, identified,
    note, format_adjusted (the fit carried format covariates). Coefficients describe association in
    this design, not causal effects.
    """
    cols = ["term", "coef", "se", "df", "ci_low", "ci_high", "p", "n_obs", "n_clusters", "term_clusters",
            "identified", "note", "format_adjusted"]
    data = zero_shot(frame)
    data = data[data["k"] > 0]
    groups = [((), data)] if by is None else [((key,), g) for key, g in data.groupby(by)]
    arms = sorted(data["arm"].unique(), key=lambda a: (a != "english", arm_rank(a))) if arm_effects else []
    rows = []
    for key, g in groups:
        if g.empty:
            continue
        comp = format_composition(g)
        terms = comp.covariates if formats is None else \
            tuple(c for c in FORMAT_TERMS if formats and c in g.columns and np.ptp(g[c].to_numpy(float)) > 0)
        for r in _fit(g, level, arms[1:], scale, terms):
            if r["term"] in terms and r["identified"]:
                r["note"] = "format covariate" + (": the arms differ in format composition" if comp.differs else "")
            rows.append({**({by: key[0]} if by else {}), **r, "format_adjusted": bool(terms)})
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
