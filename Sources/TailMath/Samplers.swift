import Foundation

/// Samplers of the distributions TailSweep uses. All take a seeded `Xoshiro256` explicitly.
extension Xoshiro256 {
  /// Exp(1) by inversion: −log(U) with U in (0, 1), so the result is finite and > 0.
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
}
