import Foundation
import TailMath

/// Count, mean, sample standard deviation and a 95 % confidence interval of a set of values.
///
/// The interval is Student's t interval `mean ± t(0.975, n−1) · std / √n`; it is nil when there
/// are fewer than two values (no spread can be estimated from one seed).
public struct Summary: Codable, Hashable, Sendable {
  /// Number of values summarized.
  public var count: Int
  /// Arithmetic mean; nil when `count` is 0.
  public var mean: Double?
  /// Sample standard deviation (divisor n − 1); nil when `count` < 2.
  public var std: Double?
  /// Lower end of the 95 % confidence interval; nil when `count` < 2.
  public var ciLow: Double?
  /// Upper end of the 95 % confidence interval; nil when `count` < 2.
  public var ciHigh: Double?

  /// Creates a summary from its parts (used by tests and by the proportion interval).
  public init(count: Int, mean: Double?, std: Double?, ciLow: Double?, ciHigh: Double?) {
    self.count = count
    self.mean = mean
    self.std = std
    self.ciLow = ciLow
    self.ciHigh = ciHigh
  }

  /// Half the width of the confidence interval (for `mean ± h` displays); nil without one.
  public var halfWidth: Double? {
    guard let lo = ciLow, let hi = ciHigh else { return nil }
    return (hi - lo) / 2
  }

  /// Summarizes `values` (non-finite values must be filtered out by the caller).
  public static func of(_ values: [Double]) -> Summary {
    let n = values.count
    guard n > 0 else { return Summary(count: 0, mean: nil, std: nil, ciLow: nil, ciHigh: nil) }
    let mean = values.reduce(0, +) / Double(n)
    guard n > 1 else { return Summary(count: 1, mean: mean, std: nil, ciLow: nil, ciHigh: nil) }
    let ss = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
    let std = (ss / Double(n - 1)).squareRoot()
    let h = StudentT.quantile975(degreesOfFreedom: n - 1) * std / Double(n).squareRoot()
    return Summary(count: n, mean: mean, std: std, ciLow: mean - h, ciHigh: mean + h)
  }

  /// The fewest values a confidence interval is shown for: with two seeds the t interval is
  /// ±12.7 standard errors wide and says little more than "unknown".
  public static let minimumForInterval = 3

  /// The interval cut to `range` (the values the quantity can take: a share lies in [0, 1], a
  /// tail index is positive); the mean and std are kept.
  public func clipped(to range: ClosedRange<Double>?) -> Summary {
    guard let range else { return self }
    var s = self
    s.ciLow = ciLow.map { min(max($0, range.lowerBound), range.upperBound) }
    s.ciHigh = ciHigh.map { min(max($0, range.lowerBound), range.upperBound) }
    return s
  }

  /// Summarizes a share of successes among `total` trials: mean = k/total, std of the 0/1
  /// indicators, and the 95 % Wilson score interval (which stays inside [0, 1] and is sensible
  /// for shares of 0 or 1, unlike a t interval).
  public static func proportion(successes k: Int, of total: Int) -> Summary {
    guard total > 0 else { return Summary(count: 0, mean: nil, std: nil, ciLow: nil, ciHigh: nil) }
    let n = Double(total)
    let p = Double(k) / n
    let std: Double? = total > 1 ? (p * (1 - p) * n / (n - 1)).squareRoot() : nil
    let z = 1.959963984540054
    let z2 = z * z
    let centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    let half = z / (1 + z2 / n) * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
    return Summary(
      count: total, mean: p, std: std, ciLow: max(0, centre - half), ciHigh: min(1, centre + half))
  }
}

/// Student's t distribution: the two-sided 95 % quantile.
public enum StudentT {
  /// t(0.975, df): the multiplier of the standard error for a two-sided 95 % interval
  /// (TailMath's table from scipy for df ≤ 30, Cornish–Fisher beyond).
  /// - Parameter df: degrees of freedom, ≥ 1 (below: +infinity, no interval).
  public static func quantile975(degreesOfFreedom df: Int) -> Double {
    Statistics.studentT975(degreesOfFreedom: df)
  }
}
