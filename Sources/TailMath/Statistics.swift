import Foundation

/// Small-sample statistics for aggregating trial results over seeds (SweepReport's summaries
/// use the t quantile).
public enum Statistics {
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
