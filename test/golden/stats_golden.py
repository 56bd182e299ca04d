"""Golden cases for opentime's experiment statistics (core/stats), computed by scipy.

Regenerate (python3 with numpy and scipy, e.g. Debian's python3-scipy):
    python3 test/golden/stats_golden.py > test/golden/stats.json

Independent where scipy has the test itself: Welch's t-test (scipy.stats.ttest_ind, equal_var=False, and its
confidence_interval), the chi-square goodness of fit (scipy.stats.chisquare), and the bandit's probabilities of
being best (scipy.integrate.quad, adaptive, with breakpoints, where opentime uses a fixed Simpson's rule). The
Agresti-Caffo two-proportion interval, the log-ratio uplift and the sequential intervals are written out here from
their formulas over scipy's distributions (norm, t), as a second implementation; their coverage is checked apart,
by simulation (test/node/experiment-stats.test.ts).
"""
import json
import math

import numpy as np
import scipy
from scipy import integrate, stats


def rho(alpha, tuning):
    l = -2 * math.log(alpha)
    return math.sqrt((l + math.log(l + 1)) / tuning)


def sequential(est, center, var, n, alpha, tuning):
    r2 = rho(alpha, tuning) ** 2
    s = var * n * (2 * (n * r2 + 1) / (n * n * r2))
    half = math.sqrt(s * math.log(math.sqrt(n * r2 + 1) / alpha))
    p = min(1.0, math.sqrt(n * r2 + 1) * math.exp(-(center**2) / s))
    return {"estimate": est, "ciLow": center - half, "ciHigh": center + half, "pValue": p}


def fixed(est, center, var, q, p):
    half = q * math.sqrt(var)
    return {"estimate": est, "ciLow": center - half, "ciHigh": center + half, "pValue": p}


def uplift(est, ma, va, na, mb, vb, nb, interval):
    """The log-ratio test, its interval mapped back: interval(center, variance) gives the log-scale bounds and
    the p-value of a log ratio of 0 (so that the uplift's p-value and its own interval agree)."""
    log = interval(math.log(mb / ma), vb / (nb * mb**2) + va / (na * ma**2))
    return {"estimate": est, "ciLow": math.expm1(log[0]), "ciHigh": math.expm1(log[1]), "pValue": log[2]}


def proportions(case):
    """Agresti-Caffo: one success and one failure added to each arm for the interval and the statistic."""
    (na, xa), (nb, xb), alpha, tuning = case["control"], case["treatment"], case["alpha"], case["tuning"]
    a_n, b_n = na + 2, nb + 2
    pa, pb = (xa + 1) / a_n, (xb + 1) / b_n
    va, vb = pa * (1 - pa), pb * (1 - pb)
    raw = xb / nb - xa / na
    center, var = pb - pa, va / a_n + vb / b_n
    n = na + nb
    if tuning is not None:
        absolute = sequential(raw, center, var, n, alpha, tuning)
        interval = lambda c, v: (lambda r: (r["ciLow"], r["ciHigh"], r["pValue"]))(sequential(c, c, v, n, alpha, tuning))
    else:
        q = stats.norm.ppf(1 - alpha / 2)
        absolute = fixed(raw, center, var, q, min(1.0, 2 * stats.norm.sf(abs(center) / math.sqrt(var))))
        interval = lambda c, v: (c - q * math.sqrt(v), c + q * math.sqrt(v), min(1.0, 2 * stats.norm.sf(abs(c) / math.sqrt(v))))
    relative = None
    if min(xa, xb) >= 10:
        relative = uplift((xb / nb) / (xa / na) - 1, pa, va, a_n, pb, vb, b_n, interval)
    return {"absolute": absolute, "relative": relative}


def means(case, a, b):
    alpha, tuning = case["alpha"], case["tuning"]
    na, nb = len(a), len(b)
    ma, mb = a.mean(), b.mean()
    va, vb = a.var(ddof=1), b.var(ddof=1)
    est, var = mb - ma, va / na + vb / nb
    n = na + nb
    if tuning is not None:
        absolute = sequential(est, est, var, n, alpha, tuning)
        interval = lambda c, v: (lambda r: (r["ciLow"], r["ciHigh"], r["pValue"]))(sequential(c, c, v, n, alpha, tuning))
        df = None
    else:
        res = stats.ttest_ind(b, a, equal_var=False)
        ci = res.confidence_interval(confidence_level=1 - alpha)
        df = float(res.df)
        absolute = {"estimate": est, "ciLow": float(ci.low), "ciHigh": float(ci.high), "pValue": float(res.pvalue)}
        q = stats.t.ppf(1 - alpha / 2, df)
        interval = lambda c, v: (c - q * math.sqrt(v), c + q * math.sqrt(v), float(2 * stats.t.sf(abs(c) / math.sqrt(v), df)))
    positive = (int((a > 0).sum()), int((b > 0).sum()))
    relative = None
    if min(positive) >= 10 and ma > 0 and mb > 0:
        relative = uplift(mb / ma - 1, ma, va, na, mb, vb, nb, interval)
    return {"absolute": absolute, "relative": relative, "df": df}, positive


