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
      w.withMutableBase { p in
        for i in 0..<(rows * columns) {
          p[i] += Scalar(scale * rng.nextSymmetricStable(alpha: alpha))
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
