"""Golden cases for opentime's experiment statistics (core/stats), computed by scipy.

Regenerate (python3 with numpy and scipy, e.g. Debian's python3-scipy):
    python3 test/golden/stats_golden.py > test/golden/stats.json

Independent where scipy has the test itself: Welch's t-test (scipy.stats.ttest_ind, equal_var=False, and its
confidence_interval), the chi-square goodness of fit (scipy.stats.chisquare), and the bandit's probabilities of
being best (scipy.integrate.quad, adaptive, with breakpoints, where opentime uses a fixed Simpson's rule). The
Agresti-Caffo two-proportion interval, the log-ratio uplift and the sequential intervals are written out here from
their formulas over scipy's distributions (norm, t), as a second implementation; their coverage is checked apart,
by simulation (test/node/experiment-stats.test.ts).

The `periods` section (core/stats/periods.ts: a bandit's arms weighted by period) starts from each reader's value,
drawn here per period and arm, and computes each period's means and variances from them (numpy's mean and var, not
the counts and sums that opentime reads), the weights, the Agresti-Caffo interval on the effective counts, the
Welch-Satterthwaite degrees of freedom over the period terms and scipy's t; its coverage under changing shares is
checked apart, by simulation (test/node/period-weighting.test.ts).
"""
import json
import math

import numpy as np
import scipy
from scipy import integrate, stats


def enough_for_uplift(na, xa, nb, xb):
    """An uplift is estimated when each arm expects 10 events at the pooled share and has one (upliftEstimable)."""
    share = (xa + xb) / (na + nb)
    return min(na, nb) * share >= 10 and xa > 0 and xb > 0


def rho(alpha, tuning):
    l = -2 * math.log(alpha)
    return math.sqrt((l + math.log(l + 1)) / tuning)


def sequential(est, center, var, n, alpha, tuning, tuned_alpha=None):
    r2 = rho(tuned_alpha or alpha, tuning) ** 2
    s = var * n * (2 * (n * r2 + 1) / (n * n * r2))
    half = math.sqrt(s * math.log(math.sqrt(n * r2 + 1) / alpha))
    p = min(1.0, math.sqrt(n * r2 + 1) * math.exp(-(center**2) / s))
    return {"estimate": est, "ciLow": center - half, "ciHigh": center + half, "pValue": p}


def fixed(est, center, var, q, p):
    half = q * math.sqrt(var)
    return {"estimate": est, "ciLow": center - half, "ciHigh": center + half, "pValue": p}


def uplift(est, ma, va, na, mb, vb, nb, interval):
    """Fieller's interval for the ratio of the means, less 1: the ratios R with (mb - R ma)^2 <= k^2 (Vb + R^2 Va),
    k the half-width interval(center, variance) gives a unit variance; its p-value the difference's test (R = 1).
    None when the control's mean is not clear of 0 at that width (ma^2 <= k^2 Va: the set is unbounded)."""
    Va, Vb = va / na, vb / nb
    k = interval(0.0, 1.0)[1]
    lead = ma**2 - k**2 * Va
    if lead <= 0:
        return None
    root = k * math.sqrt(ma**2 * Vb + mb**2 * Va - k**2 * Va * Vb)
    return {"estimate": est, "ciLow": (ma * mb - root) / lead - 1, "ciHigh": (ma * mb + root) / lead - 1,
            "pValue": interval(mb - ma, Va + Vb)[2]}


