import Foundation
import Testing

@testable import TailMath

/// Fraction of `draws` that are ≤ x (the empirical distribution function at x).
func empiricalCDF(_ draws: [Double], at x: Double) -> Double {
  var below = 0
  for d in draws where d <= x { below += 1 }
  return Double(below) / Double(draws.count)
}

/// Quantile check without sorting: the sample p-quantile is within δ of x_p essentially iff the
/// empirical CDF at x_p is within f(x_p)·δ of p. F_N(x_p) is a binomial proportion with standard
/// error √(p(1−p)/N), so the tolerance is `sigmas` of those (5σ: an honest sampler fails with
/// probability < 10⁻⁶ per check; the seeds are fixed, so the outcome is deterministic). The
/// equivalent tolerance on the quantile itself, 5·√(p(1−p)/N)/f(x_p), is printed on failure.
func expectCDF(
  _ draws: [Double], at ref: ReferenceQuantile, label: String, sigmas: Double = 5,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  let standardError = (ref.p * (1 - ref.p) / Double(draws.count)).squareRoot()
  let observed = empiricalCDF(draws, at: ref.x)
  #expect(
    abs(observed - ref.p) <= sigmas * standardError,
    """
    \(label): F_N(\(ref.x)) = \(observed), expected \(ref.p) ± \(sigmas * standardError) \
    (quantile tolerance ≈ \(sigmas * standardError / ref.density))
    """, sourceLocation: sourceLocation)
}

/// A reference quantile of a law: probability p, value x_p, density f(x_p).
struct ReferenceQuantile: Sendable {
  var p: Double
  var x: Double
  var density: Double
}

/// SαS(α, 1) quantiles (characteristic function exp(−|t|^α)) at p = 0.6, 0.75, 0.9, 0.99.
/// Computed at authoring time in two independent ways that agree to all 6 decimals:
/// scipy 1.17 `stats.levy_stable.ppf(p, α, 0.0)` (β = 0, scale 1; for β = 0 its default S1
/// parameterisation has characteristic function exp(−|t|^α)), and Brent root-finding on
/// F(x) = 1/2 + (1/π)∫₀^∞ sin(tx) e^(−t^α)/t dt with scipy.integrate.quad. The densities come from
/// f(x) = (1/π)∫₀^∞ cos(tx) e^(−t^α) dt. α = 1 is the Cauchy law (x_p = tan(π(p − 1/2))) and
/// α = 2 is N(0, 2).
let stableQuantiles: [Double: [ReferenceQuantile]] = [
  0.5: [
    .init(p: 0.6, x: 0.208890, density: 0.3322),
    .init(p: 0.75, x: 1.283833, density: 0.0654802),
    .init(p: 0.9, x: 12.741343, density: 0.00349082),
    .init(p: 0.99, x: 1559.726104, density: 3.17333e-06),
  ],
  1.0: [
    .init(p: 0.6, x: 0.324920, density: 0.287914),
    .init(p: 0.75, x: 1.000000, density: 0.159155),
    .init(p: 0.9, x: 3.077684, density: 0.0303959),
    .init(p: 0.99, x: 31.820516, density: 0.000314056),
  ],
  1.5: [
    .init(p: 0.6, x: 0.353341, density: 0.27448),
    .init(p: 0.75, x: 0.968933, density: 0.206241),
    .init(p: 0.9, x: 2.061463, density: 0.0795039),
    .init(p: 0.99, x: 7.736446, density: 0.00208835),
  ],
  1.75: [
    .init(p: 0.6, x: 0.357128, density: 0.273134),
    .init(p: 0.75, x: 0.961243, density: 0.217188),
    .init(p: 0.9, x: 1.902108, density: 0.104527),
    .init(p: 0.99, x: 4.682438, density: 0.00508102),
  ],
  1.9: [
    .init(p: 0.6, x: 0.358039, density: 0.273051),
    .init(p: 0.75, x: 0.956803, density: 0.221986),
    .init(p: 0.9, x: 1.843045, density: 0.116937),
    .init(p: 0.99, x: 3.669067, density: 0.0114132),
  ],
  2.0: [
    .init(p: 0.6, x: 0.358287, density: 0.273185),
    .init(p: 0.75, x: 0.953873, density: 0.224702),
    .init(p: 0.9, x: 1.812388, density: 0.124096),
    .init(p: 0.99, x: 3.289953, density: 0.0188459),
  ],
]

