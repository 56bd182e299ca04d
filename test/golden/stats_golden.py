"""Golden cases for opentime's experiment statistics (core/stats), computed by scipy.

Regenerate (python3 with numpy and scipy, e.g. Debian's python3-scipy):
    python3 test/golden/stats_golden.py > test/golden/stats.json

Independent where scipy has the test itself: Welch's t-test (scipy.stats.ttest_ind, equal_var=False, and its
confidence_interval), the chi-square goodness of fit (scipy.stats.chisquare), and the bandit's probabilities of
being best (scipy.integrate.quad, adaptive, where opentime uses a fixed Simpson's rule). The two-proportion z-test, the
delta-method uplift and the sequential intervals are written out here from their formulas over scipy's
distributions (norm, t), as a second implementation.
"""
import json
import math

import numpy as np
import scipy
from scipy import integrate, stats


def delta_relative(ma, va, na, mb, vb, nb):
    est = (mb - ma) / ma
    var = vb / (ma**2 * nb) + va * mb**2 / (ma**4 * na)
    return est, var


def rho(alpha, tuning):
    l = -2 * math.log(alpha)
    return math.sqrt((l + math.log(l + 1)) / tuning)


def sequential(est, var, n, alpha, tuning):
    r2 = rho(alpha, tuning) ** 2
    s = var * n * (2 * (n * r2 + 1) / (n * n * r2))
    half = math.sqrt(s * math.log(math.sqrt(n * r2 + 1) / alpha))
    p = min(1.0, math.sqrt(n * r2 + 1) * math.exp(-(est**2) / s))
    return {"estimate": est, "ciLow": est - half, "ciHigh": est + half, "pValue": p}


def fixed(est, var, q, p):
    half = q * math.sqrt(var)
    return {"estimate": est, "ciLow": est - half, "ciHigh": est + half, "pValue": p}


def proportions(case):
    (na, xa), (nb, xb), alpha, tuning = case["control"], case["treatment"], case["alpha"], case["tuning"]
    pa, pb = xa / na, xb / nb
    va, vb = pa * (1 - pa), pb * (1 - pb)
    est, var = pb - pa, va / na + vb / nb
    rest, rvar = delta_relative(pa, va, na, pb, vb, nb)
    n = na + nb
    if tuning is not None:
        return {"absolute": sequential(est, var, n, alpha, tuning), "relative": sequential(rest, rvar, n, alpha, tuning)}
    pooled = (xa + xb) / n
    z0 = est / math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    q = stats.norm.ppf(1 - alpha / 2)
    return {
        "absolute": fixed(est, var, q, 2 * stats.norm.sf(abs(z0))),
        "relative": fixed(rest, rvar, q, 2 * stats.norm.sf(abs(rest / math.sqrt(rvar)))),
    }


def means(case, a, b):
    alpha, tuning = case["alpha"], case["tuning"]
    na, nb = len(a), len(b)
    ma, mb = a.mean(), b.mean()
    va, vb = a.var(ddof=1), b.var(ddof=1)
    est, var = mb - ma, va / na + vb / nb
    rest, rvar = delta_relative(ma, va, na, mb, vb, nb)
    n = na + nb
    if tuning is not None:
        return {"absolute": sequential(est, var, n, alpha, tuning), "relative": sequential(rest, rvar, n, alpha, tuning)}
    res = stats.ttest_ind(b, a, equal_var=False)
    ci = res.confidence_interval(confidence_level=1 - alpha)
    df = res.df
    q = stats.t.ppf(1 - alpha / 2, df)
    return {
        "absolute": {"estimate": est, "ciLow": float(ci.low), "ciHigh": float(ci.high), "pValue": float(res.pvalue)},
        "relative": fixed(rest, rvar, q, 2 * stats.t.sf(abs(rest / math.sqrt(rvar)), df)),
        "df": float(df),
    }


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
    ]
    out["proportions"] = [{**c, "expected": proportions(c)} for c in prop_cases]

    rng = np.random.default_rng(20261130)
    mean_cases = []
    for spec in [
        {"na": 4000, "nb": 4100, "buy_a": 0.04, "buy_b": 0.046, "alpha": 0.05, "tuning": None},
        {"na": 900, "nb": 1100, "buy_a": 0.1, "buy_b": 0.1, "alpha": 0.05, "tuning": None},
        {"na": 20000, "nb": 20000, "buy_a": 0.03, "buy_b": 0.034, "alpha": 0.1, "tuning": None},
        {"na": 4000, "nb": 4100, "buy_a": 0.04, "buy_b": 0.046, "alpha": 0.05, "tuning": 5000},
    ]:
        # revenue per recipient: most buy nothing, buyers spend a log-normal amount
        a = np.where(rng.random(spec["na"]) < spec["buy_a"], rng.lognormal(3.5, 0.8, spec["na"]), 0.0)
        b = np.where(rng.random(spec["nb"]) < spec["buy_b"], rng.lognormal(3.5, 0.8, spec["nb"]), 0.0)
        case = {
            "control": {"n": int(len(a)), "sum": float(a.sum()), "sumSquares": float((a * a).sum())},
            "treatment": {"n": int(len(b)), "sum": float(b.sum()), "sumSquares": float((b * b).sum())},
            "alpha": spec["alpha"],
            "tuning": spec["tuning"],
        }
        case["expected"] = means(case, a, b)
        mean_cases.append(case)
    out["means"] = mean_cases

    srm_cases = [
        {"observed": [5000, 5000], "weights": [1, 1]},
        {"observed": [10120, 9880], "weights": [1, 1]},
        {"observed": [10450, 9550], "weights": [1, 1]},
        {"observed": [4500, 4500, 1000], "weights": [0.45, 0.45, 0.1]},
        {"observed": [4700, 4400, 900], "weights": [0.45, 0.45, 0.1]},
        {"observed": [11000, 8800], "weights": [0.55, 0.45]},
    ]
    for c in srm_cases:
        obs = np.array(c["observed"], dtype=float)
        w = np.array(c["weights"], dtype=float)
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
            value, _ = integrate.quad(integrand, lo, hi, limit=500, epsabs=1e-13, epsrel=1e-11)
            best.append(value)
        bandits.append({"arms": [{"trials": t, "successes": s} for t, s in arms], "expected": best})
    out["bandit"] = bandits
    print(json.dumps(out, indent=1))


main()