def proportions(case):
    """Agresti-Caffo: one success and one failure added to each arm for the interval and the statistic."""
    (na, xa), (nb, xb), alpha, tuning = case["control"], case["treatment"], case["alpha"], case["tuning"]
    tuned = case.get("tunedAlpha")
    a_n, b_n = na + 2, nb + 2
    pa, pb = (xa + 1) / a_n, (xb + 1) / b_n
    va, vb = pa * (1 - pa), pb * (1 - pb)
    raw = xb / nb - xa / na
    center, var = pb - pa, va / a_n + vb / b_n
    n = na + nb
    if tuning is not None:
        absolute = sequential(raw, center, var, n, alpha, tuning, tuned)
        interval = lambda c, v: (lambda r: (r["ciLow"], r["ciHigh"], r["pValue"]))(
            sequential(c, c, v, n, alpha, tuning, tuned)
        )
    else:
        q = stats.norm.ppf(1 - alpha / 2)
        absolute = fixed(raw, center, var, q, min(1.0, 2 * stats.norm.sf(abs(center) / math.sqrt(var))))
        interval = lambda c, v: (c - q * math.sqrt(v), c + q * math.sqrt(v), min(1.0, 2 * stats.norm.sf(abs(c) / math.sqrt(v))))
    relative = None
    if enough_for_uplift(na, xa, nb, xb):
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
    if enough_for_uplift(na, positive[0], nb, positive[1]) and ma > 0 and mb > 0:
        relative = uplift(mb / ma - 1, ma, va, na, mb, vb, nb, interval)
    return {"absolute": absolute, "relative": relative, "df": df}, positive


def kish(w, ns):
    """Kish's effective sample size of an arm whose reader i in period p weighs w_p / n_pa."""
    per_reader = np.concatenate([np.full(int(n), wp / n) for wp, n in zip(w, ns)])
    return float(per_reader.sum() ** 2 / (per_reader ** 2).sum())


def bandit_counts(cells):
    """The bandit's counts (core/stats/periods.ts periodBanditArms): each arm from its first period with a reader (a
    variant added to a running bandit), over the periods where every arm there by then has one, each weighted by
    those arms' readers; Kish's effective readers as trials. None when some arms have such a period and others not
    (the update waits); no trials for any when none has."""
    k = len(cells[0])
    first = [next((p for p, row in enumerate(cells) if len(row[a]) > 0), None) for a in range(k)]
    totals = []
    for p, row in enumerate(cells):
        there = [a for a in range(k) if first[a] is not None and first[a] <= p]
        totals.append(sum(len(row[a]) for a in there) if there and all(len(row[a]) > 0 for a in there) else 0)
    out = []
    for a in range(k):
        ps = [] if first[a] is None else [p for p in range(first[a], len(cells)) if totals[p] > 0]
        if not ps:
            out.append({"trials": 0.0, "successes": 0.0})
            continue
        tot = np.array([totals[p] for p in ps], dtype=float)
        w = tot / tot.sum()
        ns = np.array([len(cells[p][a]) for p in ps], dtype=float)
        mean = float(w @ np.array([cells[p][a].mean() for p in ps]))
        eff = kish(w, ns)
        out.append({"trials": eff, "successes": mean * eff})
    known = sum(1 for o in out if o["trials"] > 0)
    return out if known in (0, k) else None