def main():
    out = {"generator": f"test/golden/stats_golden.py, scipy {scipy.__version__}, numpy {np.__version__}"}
    prop_cases = [
        {"control": [10000, 500], "treatment": [10000, 560], "alpha": 0.05, "tuning": None},
        {"control": [5000, 120], "treatment": [5200, 150], "alpha": 0.05, "tuning": None},
        {"control": [2000, 30], "treatment": [2100, 29], "alpha": 0.1, "tuning": None},
        {"control": [100000, 4000], "treatment": [100000, 4100], "alpha": 0.05, "tuning": None},
        {"control": [812, 97], "treatment": [790, 131], "alpha": 0.01, "tuning": None},
        {"control": [10000, 500], "treatment": [10000, 560], "alpha": 0.05, "tuning": 5000},
        {"control": [50000, 2500], "treatment": [50000, 2650], "alpha": 0.05, "tuning": 10000},
        {"control": [300, 12], "treatment": [310, 11], "alpha": 0.05, "tuning": 5000},
        # zero conversions; unequal arms (a holdout); a tiny p-value; a sequential result that excludes 0
        {"control": [200, 0], "treatment": [200, 4], "alpha": 0.05, "tuning": None},
        {"control": [20000, 200], "treatment": [200, 6], "alpha": 0.05, "tuning": None},
        {"control": [10000, 100], "treatment": [10000, 400], "alpha": 0.05, "tuning": None},
        {"control": [40000, 2000], "treatment": [40000, 2400], "alpha": 0.05, "tuning": 5000},
        {"control": [50, 50], "treatment": [60, 59], "alpha": 0.05, "tuning": None},
    ]
    out["proportions"] = [{**c, "expected": proportions(c)} for c in prop_cases]

    rng = np.random.default_rng(20261130)
    mean_cases = []
    for spec in [
        {"na": 4000, "nb": 4100, "buy_a": 0.04, "buy_b": 0.046, "alpha": 0.05, "tuning": None},
        {"na": 900, "nb": 1100, "buy_a": 0.1, "buy_b": 0.1, "alpha": 0.05, "tuning": None},
        {"na": 20000, "nb": 20000, "buy_a": 0.03, "buy_b": 0.034, "alpha": 0.1, "tuning": None},
        {"na": 4000, "nb": 4100, "buy_a": 0.04, "buy_b": 0.046, "alpha": 0.05, "tuning": 5000},
        {"na": 150, "nb": 160, "buy_a": 0.03, "buy_b": 0.05, "alpha": 0.05, "tuning": None},
        {"na": 30000, "nb": 30000, "buy_a": 0.03, "buy_b": 0.045, "alpha": 0.05, "tuning": 5000},
    ]:
        # revenue per recipient: most buy nothing, buyers spend a log-normal amount
        a = np.where(rng.random(spec["na"]) < spec["buy_a"], rng.lognormal(3.5, 0.8, spec["na"]), 0.0)
        b = np.where(rng.random(spec["nb"]) < spec["buy_b"], rng.lognormal(3.5, 0.8, spec["nb"]), 0.0)
        case = {"alpha": spec["alpha"], "tuning": spec["tuning"]}
        expected, (pa, pb) = means(case, a, b)
        case["control"] = {"n": int(len(a)), "sum": float(a.sum()), "sumSquares": float((a * a).sum()), "positive": pa}
        case["treatment"] = {"n": int(len(b)), "sum": float(b.sum()), "sumSquares": float((b * b).sum()), "positive": pb}
        case["expected"] = expected
        mean_cases.append(case)
    out["means"] = mean_cases

    srm_cases = [
        {"observed": [5000, 5000], "weights": [1, 1]},
        {"observed": [10120, 9880], "weights": [1, 1]},
        {"observed": [10450, 9550], "weights": [1, 1]},
        {"observed": [4500, 4500, 1000], "weights": [0.45, 0.45, 0.1]},
        {"observed": [4700, 4400, 900], "weights": [0.45, 0.45, 0.1]},
        {"observed": [11000, 8800], "weights": [0.55, 0.45]},
        {"observed": [1000, 1100, 0], "weights": [1, 1, 0]},
        {"observed": [5000, 6000], "weights": [1, 1]},
    ]
    for c in srm_cases:
        keep = [i for i, w in enumerate(c["weights"]) if w > 0]
        obs = np.array([c["observed"][i] for i in keep], dtype=float)
        w = np.array([c["weights"][i] for i in keep], dtype=float)
        res = stats.chisquare(obs, obs.sum() * w / w.sum())
        c["expected"] = {"chiSquare": float(res.statistic), "pValue": float(res.pvalue)}
    out["srm"] = srm_cases

    # Thompson sampling: P(arm i is best) under Beta(1 + successes, 1 + failures), by scipy's adaptive quadrature
    bandit_cases = [
        [[1000, 50], [1000, 65]],
        [[10, 1], [12, 3]],
        [[500, 40], [500, 40]],
        [[20000, 600], [20000, 640], [20000, 610]],
        [[300, 30], [250, 20], [280, 35], [100, 5]],
        [[0, 0], [5, 1]],
        # a posterior far narrower than the other's
        [[100000, 3], [0, 0]],
        [[0, 0], [1000000, 1000]],
    ]
    bandits = []
    for arms in bandit_cases:
        params = [(1 + s, 1 + max(0, t - s)) for t, s in arms]
        best = []
        for i, (a, b) in enumerate(params):
            def integrand(x, i=i, a=a, b=b):
                v = stats.beta.pdf(x, a, b)
                for j, (aj, bj) in enumerate(params):
                    if j != i:
                        v *= stats.beta.cdf(x, aj, bj)
                return v
            lo, hi = stats.beta.ppf(1e-12, a, b), stats.beta.ppf(1 - 1e-12, a, b)
            # breakpoints at every arm's central range, so quad sees the narrow posteriors
            points = sorted({x for p2 in params for x in stats.beta.ppf([1e-12, 0.5, 1 - 1e-12], *p2) if lo < x < hi})
            value, _ = integrate.quad(integrand, lo, hi, points=points or None, limit=1000, epsabs=1e-14, epsrel=1e-12)
            best.append(value)
        bandits.append({"arms": [{"trials": t, "successes": s} for t, s in arms], "expected": best})
    out["bandit"] = bandits
    print(json.dumps(out, indent=1))


main()
