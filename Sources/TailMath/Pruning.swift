import Foundation

/// Magnitude pruning of a layer's rows (neurons) from their squared ℓ2 norms (method doc §4).
/// Pure functions; the caller zeroes the rows. Inputs are squared row norms ‖w_j‖², which must
/// be ≥ 0; the functions are total (no precondition) and never return NaN for finite input.
///
/// Every result depends only on the multiset of norms (not on the row order), and `smallestFirst`
/// breaks ties by row index, so results are deterministic and invariant to permuting the rows.
public enum Pruning {
  /// Row indices in ascending order of squared norm, ties broken by ascending index.
  /// Uses the IEEE 754 total order (a stable radix sort), so the result is well defined even
  /// for −0 or NaN entries (+NaN sorts after +∞).
  ///
  /// - Parameter squaredNorms: ‖w_j‖² for each row j.
  /// - Returns: a permutation of 0..<count.
  public static func smallestFirst(squaredNorms: [Double]) -> [Int] {
    RadixSort.order(squaredNorms)
  }

  /// Pruning at an error budget r (the paper's headline metric).
  ///
  /// Sort the squared norms ascending, s₍₁₎ ≤ … ≤ s₍ₙ₎, and let c_k = (Σ_{j≤k} s₍ⱼ₎)/Σ_j s_j,
  /// the squared relative Frobenius error ‖W − W_k‖²/‖W‖² of zeroing the k smallest rows.
  /// The count is the largest k with c_k ≤ r, capped at n − 1: the largest row is always
  /// kept, so r = 1 removes all rows but the largest one.
  ///
  /// Edge cases, by the same rule: r = 0 removes only rows that are exactly zero (they carry
  /// no norm, so removing them has zero error) and nothing otherwise; r < 0 removes nothing. An
  /// all-zero matrix has zero error for every k (W − W_k = 0), so it gives (n − 1, 0). An
  /// empty layer gives (0, 0). If some norm is NaN nothing is pruned: (0, 0).
  ///
  /// - Parameters:
  ///   - squaredNorms: ‖w_j‖² for each row (≥ 0).
  ///   - budget: r, the allowed squared relative error, normally in [0, 1] (default use 0.1).
  /// - Returns: the number K of smallest rows to zero, and c_K (≤ r, in [0, 1]).
  public static func budgetCount(squaredNorms: [Double], budget: Double) -> (
    count: Int, squaredRelativeError: Double
  ) {
    let n = squaredNorms.count
    guard n > 0, !squaredNorms.contains(where: { $0.isNaN }) else { return (0, 0) }
    let prefix = ascendingPrefixSums(squaredNorms)
    let total = prefix[n]
    guard total > 0 else { return (n - 1, 0) }
    var count = 0
    var error = 0.0
    // c_k is non-decreasing in k, so the rows kept form a prefix: stop at the first c_k > r.
    for k in 1..<n {
      let c = prefix[k] / total
      if c <= budget {
        count = k
        error = c
      } else {
        break
      }
    }
    return (count, error)
  }

  /// Number of rows kept when keeping a fraction κ of n rows for `errorCurve`:
  /// m = ⌈κ·n⌉ (so the kept fraction is at least κ), computed with a relative tolerance of 10⁻⁹
  /// so that floating error does not add a row (0.1·5000 → 500), clamped to [1, n] for κ > 0;
  /// κ ≤ 0 (or NaN) keeps 0 rows, κ ≥ 1 keeps all n.
  ///
  /// - Parameters:
  ///   - rows: n ≥ 0.
  ///   - fraction: κ, normally in [0, 1].
  public static func keptCount(rows: Int, fraction: Double) -> Int {
    guard rows > 0, fraction > 0 else { return 0 }
    if fraction >= 1 { return rows }
    let x = Double(rows) * fraction
    let nearest = x.rounded()
    let m = Swift.abs(x - nearest) <= 1e-9 * Swift.max(1, x) ? nearest : x.rounded(.up)
    return Swift.min(rows, Swift.max(1, Int(m)))
  }

  /// err(κ) = ‖W − W_κ‖_F / ‖W‖_F for each κ in `kept`, where W_κ keeps the
  /// `keptCount(rows:fraction:)` rows of largest norm and zeroes the others.
  ///
  /// - Parameters:
  ///   - squaredNorms: ‖w_j‖² for each row (≥ 0).
  ///   - kept: fractions κ ∈ [0, 1] (e.g. 0.01, 0.02, 0.05, 0.1, 0.2, 0.5).
  /// - Returns: one error in [0, 1] per κ, in order; err(1) = 0, err(0) = 1. An all-zero or
  ///   empty matrix gives 0 for every κ (nothing is lost); a NaN norm gives NaN.
  public static func errorCurve(squaredNorms: [Double], kept: [Double]) -> [Double] {
    let n = squaredNorms.count
    let prefix = ascendingPrefixSums(squaredNorms)
    let total = prefix[n]
    return kept.map { fraction in
      if total.isNaN { return .nan }
      guard total > 0 else { return 0 }
      let removed = prefix[n - keptCount(rows: n, fraction: fraction)]
      return Swift.min(1, (removed / total).squareRoot())
    }
  }

  /// Number of rows pruned at a fixed fraction q: ⌊n·q⌋, where an n·q within a relative
  /// 10⁻⁹ of an integer counts as that integer (so 10·0.3 = 3.0000000000000004 → 3 and
  /// 100·0.29 = 28.999999999999996 → 29). Clamped to [0, n]; NaN gives 0.
  ///
  /// - Parameters:
  ///   - rows: n ≥ 0.
  ///   - fraction: q, normally in [0, 1] (0, 0.1, …, 1.0).
  public static func fixedCount(rows: Int, fraction: Double) -> Int {
    guard rows > 0, fraction > 0 else { return 0 }
    if fraction >= 1 { return rows }
    let x = Double(rows) * fraction
    let nearest = x.rounded()
    let m = Swift.abs(x - nearest) <= 1e-9 * Swift.max(1, x) ? nearest : x.rounded(.down)
    return Swift.min(rows, Swift.max(0, Int(m)))
  }

  /// [0, s₍₁₎, s₍₁₎+s₍₂₎, …, Σ s] over the values sorted ascending (IEEE total order), so the
  /// total, and every prefix, does not depend on the input order.
  static func ascendingPrefixSums(_ values: [Double]) -> [Double] {
    let sorted = RadixSort.sorted(values)
    var prefix = [Double](repeating: 0, count: sorted.count + 1)
    var sum = 0.0
    for (i, v) in sorted.enumerated() {
      sum += v
      prefix[i + 1] = sum
    }
    return prefix
  }
}