def periods_section():
    """A bandit's arms weighted by period (core/stats/periods.ts), from readers' values drawn per period and arm."""
    rng = np.random.default_rng(20270105)
    specs = [
        # rates: shares that move each hour, a rate that falls through the day, the same in every arm (or not)
        {"kind": "rates", "readers": [[400, 400], [300, 500], [150, 650], [100, 900], [80, 1000], [60, 700]],
         "rate": [[0.12, 0.12], [0.1, 0.1], [0.08, 0.085], [0.05, 0.055], [0.04, 0.045], [0.03, 0.032]],
         "alpha": 0.05, "tuning": None},
        {"kind": "rates", "readers": [[10000, 10000], [5000, 15000], [2000, 18000]],
         "rate": [[0.05, 0.06], [0.05, 0.06], [0.05, 0.06]], "alpha": 0.05, "tuning": 5000},
        {"kind": "rates", "readers": [[2000, 2000], [2000, 18000]], "rate": [[0.12, 0.12], [0.03, 0.03]],
         "alpha": 0.1, "tuning": None},
        # three arms, a period where the third has no reader (left out), one with too few clicks for an uplift
        {"kind": "rates", "readers": [[300, 300, 300], [200, 500, 0], [100, 600, 200], [100, 500, 300]],
         "rate": [[0.02, 0.02, 0.01], [0.02, 0.03, 0.01], [0.02, 0.03, 0.01], [0.02, 0.03, 0.01]],
         "alpha": 0.05, "tuning": None, "compare": [[0, 1], [0, 2]]},
        {"kind": "rates", "readers": [[50, 50], [20, 80], [10, 90]], "rate": [[0.0, 0.02], [0.0, 0.02], [0.0, 0.02]],
         "alpha": 0.05, "tuning": None},
        # revenue per reader: buyers spend a log-normal amount
        {"kind": "means", "readers": [[800, 800], [500, 1100], [300, 1300], [200, 1500]],
         "rate": [[0.06, 0.06], [0.05, 0.055], [0.04, 0.045], [0.03, 0.035]], "alpha": 0.05, "tuning": None},
        {"kind": "means", "readers": [[8000, 8000], [5000, 11000], [3000, 13000], [2000, 15000]],
         "rate": [[0.06, 0.07], [0.05, 0.065], [0.04, 0.055], [0.03, 0.045]], "alpha": 0.05, "tuning": 5000},
        # a period with one reader in an arm (no variance of its own: the arm's pooled one holds for it), another
        # with none (left out)
        {"kind": "means", "readers": [[120, 130], [1, 200], [0, 50], [90, 60]],
         "rate": [[0.3, 0.3], [0.3, 0.35], [0.3, 0.35], [0.25, 0.3]], "alpha": 0.1, "tuning": None},
        # one reader of the control in every period (no period says how its values vary: its readers' variance
        # around their own mean, n - 1 degrees of freedom)
        {"kind": "means", "readers": [[1, 4], [1, 6], [1, 3], [1, 5], [1, 7], [1, 4], [1, 6], [1, 5]],
         "rate": [[0.8, 0.7]] * 8, "alpha": 0.05, "tuning": None},
        # (last: the cases above draw as they did)
        # a third arm added after two periods (a variant added to a running bandit): the report compares the arms
        # over the periods they share, the bandit counts the first two from the start
        {"kind": "rates", "readers": [[300, 300, 0], [250, 350, 0], [200, 300, 100], [150, 300, 150]],
         "rate": [[0.05, 0.03, 0.0], [0.05, 0.03, 0.0], [0.05, 0.03, 0.04], [0.05, 0.03, 0.04]],
         "alpha": 0.05, "tuning": None, "compare": [[0, 1], [0, 2]]},
    ]
    cases = []
    for spec in specs:
        rates = spec["kind"] == "rates"
        cells = []
        for counts, ps in zip(spec["readers"], spec["rate"]):
            row = []
            for n, p in zip(counts, ps):
                hit = rng.random(n) < p
                row.append(hit.astype(float) if rates else np.where(hit, rng.lognormal(3.5, 0.8, n), 0.0))
            cells.append(row)
        k = len(cells[0])
        used = [p for p, row in enumerate(cells) if all(len(v) > 0 for v in row)]
        totals = np.array([sum(len(v) for v in cells[p]) for p in used], dtype=float)
        w = totals / totals.sum()
        arms = []
        for a in range(k):
            vals = [cells[p][a] for p in used]
            ns = np.array([len(v) for v in vals], dtype=float)
            means = np.array([v.mean() for v in vals])
            mean = float(w @ means)
            # the arm's variance per reader over all its periods: a rate's p(1 - p) at its weighted rate; a value's
            # pooled within-period sample variance (squared deviations from each period's mean over sum (n - 1))
            df = float((ns - 1).sum())
            if rates:
                sigma2 = mean * (1 - mean)
            elif df > 0:
                sigma2 = sum(float(((v - v.mean()) ** 2).sum()) for v in vals) / df
            else:
                # one reader in every period: the readers' sample variance around their own mean, n - 1 dof
                every = np.concatenate(vals)
                df = float(len(every) - 1)
                sigma2 = float(every.var(ddof=1)) if len(every) > 1 else 0.0
            arms.append({
                "n": int(ns.sum()), "mean": mean, "variance": float(sigma2 * (w**2 / ns).sum()),
                "events": int(sum((v > 0).sum() for v in vals)), "df": df, "ns": ns,
            })
        alpha, tuning = spec["alpha"], spec["tuning"]
        comparisons = []
        for c, t in spec.get("compare", [[0, 1]]):
            A, B = arms[c], arms[t]
            units = A["n"] + B["n"]
            if rates:
                def adjust(e):
                    eff = kish(w, e["ns"])
                    m = (e["mean"] * eff + 1) / (eff + 2)
                    return m, m * (1 - m), eff + 2
                (ma, va, na), (mb, vb, nb) = adjust(A), adjust(B)
                center, var = mb - ma, va / na + vb / nb
                q = lambda p: stats.norm.ppf(p)
                two = lambda z: min(1.0, 2 * stats.norm.sf(abs(z)))
                enough = enough_for_uplift(A["n"], A["events"], B["n"], B["events"])
            else:
                ma, mb = A["mean"], B["mean"]
                va, na, vb, nb = A["variance"] * A["n"], A["n"], B["variance"] * B["n"], B["n"]
                center, var = mb - ma, A["variance"] + B["variance"]
                parts = [(e["variance"], e["df"]) for e in (A, B) if e["df"] > 0 and e["variance"] > 0]
                df = sum(x for x, _ in parts) ** 2 / sum(x * x / d for x, d in parts)
                q = lambda p, df=df: stats.t.ppf(p, df)
                two = lambda z, df=df: float(2 * stats.t.sf(abs(z), df))
                enough = enough_for_uplift(A["n"], A["events"], B["n"], B["events"]) and ma > 0
            if tuning is not None:
                absolute = sequential(B["mean"] - A["mean"], center, var, units, alpha, tuning)
                interval = lambda c_, v: (lambda r: (r["ciLow"], r["ciHigh"], r["pValue"]))(sequential(c_, c_, v, units, alpha, tuning))
            else:
                qq = q(1 - alpha / 2)
                absolute = fixed(B["mean"] - A["mean"], center, var, qq, two(center / math.sqrt(var)))
                interval = lambda c_, v, qq=qq, two=two: (c_ - qq * math.sqrt(v), c_ + qq * math.sqrt(v), two(c_ / math.sqrt(v)))
            relative = uplift(B["mean"] / A["mean"] - 1, ma, va, na, mb, vb, nb, interval) if enough else None
            comparisons.append({"control": c, "treatment": t, "absolute": absolute, "relative": relative})
        if rates:
            table = [[{"n": len(v), "x": int(v.sum())} for v in row] for row in cells]
        else:
            table = [[{"n": len(v), "sum": float(v.sum()), "sumSquares": float((v * v).sum()), "positive": int((v > 0).sum())}
                      for v in row] for row in cells]
        cases.append({
            "kind": spec["kind"], "periods": table, "alpha": alpha, "tuning": tuning,
            "expected": {
                "weights": [float(w[used.index(p)]) if p in used else 0.0 for p in range(len(cells))],
                "arms": [{"n": e["n"], "mean": e["mean"], "variance": e["variance"]} for e in arms],
                "comparisons": comparisons,
                # Kish's effective readers, from each reader's own weight in the arm's mean (w_p / n_pa):
                # (sum of weights)^2 / sum of their squares; each arm from its first reader (bandit_counts)
                "bandit": bandit_counts(cells) if rates else None,
            },
        })
    return cases