/// Checks the upper reference quantiles and, by symmetry, the mirrored lower ones
/// (F(−x_p) = 1 − p). The checks separate neighbouring α: e.g. at α = 1.75 the 0.99 quantile is
/// 4.68 with an equivalent tolerance of 0.22, while α = 1.9 would put it at 3.67.
func expectSymmetricStable(
  _ draws: [Double], alpha: Double, sourceLocation: SourceLocation = #_sourceLocation
) {
  for ref in stableQuantiles[alpha] ?? [] {
    expectCDF(draws, at: ref, label: "α=\(alpha) upper", sourceLocation: sourceLocation)
    let mirrored = ReferenceQuantile(p: 1 - ref.p, x: -ref.x, density: ref.density)
    expectCDF(draws, at: mirrored, label: "α=\(alpha) lower", sourceLocation: sourceLocation)
  }
}

/// 2·10⁵ draws per law: the 5σ tolerance on F_N is then 0.0022 (p = 0.99) to 0.0055 (p = 0.6),
/// i.e. 2–8 % of the 0.9 quantile for α ≥ 1, and each law takes well under a second in a debug
/// build.
let drawsPerLaw = 200_000

struct SymmetricStableTests {
  @Test(arguments: [0.5, 1.0, 1.5, 1.75, 1.9, 2.0])
  func quantilesMatchReference(alpha: Double) {
    var g = Xoshiro256(key: 2024, stream: UInt64(alpha * 1000))
    let draws = (0..<drawsPerLaw).map { _ in g.nextSymmetricStable(alpha: alpha) }
    #expect(draws.allSatisfy { $0.isFinite })
    expectSymmetricStable(draws, alpha: alpha)
  }

  @Test func alphaTwoIsNormalWithVarianceTwo() {
    // N(0, 2): sample variance within 5 standard errors; SE of s² is σ²·√(2/(N−1)) = 2·0.00316.
    var g = Xoshiro256(seed: 11)
    let draws = (0..<drawsPerLaw).map { _ in g.nextSymmetricStable(alpha: 2) }
    let mean = draws.reduce(0, +) / Double(draws.count)
    let variance = draws.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws.count - 1)
    #expect(abs(variance - 2) <= 5 * 2 * (2.0 / Double(draws.count - 1)).squareRoot())
    // Kurtosis of a normal law is 3 (SE ≈ √(24/N) = 0.011): a heavy-tailed law would be far off.
    let m4 = draws.reduce(0) { $0 + pow($1 - mean, 4) } / Double(draws.count)
    #expect(abs(m4 / (variance * variance) - 3) < 0.06)
  }

  @Test func alphaOneIsCauchy() {
    // Cauchy quantiles tan(π(p − 1/2)), density 1/(π(1 + x²)): independent of the table.
    var g = Xoshiro256(seed: 12)
    let draws = (0..<drawsPerLaw).map { _ in g.nextSymmetricStable(alpha: 1) }
    for p in [0.55, 0.7, 0.8, 0.95, 0.995] {
      let x = tan(Double.pi * (p - 0.5))
      let ref = ReferenceQuantile(p: p, x: x, density: 1 / (Double.pi * (1 + x * x)))
      expectCDF(draws, at: ref, label: "Cauchy")
    }
  }

  @Test func neverNaNOrInfinite() {
    // 10⁵ draws at each α, including small α with astronomically heavy tails and exactly 1, 2.
    for alpha in [0.3, 0.7, 1.0, 1.3, 1.999_999, 2.0] {
      var g = Xoshiro256(seed: UInt64(alpha * 1e6))
      var bad = 0
      for _ in 0..<100_000 where !g.nextSymmetricStable(alpha: alpha).isFinite { bad += 1 }
      #expect(bad == 0, "α=\(alpha)")
    }
  }

  @Test func endpointsOfTheUniformsAreFinite() {
    // The extreme values the generator can produce: u = 2⁻⁵³ and 1 − 2⁻⁵³ (V → ∓π/2),
    // W = −log(1 − 2⁻⁵³) ≈ 1.1·10⁻¹⁶ (smallest) and −log(2⁻⁵³) ≈ 36.7 (largest).
    let us = [0x1.0p-53, 0.5, 1 - 0x1.0p-53]
    let ws = [-log1p(-0x1.0p-53), 1.0, -log(0x1.0p-53)]
    for alpha in [0.1, 0.3, 0.5, 0.99, 1.0, 1.01, 1.5, 1.75, 1.999, 2.0] {
      for u in us {
        for w in ws {
          let x = Xoshiro256.chambersMallowsStuck(alpha: alpha, u: u, w: w)
          #expect(x.isFinite, "α=\(alpha) u=\(u) w=\(w)")
        }
      }
    }
    for a in [0.05, 0.1, 0.5, 0.875, 0.999, 1.0] {
      for u in us {
        for w in ws {
          let logA = Xoshiro256.logPositiveStableUnitLaplace(index: a, u: u, w: w)
          #expect(logA.isFinite, "a=\(a) u=\(u) w=\(w)")
          if a >= 0.1 { #expect(exp(logA).isFinite) }
        }
      }
    }
  }

  @Test func continuousInAlphaAtOneAndTwo() {
    // Same uniforms, α slightly off 1 or 2: the sample moves only slightly (no special case
    // jump at 2; tan V at 1 is the limit of the general formula).
    for (u, w) in [(0.3, 0.7), (0.9, 2.0), (0.01, 0.05)] {
      let at1 = Xoshiro256.chambersMallowsStuck(alpha: 1, u: u, w: w)
      let near1 = Xoshiro256.chambersMallowsStuck(alpha: 1 + 1e-9, u: u, w: w)
      #expect(abs(at1 - near1) <= 1e-6 * max(1, abs(at1)))
      let at2 = Xoshiro256.chambersMallowsStuck(alpha: 2, u: u, w: w)
      let near2 = Xoshiro256.chambersMallowsStuck(alpha: 2 - 1e-9, u: u, w: w)
      #expect(abs(at2 - near2) <= 1e-6 * max(1, abs(at2)))
      // α = 2 is 2·sin(V)·√W (Box–Muller form of N(0, 2)).
      #expect(abs(at2 - 2 * sin(Double.pi * (u - 0.5)) * w.squareRoot()) <= 1e-12)
    }
  }
}

