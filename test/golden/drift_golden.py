"""Golden cases for opentime's drift measures (core/drift.ts), computed by numpy and scipy.

Regenerate (python3 with numpy and scipy, e.g. Debian's python3-scipy):
    python3 test/golden/drift_golden.py > test/golden/drift.json

Independent of the TypeScript: bin edges are numpy.quantile (its default, linear interpolation) at k / bins,
deduplicated by numpy.unique; shares count values per bin with numpy.searchsorted (side="left": the bins are
(-inf, e0], (e0, e1], ..., (e_last, inf)); the PSI is the symmetric Kullback-Leibler divergence from
scipy.special.rel_entr, rel_entr(a, e) + rel_entr(e, a) = (a - e) * ln(a / e), over shares floored at epsilon;
calibration bins are numpy.bincount over equal-width bins, their ECE the bin-share-weighted mean gap.
"""
import json

import numpy as np
import scipy
from scipy import special


def edges_of(values, bins):
    if len(values) == 0:
        return []
    return [float(e) for e in np.unique(np.quantile(np.asarray(values, dtype=float), np.arange(1, bins) / bins))]


def shares_of(values, edges):
    v = np.asarray(values, dtype=float)
    counts = np.bincount(np.searchsorted(np.asarray(edges, dtype=float), v, side="left"), minlength=len(edges) + 1)
    return [float(c) for c in counts / len(v)]


def psi_of(expected, actual, epsilon):
    e = np.maximum(np.asarray(expected, dtype=float), epsilon)
    a = np.maximum(np.asarray(actual, dtype=float), epsilon)
    return float(np.sum(special.rel_entr(a, e) + special.rel_entr(e, a)))


def calibration_of(p, y, bins):
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    idx = np.clip(np.floor(p * bins), 0, bins - 1).astype(int)
    n = np.bincount(idx, minlength=bins)
    sum_p = np.bincount(idx, weights=p, minlength=bins)
    sum_y = np.bincount(idx, weights=y, minlength=bins)
    out, ece = [], 0.0
    for b in range(bins):
        mean_p = sum_p[b] / n[b] if n[b] else None
        mean_y = sum_y[b] / n[b] if n[b] else None
        if n[b]:
            ece += n[b] / len(p) * abs(mean_p - mean_y)
        out.append({"lo": b / bins, "hi": (b + 1) / bins, "n": int(n[b]), "predicted": mean_p, "observed": mean_y})
    return {"bins": out, "ece": float(ece), "n": int(len(p))}


def main():
    rng = np.random.default_rng(20261101)
    r = lambda x: np.round(x, 4)  # short decimals keep the file small; ties stay rare
    samples = [
        # a continuous feature (a top score), then a shifted and wider population
        ("normal", r(rng.normal(0.3, 1.2, 300)), r(rng.normal(0.6, 1.5, 250)), 10),
        ("normal, 4 bins", r(rng.normal(0, 1, 200)), r(rng.normal(0, 1, 200)), 4),
        # a count with many ties (items bought): fewer bins than asked
        ("ties", rng.geometric(0.35, 300).astype(float), rng.geometric(0.25, 250).astype(float), 10),
        # a probability (propensity), skewed to 0
        ("propensity", r(rng.beta(0.8, 6, 300)), r(rng.beta(1.2, 5, 250)), 10),
        # days since the last purchase: exponential, the population aged by 30 days
        ("days", r(rng.exponential(60, 300)), r(rng.exponential(60, 250) + 30), 10),
        # a constant sample: one edge, everything in its first bin; the actual one all above it
        ("constant", np.full(20, 5.0), np.full(10, 6.0), 10),
        ("one value", np.array([3.5]), np.array([1.0, 3.5, 9.0]), 10),
        ("two values", np.array([2.0, 1.0]), np.array([0.5, 1.5, 2.5, 1.0]), 4),
        ("seven values", r(rng.normal(10, 3, 7)), r(rng.normal(10, 3, 9)), 10),
    ]
    histograms = []
    for name, ref, actual, bins in samples:
        edges = edges_of(ref, bins)
        shares = shares_of(ref, edges)
        actual_shares = shares_of(actual, edges)
        histograms.append(
            {
                "name": name,
                "bins": bins,
                "reference": [float(x) for x in ref],
                "actual": [float(x) for x in actual],
                "edges": edges,
                "shares": shares,
                "actualShares": actual_shares,
                "psi": psi_of(shares, actual_shares, 1e-4),
                "psiEpsilon1e3": psi_of(shares, actual_shares, 1e-3),
            }
        )
    psi_cases = []
    for expected, actual in [
        ([0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]),
        ([0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]),
        ([0.5, 0.5, 0.0], [0.2, 0.3, 0.5]),
        ([0.0, 1.0], [1.0, 0.0]),
        ([0.3, 0.7], [0.31, 0.69]),
        ([1.0], [1.0]),
    ]:
        for epsilon in (1e-4, 1e-2):
            psi_cases.append(
                {"expected": expected, "actual": actual, "epsilon": epsilon, "psi": psi_of(expected, actual, epsilon)}
            )
    calibration = []
    p = r(rng.beta(2, 5, 300))
    y = (rng.random(300) < np.minimum(1, p * 1.3)).astype(int)
    p2 = r(rng.random(200))
    y2 = (rng.random(200) < p2**2).astype(int)
    edge_p = np.array([0.0, 0.1, 0.2, 0.5, 0.7, 0.9999, 1.0, 0.3, 0.05, 0.95])
    edge_y = np.array([0, 0, 1, 1, 0, 1, 1, 0, 0, 1])
    for p_, y_, bins in [(p, y, 10), (p, y, 5), (p2, y2, 10), (edge_p, edge_y, 10), (edge_p, edge_y, 3)]:
        calibration.append(
            {"p": [float(x) for x in p_], "y": [int(x) for x in y_], "bins": bins, "expected": calibration_of(p_, y_, bins)}
        )

    out = {
        "generator": f"test/golden/drift_golden.py, scipy {scipy.__version__}, numpy {np.__version__}",
        "histograms": histograms,
        "psi": psi_cases,
        "calibration": calibration,
    }
    # one case a line: small diffs when a case changes
    lines = ["{", f' "generator": {json.dumps(out["generator"])},']
    sections = [k for k in out if k != "generator"]
    for i, key in enumerate(sections):
        cases = ",\n  ".join(json.dumps(c) for c in out[key])
        lines.append(f' "{key}": [\n  {cases}\n ]' + ("," if i < len(sections) - 1 else ""))
    lines.append("}")
    print("\n".join(lines))


main()
