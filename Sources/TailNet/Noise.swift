import Foundation
import TailMath

/// Heavy-tailed noise injection into the hidden layers (method doc §2). The per-step scale is
/// s = σ·η^(1/α): the α-stable increment of a Lévy-driven SDE over a time step η.
public enum NoiseInjection {
  /// s = σ · η^(1/α).
  public static func stepScale(sigma: Double, eta: Double, alpha: Double) -> Double {
    sigma * pow(eta, 1 / alpha)
  }

  /// Adds one draw of noise of `type` with scale `scale` to a row-major `rows × columns`
  /// hidden-layer matrix. Type 0 adds nothing and draws nothing.
  ///
  /// Types 1 and 3 use the Double samplers. Type 2 (`perEntry`) on a `Float` matrix with
  /// Float(α) ∈ [0.5, 2] and a scale that is finite in Float uses the vectorised Float32
  /// sampler `Xoshiro256.addSymmetricStable` (one stream word per entry, entries in row-major
  /// order; α and the scale are rounded to Float); a `Double` matrix, α < 0.5 or a scale
  /// beyond Float's range use the Double sampler per entry (two stream words per entry).
  public static func add<Scalar: BLASScalar>(
    type: NoiseType, alpha: Double, scale: Double, to w: inout [Scalar], rows: Int,
    columns: Int, rng: inout Xoshiro256
  ) {
    switch type {
    case .none:
      return
    case .perNeuron:
      w.withMutableBase { p in
        for j in 0..<rows {
          let v = Scalar(scale * rng.nextSymmetricStable(alpha: alpha))
          let row = p + j * columns
          for i in 0..<columns { row[i] += v }
        }
      }
    case .perEntry:
      if Scalar.self == Float.self, Xoshiro256.batchStableAlphaRange.contains(Float(alpha)),
        Float(scale).isFinite
      {
        // Float networks (all of training): the vectorised Float32 sampler, one stream word
        // per entry, added in place.
        w.withMutableBase { p in
          let entries = UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
          rng.addSymmetricStable(
            alpha: Float(alpha), scale: Float(scale),
            to: UnsafeMutableBufferPointer(start: entries, count: rows * columns))
        }
      } else {
        // Double networks (gradient checks), α < 0.5 and scales beyond Float: the Double
        // per-draw sampler, two stream words per entry.
        w.withMutableBase { p in
          for i in 0..<(rows * columns) {
            p[i] += Scalar(scale * rng.nextSymmetricStable(alpha: alpha))
          }
        }
      }
    case .isotropic:
      w.withMutableBase { p in
        for j in 0..<rows {
          let m = scale * rng.nextSubGaussianMixing(alpha: alpha)
          let row = p + j * columns
          for i in 0..<columns { row[i] += Scalar(m * rng.nextNormal()) }
        }
      }
    }
  }
}