struct PositiveStableTests {
  /// Quantiles of the β = 1 stable law with index a, scale 1 (S1), from scipy 1.17
  /// `stats.levy_stable.ppf(q, a, 1.0)` and `.pdf`, at authoring time; a Monte-Carlo run of the
  /// method-doc formula in numpy (10⁶ draws) agreed within its standard error.
  static let references: [Double: [ReferenceQuantile]] = [
    0.5: [
      .init(p: 0.1, x: 0.369612, density: 0.458977),
      .init(p: 0.5, x: 2.198109, density: 0.0975097),
      .init(p: 0.9, x: 63.328118, density: 0.000785392),
    ],
    0.75: [
      .init(p: 0.1, x: 1.598059, density: 0.290892),
      .init(p: 0.5, x: 3.209061, density: 0.157833),
      .init(p: 0.9, x: 17.213522, density: 0.00504895),
    ],
    0.875: [
      .init(p: 0.1, x: 4.126948, density: 0.252688),
      .init(p: 0.5, x: 5.700901, density: 0.182784),
      .init(p: 0.9, x: 14.812544, density: 0.00893429),
    ],
  ]

  @Test(arguments: [0.5, 0.75, 0.875])
  func quantilesMatchScipy(index a: Double) {
    var g = Xoshiro256(key: 77, stream: UInt64(a * 1000))
    let draws = (0..<drawsPerLaw).map { _ in g.nextPositiveStable(index: a) }
    #expect(draws.allSatisfy { $0 > 0 && $0.isFinite })
    for ref in Self.references[a] ?? [] { expectCDF(draws, at: ref, label: "a=\(a)") }
  }