def main():
    out = {"generator": f"test/golden/stats_golden.py, scipy {scipy.__version__}, numpy {np.__version__}"}
    # first, with its own generator: adding it changed no line of the sections below
    out["periods"] = periods_section()
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
    out["multiple"] = multiple_section()
    print(json.dumps(out, indent=1))


def holm(ps):
    """Holm's step-down from its definition: the i-th smallest's adjusted value is the largest, over j <= i, of
    min(1, (m - j + 1) p_(j)) (1-based)."""
    ps = np.asarray(ps, dtype=float)
    m = len(ps)
    order = np.argsort(ps, kind="stable")
    steps = np.minimum(1.0, (m - np.arange(m)) * ps[order])
    out = np.empty(m)
    out[order] = np.maximum.accumulate(steps)
    return out


def multiple_section():
    """Corrections for several arms against one control (core/stats/multiple-testing.ts, core/experiments/report.ts):
    p-value vectors adjusted by Holm (above) and by scipy's Benjamini-Hochberg (stats.false_discovery_control); and
    families of arms, each comparison's interval made again at alpha p / adjusted p (a sequence keeps the tuning of
    the configured alpha)."""
    rng = np.random.default_rng(20261203)
    vectors = [
        [0.01, 0.04, 0.03, 0.005],
        [0.2, 0.2, 0.01, 0.5, 0.049],
        [0.0, 0.3, 1.0],
        [0.001, 0.9],
        list(rng.uniform(size=9)),
        list(rng.uniform(size=7) ** 4),
    ]
    pvalues = [
        {"pValues": [float(p) for p in v], "holm": [float(x) for x in holm(v)],
         "bh": [float(x) for x in stats.false_discovery_control(v, method="bh")]}
        for v in vectors
    ]
    families = [
        {"control": [10000, 500], "treatments": [[10000, 560], [10000, 590], [10000, 505]], "alpha": 0.05,
         "tuning": None, "method": "holm-bonferroni"},
        {"control": [10000, 500], "treatments": [[10000, 560], [10000, 590], [10000, 505]], "alpha": 0.05,
         "tuning": None, "method": "benjamini-hochberg"},
        {"control": [40000, 2000], "treatments": [[40000, 2400], [40000, 2050], [40000, 1990], [40000, 2150]],
         "alpha": 0.05, "tuning": 5000, "method": "holm-bonferroni"},
        {"control": [3000, 40], "treatments": [[3000, 70], [3000, 8]], "alpha": 0.1, "tuning": None,
         "method": "holm-bonferroni"},
        # one arm past the others by chance beside eight with too few clicks for an uplift: corrected over all nine
        {"control": [2000, 100], "treatments": [[200, 18]] + [[200, 9]] * 8, "alpha": 0.05, "tuning": None,
         "method": "holm-bonferroni"},
        {"control": [2000, 100], "treatments": [[200, 18]] + [[200, 9]] * 8, "alpha": 0.05, "tuning": None,
         "method": "benjamini-hochberg"},
        # sequential, few readers: b's uplift is bounded alone and not at the corrected level (dropped); an arm with
        # no uplift (0 conversions) beside one whose corrected uplift and difference must agree
        {"control": [300, 13], "treatments": [[300, 39], [300, 13]], "alpha": 0.05, "tuning": 5000,
         "method": "holm-bonferroni"},
        {"control": [1000, 50], "treatments": [[1000, 0], [1000, 74]], "alpha": 0.05, "tuning": None,
         "method": "holm-bonferroni"},
    ]
    for f in families:
        raw = [proportions({"control": f["control"], "treatment": t, "alpha": f["alpha"], "tuning": f["tuning"]})
               for t in f["treatments"]]
        expected = [{"absolute": None, "relative": None} for _ in raw]
        # one family per metric, every arm compared (one without an estimate counts as p = 1), over the difference's
        # p-values, which the uplift shares; an uplift no ratio bounds at the corrected level is dropped
        ps = [r["absolute"]["pValue"] if r["absolute"] is not None else 1.0 for r in raw]
        adjusted = holm(ps) if f["method"] == "holm-bonferroni" else stats.false_discovery_control(ps, method="bh")
        for scale in ("absolute", "relative"):
            for i, (p, q) in enumerate(zip(ps, adjusted)):
                if raw[i][scale] is None:
                    continue
                level = f["alpha"] / len(ps) if p == 0 else f["alpha"] * p / q
                again = proportions({"control": f["control"], "treatment": f["treatments"][i], "alpha": level,
                                     "tuning": f["tuning"], "tunedAlpha": f["alpha"]})[scale]
                if again is None:
                    continue
                expected[i][scale] = {"ciLow": again["ciLow"], "ciHigh": again["ciHigh"], "pValue": float(q)}
        f["expected"] = expected
    return {"pValues": pvalues, "families": families}


main()
