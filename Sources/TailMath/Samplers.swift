import Foundation

/// Samplers of the distributions TailSweep uses. All take a seeded `Xoshiro256` explicitly.
extension Xoshiro256 {
  /// Exp(1) by inversion: −log(U) with U from `nextOpenUnit()` (never 0 or 1), so the
  /// result is finite and > 0 (between 1.1·10⁻¹⁶ and 36.7). One stream word.
  @inlinable public mutating func nextExponential() -> Double {
    -Foundation.log(nextOpenUnit())
  }

  /// N(0, 1) by the Box–Muller transform (one of the two values is used, so the stream
  /// position is independent of any cached state).
  @inlinable public mutating func nextNormal() -> Double {
    let u1 = nextOpenUnit()
    let u2 = nextUnit()
    return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
  }

  /// One draw of X ~ SαS(α, 1): symmetric α-stable with characteristic function
  /// E[exp(itX)] = exp(−|t|^α), by Chambers–Mallows–Stuck (method doc §3).
  ///
  /// - Parameter alpha: tail index α ∈ (0, 2]. α = 1 gives the standard Cauchy law (tan V),
  ///   α = 2 gives N(0, 2) through the general formula (no special case: the sampler is
  ///   continuous in α). Values outside (0, 2] are a programming error (precondition).
  /// - Returns: a finite sample, never clipped. It consumes exactly two 64-bit words of the
  ///   stream whatever α is (V first, then W), so stream positions do not depend on α.
  ///   Finite for every α ≥ 0.1 (the largest possible |X| at α = 0.1 is about 10³⁰⁰); below
  ///   that a genuine sample can exceed the range of `Double` and is then ±infinity.
  @inlinable public mutating func nextSymmetricStable(alpha: Double) -> Double {
    precondition(alpha > 0 && alpha <= 2, "nextSymmetricStable: alpha must be in (0, 2]")
    let u = nextOpenUnit()
    let w = nextExponential()  // Exp(1), ≥ 1.1e-16 > 0: the endpoint W = 0 cannot occur
    return Xoshiro256.chambersMallowsStuck(alpha: alpha, u: u, w: w)
  }

  /// The CMS transform of V = π(u − 1/2) ∈ (−π/2, π/2) and W > 0, evaluated in the log domain
  /// so that no intermediate power under- or overflows:
  /// X = sin(αV) · exp(−(1/α)·log cos V + ((1−α)/α)·(log cos((1−α)V) − log W)).
  /// With u ∈ (0, 1) from `nextOpenUnit` every cosine here is > 0: |V| ≤ `Double.pi/2`
  /// (< π/2) after rounding and |(1−α)V| ≤ |V| since |1 − α| ≤ 1, so no NaN can arise.
  @inlinable internal static func chambersMallowsStuck(alpha: Double, u: Double, w: Double)
    -> Double
  {
    let v = Double.pi * (u - 0.5)
    if alpha == 1 { return Foundation.tan(v) }
    let inverse = 1 / alpha
    let exponent = (1 - alpha) * inverse
    let logScale =
      -inverse * Foundation.log(Foundation.cos(v))
      + exponent * (Foundation.log(Foundation.cos((1 - alpha) * v)) - Foundation.log(w))
    return Foundation.sin(alpha * v) * Foundation.exp(logScale)
  }

  /// One draw of a totally skewed (β = 1) positive stable variable X with index a ∈ (0, 1) and
  /// scale 1 in the S1 parameterisation: E[exp(itX)] = exp(−|t|^a (1 − i·sign(t)·tan(πa/2))),
  /// equivalently Laplace transform E[exp(−sX)] = exp(−s^a / cos(πa/2)) for s ≥ 0.
  ///
  /// Method doc §3 (Weron's form of CMS): B = arctan(tan(πa/2))/a, which equals π/2 for
  /// a ∈ (0, 1), S = (1 + tan²(πa/2))^(1/(2a)) = cos(πa/2)^(−1/a), and
  /// X = S · sin(a(V+B)) / cos(V)^(1/a) · (cos(V − a(V+B)) / W)^((1−a)/a).
  /// Writing θ = V + π/2 = πu ∈ (0, π) turns this into S · `positiveStableUnitLaplace`.
  ///
  /// - Parameter a: index a ∈ (0, 1) (precondition).
  /// - Returns: a sample > 0 (finite for a ≥ 0.1; see `nextSymmetricStable`). Two stream words.
  @inlinable public mutating func nextPositiveStable(index a: Double) -> Double {
    precondition(a > 0 && a < 1, "nextPositiveStable: index a must be in (0, 1)")
    let u = nextOpenUnit()
    let w = nextExponential()
    let logS = -Foundation.log(Foundation.cos(Double.pi * a / 2)) / a
    return Foundation.exp(logS + Xoshiro256.logPositiveStableUnitLaplace(index: a, u: u, w: w))
  }

  /// log of Kanter's representation of the positive a-stable law with Laplace transform
  /// exp(−s^a): with θ = πu ∈ (0, π),
  /// A = sin(aθ) / sin(θ)^(1/a) · (sin((1−a)θ) / W)^((1−a)/a).
  /// (This is the method-doc formula without the factor S: cos(V) = sin θ and
  /// cos(V − a(V+B)) = sin((1−a)θ).) Every sine is of an angle strictly inside (0, π), so all
  /// logarithms are finite; a = 1 gives A = 1 exactly (the (1−a)/a term is skipped).
  @inlinable internal static func logPositiveStableUnitLaplace(
    index a: Double, u: Double, w: Double
  )
    -> Double
  {
    let theta = Double.pi * u
    let inverse = 1 / a
    var logA =
      Foundation.log(Foundation.sin(a * theta)) - inverse * Foundation.log(Foundation.sin(theta))
    if a < 1 {
      logA +=
        (1 - a) * inverse
        * (Foundation.log(Foundation.sin((1 - a) * theta)) - Foundation.log(w))
    }
    return logA
  }

  /// The mixing factor of noise type 3: returns sqrt(2·A) where A is positive (α/2)-stable
  /// (β = 1) with scale cos(πα/4)^(2/α), i.e. with Laplace transform E[exp(−sA)] = exp(−s^(α/2)).
  /// Then for g ~ N(0, 1) independent, sqrt(2A)·g has characteristic function
  /// E[exp(−t²A)] = exp(−|t|^α): every marginal of sqrt(2A)·g, g ~ N(0, I), is SαS(α, 1).
  ///
  /// - Parameter alpha: tail index α ∈ (0, 2] (precondition). At α = 2 the factor is exactly
  ///   sqrt(2) (A = 1, Gaussian marginals N(0, 2)); it is continuous as α → 2 and never NaN.
  /// - Returns: a positive factor, finite for α ≥ 0.2. Two stream words.
  @inlinable public mutating func nextSubGaussianMixing(alpha: Double) -> Double {
    precondition(alpha > 0 && alpha <= 2, "nextSubGaussianMixing: alpha must be in (0, 2]")
    let u = nextOpenUnit()
    let w = nextExponential()
    let logA = Xoshiro256.logPositiveStableUnitLaplace(index: alpha / 2, u: u, w: w)
    return Foundation.exp(0.5 * (logA + Foundation.log(2.0)))
  }
}