  @Test(arguments: [0.3, 0.5, 0.75, 0.875])
  func laplaceTransform(index a: Double) {
    // E[exp(−sX)] = exp(−s^a / cos(πa/2)) =: L(s) (scale 1, S1), checked analytically: no
    // external reference. exp(−sX) ∈ (0, 1) has variance L(2s) − L(s)², so the tolerance is
    // 5 standard errors of the Monte-Carlo mean of N draws.
    var g = Xoshiro256(key: 78, stream: UInt64(a * 1000))
    let draws = (0..<drawsPerLaw).map { _ in g.nextPositiveStable(index: a) }
    let laplace = { (s: Double) in exp(-pow(s, a) / cos(Double.pi * a / 2)) }
    for s in [0.1, 0.5, 1.0, 2.0] {
      let mean = draws.reduce(0) { $0 + exp(-s * $1) } / Double(draws.count)
      let variance = laplace(2 * s) - laplace(s) * laplace(s)
      #expect(abs(mean - laplace(s)) <= 5 * (variance / Double(draws.count)).squareRoot() + 1e-12)
    }
  }
}

struct SubGaussianMixingTests {
  @Test(arguments: [1.5, 1.75, 2.0])
  func marginalsAreSymmetricStable(alpha: Double) {
    // sqrt(2A)·g must be SαS(α, 1): same reference quantiles and tolerance as the CMS sampler.
    var g = Xoshiro256(key: 31, stream: UInt64(alpha * 1000))
    let draws = (0..<drawsPerLaw).map { _ in g.nextSubGaussianMixing(alpha: alpha) * g.nextNormal()
    }
    #expect(draws.allSatisfy { $0.isFinite })
    expectSymmetricStable(draws, alpha: alpha)
  }

  @Test func laplaceOfAIsExpOfMinusSToTheHalfAlpha() {
    // A = m²/2 has E[exp(−sA)] = exp(−s^(α/2)); 5 standard errors as in `laplaceTransform`.
    let alpha = 1.5
    var g = Xoshiro256(seed: 32)
    let a = (0..<drawsPerLaw).map { _ in
      let m = g.nextSubGaussianMixing(alpha: alpha)
      return m * m / 2
    }
    for s in [0.25, 1.0, 4.0] {
      let exact = exp(-pow(s, alpha / 2))
      let exact2 = exp(-pow(2 * s, alpha / 2))
      let mean = a.reduce(0) { $0 + exp(-s * $1) } / Double(a.count)
      #expect(abs(mean - exact) <= 5 * ((exact2 - exact * exact) / Double(a.count)).squareRoot())
    }
  }

  @Test func continuousAtAlphaTwo() {
    var g = Xoshiro256(seed: 33)
    for _ in 0..<1000 {
      // A = 1 exactly at α = 2 (up to rounding of sin θ / sin θ).
      #expect(abs(g.nextSubGaussianMixing(alpha: 2) - 2.0.squareRoot()) < 1e-12)
    }
    // Close to 2 the factor concentrates at √2 (numpy at authoring time, α = 1.9999: 5–95 %
    // range [1.4138, 1.4147]); median within 0.005 of √2.
    let near = (0..<10_001).map { _ in g.nextSubGaussianMixing(alpha: 1.9999) }.sorted()
    #expect(abs(near[5000] - 2.0.squareRoot()) < 0.005)
  }

  @Test func neverNaNOrInfinite() {
    for alpha in [0.3, 0.5, 1.0, 1.5, 1.999_999, 2.0] {
      var g = Xoshiro256(seed: UInt64(alpha * 1e6) + 1)
      var bad = 0
      for _ in 0..<100_000 {
        let m = g.nextSubGaussianMixing(alpha: alpha)
        if !(m.isFinite && m > 0) { bad += 1 }
      }
      #expect(bad == 0, "α=\(alpha)")
    }
  }
}

struct ExponentialTests {
  @Test func exponentialIsPositiveWithUnitMean() {
    // Exp(1): mean 1 (SE 1/√N), P(X > 1) = e⁻¹ (binomial SE); 5 standard errors each.
    var g = Xoshiro256(seed: 51)
    let draws = (0..<drawsPerLaw).map { _ in g.nextExponential() }
    #expect(draws.allSatisfy { $0 > 0 && $0.isFinite })
    let mean = draws.reduce(0, +) / Double(drawsPerLaw)
    #expect(abs(mean - 1) <= 5 / Double(drawsPerLaw).squareRoot())
    let ref = ReferenceQuantile(p: 1 - exp(-1), x: 1, density: exp(-1))
    expectCDF(draws, at: ref, label: "Exp(1)")
  }
}
