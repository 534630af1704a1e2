#!/usr/bin/env python3
"""Reference quantiles of SαS(α, 1) for Tests/TailMathTests/StableBatchTests.swift.

Run once (python3 scripts/stable_quantiles.py; needs scipy) and paste the printed Swift
constants into the test. SαS(α, 1) here has characteristic function exp(−|t|^α): scipy's
levy_stable with β = 0, loc 0, scale 1 (its default S1 parameterisation; for β = 0 S0 and S1
coincide). The script checks that convention first: α = 2 must be N(0, 2) and α = 1 the
standard Cauchy law. Densities f(x_p) are for the tolerance sqrt(p(1−p)/N)/f(x_p) of an
empirical quantile from N draws.
"""
import math

import scipy
from scipy import stats

ALPHAS = [1.0, 1.5, 1.75, 2.0]
PS = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]


def main() -> None:
    law = stats.levy_stable
    for p in PS:
        gauss = stats.norm.ppf(p, scale=math.sqrt(2))
        cauchy = math.tan(math.pi * (p - 0.5))
        assert abs(law.ppf(p, 2.0, 0.0) - gauss) < 1e-6, (p, law.ppf(p, 2.0, 0.0), gauss)
        assert abs(law.ppf(p, 1.0, 0.0) - cauchy) < 1e-6, (p, law.ppf(p, 1.0, 0.0), cauchy)
    print(f"// scipy {scipy.__version__}: stats.levy_stable.ppf(p, alpha, 0) and .pdf")
    print("let batchStableQuantiles: [Float: [ReferenceQuantile]] = [")
    for a in ALPHAS:
        print(f"  {a}: [")
        for p in PS:
            x = float(law.ppf(p, a, 0.0))
            if abs(x) < 1e-12:
                x = 0.0
            f = float(law.pdf(x, a, 0.0))
            print(f"    .init(p: {p}, x: {x:.6f}, density: {f:.6g}),")
        print("  ],")
    print("]")


if __name__ == "__main__":
    main()
