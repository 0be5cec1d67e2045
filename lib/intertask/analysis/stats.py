"""Statistics on cluster means: what is right for a handful of task draws.

The clusters are the task draws (conditions); seeds are nested in them and averaged first. With
3 draws a percentile bootstrap cannot reach its nominal coverage (it has at most 10 distinct
resamples and no small-sample correction), so the intervals used for claims are t intervals on
the cluster means with their residual degrees of freedom: exact when draw effects are normal,
and honest (wide) when clusters are few. A term resting on fewer than `MIN_CLUSTERS` draws per
cell is "not identified" rather than given a falsely tight interval. Everything is vectorized
over a leading axis so the calibration tests can analyse hundreds of studies at once.

scipy (a dependency of statsmodels) gives the t quantiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

MIN_CLUSTERS = 3


@dataclass
class Estimate:
    """An estimate (points) with its standard error and degrees of freedom; arrays or scalars."""

    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray

    def interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        q = t_quantile(1 - (1 - level) / 2, self.df)
        return self.estimate - q * self.se, self.estimate + q * self.se

    def p_value(self) -> np.ndarray:
        """Two-sided p of estimate = 0 (NaN where the SE is not finite and positive)."""
        se = np.asarray(self.se, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.abs(np.asarray(self.estimate, dtype=float) / se)
            p = 2 * _st.t.sf(t, self.df)
        return np.where(np.isfinite(se) & (se > 0), p, np.nan)


def t_quantile(q: float | np.ndarray, df: np.ndarray | float) -> np.ndarray:
    """Student t quantile; df = inf gives the normal one, df <= 0 gives NaN."""
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(df > 0, _st.t.ppf(q, np.where(df > 0, df, 1.0)), np.nan)


def mean_estimate(y: np.ndarray, extra_var: np.ndarray | float = 0.0, extra_df: np.ndarray | float = np.inf) -> Estimate:
    """Mean over the last axis (clusters) with SE^2 = s^2/n + extra_var; Welch-Satterthwaite df.

    `extra_var` is the variance of a term common to every cluster (the baseline's seed noise, which
    every gain of a seed shares) with its own `extra_df`.
    """
    y = np.asarray(y, dtype=float)
    n = y.shape[-1]
    m = y.mean(axis=-1)
    v = y.var(axis=-1, ddof=1) if n > 1 else np.full(m.shape, np.nan)
    return welch_estimate(m, v, n, extra_var, extra_df)


def welch_estimate(mean: np.ndarray, var: np.ndarray, n: np.ndarray | int, extra_var: np.ndarray | float = 0.0,
                   extra_df: np.ndarray | float = np.inf) -> Estimate:
    """`mean_estimate` from summaries: cluster mean, cluster variance (ddof 1) and count, elementwise."""
    m = np.asarray(mean, dtype=float)
    n = np.asarray(n, dtype=float)
    v = np.asarray(var, dtype=float) / n
    extra = np.broadcast_to(np.asarray(extra_var, dtype=float), np.shape(m))
    se2 = v + extra
    with np.errstate(divide="ignore", invalid="ignore"):
        df = se2 ** 2 / (v ** 2 / np.maximum(n - 1, 1) + np.where(extra > 0, extra ** 2 / extra_df, 0.0))
    return Estimate(m, np.sqrt(se2), np.where(n > 1, df, np.nan))


def slope_estimate(x: np.ndarray, y: np.ndarray) -> Estimate:
    """OLS slope of y (..., n) on a fixed x (n,), classical SE, df = n - 2."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    xc = x - x.mean()
    sxx = float(xc @ xc)
    n = x.size
    nan = np.full(y.shape[:-1], np.nan)
    if sxx == 0:
        return Estimate(nan, nan, nan)
    b = (y - y.mean(axis=-1, keepdims=True)) @ xc / sxx
    if n < 3:
        return Estimate(b, nan, nan)
    resid = y - y.mean(axis=-1, keepdims=True) - b[..., None] * xc
    s2 = (resid ** 2).sum(axis=-1) / (n - 2)
    return Estimate(b, np.sqrt(s2 / sxx), np.full(b.shape, n - 2.0))


def difference_estimate(ya: np.ndarray, yb: np.ndarray) -> Estimate:
    """Mean of ya minus mean of yb (clusters on the last axis), pooled variance, df = na + nb - 2."""
    ya = np.asarray(ya, dtype=float)
    yb = np.asarray(yb, dtype=float)
    na, nb = ya.shape[-1], yb.shape[-1]
    d = ya.mean(axis=-1) - yb.mean(axis=-1)
    if na + nb < 3 or na < 1 or nb < 1:
        nan = np.full(d.shape, np.nan)
        return Estimate(d, nan, nan)
    ss = ((ya - ya.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1) + \
        ((yb - yb.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    s2 = ss / (na + nb - 2)
    return Estimate(d, np.sqrt(s2 * (1 / na + 1 / nb)), np.full(d.shape, na + nb - 2.0))


def minimal_detectable(se: np.ndarray | float, df: np.ndarray | float, alpha: float = 0.05,
                       power: float = 0.8) -> np.ndarray:
    """Smallest true effect a two-sided t test at `alpha` finds with probability `power`."""
    return (t_quantile(1 - alpha / 2, df) + t_quantile(power, df)) * np.asarray(se, dtype=float)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (NaN stays NaN and does not count towards the family size)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adj, 1.0)
    return out


def holm_levels(p: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Per statement, the confidence level of its Holm step: 1 - alpha / (m - rank) (rank from 0)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    order = ok[np.argsort(p[ok], kind="stable")]
    out[order] = 1 - alpha / (m - np.arange(m))
    return out
