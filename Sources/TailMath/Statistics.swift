import Foundation

/// Small-sample statistics for aggregating trial results over seeds.
public enum Statistics {
  /// Mean, sample standard deviation and 95 % Student-t confidence interval of the mean.
  public struct Summary: Codable, Hashable, Sendable {
    /// Number of values summarised (≥ 0).
    public var count: Int
    /// Arithmetic mean; 0 when count = 0.
    public var mean: Double
    /// Sample standard deviation (divisor n − 1); 0 when count ≤ 1.
    public var std: Double
    /// Lower end of the 95 % interval mean ± t₀.₉₇₅,ₙ₋₁ · std/√n; equals `mean` when count ≤ 1
    /// (no interval can be computed from one value: check `count` before drawing error bars).
    public var ciLow: Double
    /// Upper end of the 95 % interval; equals `mean` when count ≤ 1.
    public var ciHigh: Double

    /// Memberwise initialiser.
    public init(count: Int, mean: Double, std: Double, ciLow: Double, ciHigh: Double) {
      self.count = count
      self.mean = mean
      self.std = std
      self.ciLow = ciLow
      self.ciHigh = ciHigh
    }

    /// Half-width of the interval, (ciHigh − ciLow)/2 (0 when count ≤ 1).
    public var halfWidth: Double { (ciHigh - ciLow) / 2 }
  }

  /// Summarise `values` (finite values expected; a NaN or infinity propagates into the fields).
  ///
  /// count 0 → all fields 0; count 1 → std 0 and the interval [mean, mean]; otherwise the
  /// two-pass mean and sample standard deviation and mean ± t·std/√n with t the 0.975 quantile
  /// of Student's t with n − 1 degrees of freedom.
  public static func summarize(_ values: [Double]) -> Summary {
    let n = values.count
    guard n > 0 else { return Summary(count: 0, mean: 0, std: 0, ciLow: 0, ciHigh: 0) }
    let mean = values.reduce(0, +) / Double(n)
    guard n > 1 else { return Summary(count: 1, mean: mean, std: 0, ciLow: mean, ciHigh: mean) }
    var squares = 0.0
    for v in values {
      let d = v - mean
      squares += d * d
    }
    let std = (squares / Double(n - 1)).squareRoot()
    let half = studentT975(degreesOfFreedom: n - 1) * std / Double(n).squareRoot()
    return Summary(count: n, mean: mean, std: std, ciLow: mean - half, ciHigh: mean + half)
  }

  /// t₀.₉₇₅,ν for ν = 1…30, from scipy.stats.t.ppf(0.975, ν) (scipy 1.17), rounded to 6 decimals.
  static let t975Table: [Double] = [
    12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157,
    2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922,
    2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831,
    2.048407, 2.045230, 2.042272,
  ]

  /// The 0.975 quantile of Student's t distribution with ν degrees of freedom (the factor of a
  /// two-sided 95 % interval).
  ///
  /// ν = 1…30: tabulated (6 decimals). ν > 30: the Cornish–Fisher expansion in 1/ν around the
  /// normal quantile z = 1.959964 (four terms; max error 3·10⁻⁸ for ν > 30, checked against
  /// scipy), which tends to z as ν → ∞.
  ///
  /// - Parameter degreesOfFreedom: ν ≥ 1 (ν ≤ 0 returns +infinity: no interval).
  public static func studentT975(degreesOfFreedom: Int) -> Double {
    guard degreesOfFreedom >= 1 else { return .infinity }
    if degreesOfFreedom <= t975Table.count { return t975Table[degreesOfFreedom - 1] }
    let z = 1.959963984540054
    let nu = Double(degreesOfFreedom)
    let z2 = z * z
    let z3 = z2 * z
    let z5 = z3 * z2
    let z7 = z5 * z2
    let z9 = z7 * z2
    let g1 = (z3 + z) / 4
    let g2 = (5 * z5 + 16 * z3 + 3 * z) / 96
    let g3 = (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / 384
    let g4 = (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / 92160
    return z + g1 / nu + g2 / (nu * nu) + g3 / (nu * nu * nu) + g4 / (nu * nu * nu * nu)
  }
}
