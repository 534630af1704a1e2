import Foundation

/// Tail-index estimators α̂ (P(|X| > x) ~ c·x^(−α)) for the trained weights (method doc §4).
///
/// Three estimators, each with what it is good for (validated in `TailIndexTests` on samples of
/// known α):
/// - `hill(_:k:)` — Hill (1975) on the k largest |values|. Exact-Pareto tails: unbiased and
///   efficient. Symmetric stable samples with α near 2: biased upwards unless n is huge, because
///   the Pareto tail only dominates far out (at n = 10⁵, k = ⌊√n⌋: α = 1.9 reads ≈ 2.05, and a
///   Gaussian reads ≈ 11 instead of "2").
/// - `symmetricStable(_:blockSize:)` — Mohammadi, Mohammadpour & Ogata (2015), the estimator used
///   by Şimşekli, Sagun & Gürbüzbalaban (2019, "A tail-index analysis of SGD"). It uses the
///   stability property (a sum of m i.i.d. SαS(α, γ) is SαS(α, m^(1/α)γ)) and is accurate for
///   symmetric data in the domain of attraction of a stable law (signed weight entries), including
///   α = 2 (Gaussian → ≈ 2). Not for positive data such as norms (sums of positive values do not
///   scale like m^(1/α) when the mean is finite).
/// - `moment(_:k:)` — Dekkers, Einmahl & de Haan (1989) moment estimator of the extreme-value
///   index γ = 1/α from the k largest values; for positive data (row norms). Consistent for any
///   tail, higher variance than Hill.
public enum TailIndex {
  /// Default number k of upper order statistics for `hill` and `moment` on a sample of `count`
  /// values: k = ⌊√n⌋, clamped to [1, n − 1]; 0 when n < 2 (no estimate possible).
  ///
  /// Why √n: consistency needs k → ∞ and k/n → 0. Larger fractions (k = 10 % of n) are far
  /// better for exact Pareto samples but are badly biased for stable-like samples (SαS with
  /// α = 1.75 at n = 10⁵: k = 10 % gives ≈ 2.5, k = √n gives ≈ 1.77), which is what trained
  /// weights under α-stable noise look like. For n = 5000 neurons, k = 70.
  public static func defaultHillK(count: Int) -> Int {
    guard count >= 2 else { return 0 }
    let root = Int(Double(count).squareRoot())
    return min(max(root, 1), count - 1)
  }

  /// Hill estimator α̂ = k / Σ_{i=1..k} log(x₍ᵢ₎ / x₍ₖ₊₁₎) on the absolute values sorted in
  /// decreasing order x₍₁₎ ≥ x₍₂₎ ≥ ….
  ///
  /// - Parameters:
  ///   - values: the sample (signs are ignored). Non-finite values make the estimate nil.
  ///   - k: number of upper order statistics, 1 ≤ k ≤ count − 1.
  /// - Returns: α̂ > 0, or nil when k is out of range, x₍ₖ₊₁₎ = 0, or the top k+1 values are
  ///   all equal (no tail to measure).
  public static func hill(_ values: [Double], k: Int) -> Double? {
    guard k >= 1, k < values.count, let top = largestAbsolute(values, count: k + 1) else {
      return nil
    }
    let threshold = top[k]
    guard threshold > 0 else { return nil }
    var sum = 0.0
    for i in 0..<k { sum += Foundation.log(top[i] / threshold) }
    guard sum > 0, sum.isFinite else { return nil }
    return Double(k) / sum
  }

  /// Dekkers–Einmahl–de Haan (1989) moment estimator on the k largest |values|:
  /// with Lⱼ = (1/k) Σ_{i≤k} (log x₍ᵢ₎ − log x₍ₖ₊₁₎)^j,
  /// γ̂ = L₁ + 1 − ½ (1 − L₁²/L₂)⁻¹, and α̂ = 1/γ̂.
  ///
  /// - Parameters:
  ///   - values: the sample (signs are ignored; meant for positive data such as row norms).
  ///   - k: number of upper order statistics, 2 ≤ k ≤ count − 1.
  /// - Returns: α̂ > 0, or nil when k is out of range, x₍ₖ₊₁₎ = 0, the top values are all
  ///   equal, or γ̂ ≤ 0 (a light, bounded-looking tail has no finite α).
  public static func moment(_ values: [Double], k: Int) -> Double? {
    guard k >= 2, k < values.count, let top = largestAbsolute(values, count: k + 1) else {
      return nil
    }
    let threshold = top[k]
    guard threshold > 0 else { return nil }
    let logThreshold = Foundation.log(threshold)
    var m1 = 0.0
    var m2 = 0.0
    for i in 0..<k {
      let d = Foundation.log(top[i]) - logThreshold
      m1 += d
      m2 += d * d
    }
    m1 /= Double(k)
    m2 /= Double(k)
    guard m2 > 0, m1.isFinite, m2.isFinite else { return nil }
    let ratio = 1 - m1 * m1 / m2
    guard ratio > 0 else { return nil }
    let gamma = m1 + 1 - 0.5 / ratio
    guard gamma > 0, gamma.isFinite else { return nil }
    return 1 / gamma
  }

  /// Mohammadi–Mohammadpour–Ogata (2015) estimator for symmetric α-stable data:
  /// with block size K₁ and K₂ = ⌊n/K₁⌋ blocks, Yᵢ = sum of block i,
  /// 1/α̂ = ( mean log|Yᵢ| − mean over the K₁K₂ used values of log|Xⱼ| ) / log K₁.
  ///
  /// - Parameters:
  ///   - values: the sample, used in the given order (first K₁·K₂ values; the rest is dropped).
  ///   - blockSize: K₁ ≥ 2; default (nil) ⌊√n⌋ as in Şimşekli et al. (2019).
  /// - Returns: α̂ > 0 (not clipped to 2: Gaussian data give ≈ 2 ± sampling error), or nil
  ///   when fewer than two blocks of at least two values fit, when a used value or a block sum
  ///   is exactly zero or non-finite, or when the difference of mean logs is ≤ 0.
  public static func symmetricStable(_ values: [Double], blockSize: Int? = nil) -> Double? {
    let n = values.count
    let k1 = blockSize ?? Int(Double(n).squareRoot())
    guard k1 >= 2 else { return nil }
    let k2 = n / k1
    guard k2 >= 2 else { return nil }
    var sumLogX = 0.0
    var sumLogY = 0.0
    for block in 0..<k2 {
      var y = 0.0
      for j in (block * k1)..<((block + 1) * k1) {
        let x = values[j]
        guard x != 0, x.isFinite else { return nil }
        sumLogX += Foundation.log(Swift.abs(x))
        y += x
      }
      guard y != 0, y.isFinite else { return nil }
      sumLogY += Foundation.log(Swift.abs(y))
    }
    let difference =
      (sumLogY / Double(k2) - sumLogX / Double(k1 * k2)) / Foundation.log(Double(k1))
    guard difference > 0, difference.isFinite else { return nil }
    return 1 / difference
  }

  /// Name reported for `symmetricStable` in `estimate`.
  public static let symmetricStableName = "mohammadi2015"
  /// Name reported for `moment` in `estimate`.
  public static let momentName = "dekkers1989-moment"

  /// Both estimates of one sample, as stored in `TailIndexEstimate`.
  ///
  /// - `hill`: `hill(values, k: defaultHillK(count:))`, with `hillK` that k (0 if n < 2).
  /// - `other`: if any value is negative (signed data such as weight entries),
  ///   `symmetricStable(values)` named `symmetricStableName`; otherwise (positive data such as
  ///   row norms) `moment(values, k: defaultHillK(count:))` named `momentName`.
  /// Never NaN: an estimator that cannot apply gives nil.
  public static func estimate(_ values: [Double]) -> (
    hill: Double?, hillK: Int, other: Double?, otherName: String
  ) {
    let k = defaultHillK(count: values.count)
    let hillValue = k >= 1 ? hill(values, k: k) : nil
    if values.contains(where: { $0 < 0 }) {
      return (hillValue, k, symmetricStable(values), symmetricStableName)
    }
    return (hillValue, k, moment(values, k: k), momentName)
  }

  /// The `count` largest absolute values in decreasing order, or nil if there are fewer values
  /// or any value is not finite. O(n log count) with a bounded min-heap, so that 4·10⁶ weight
  /// entries are not fully sorted for k ≈ 2000.
  static func largestAbsolute(_ values: [Double], count: Int) -> [Double]? {
    guard count >= 1, values.count >= count else { return nil }
    var heap: [Double] = []  // min-heap of the largest values seen so far
    heap.reserveCapacity(count)
    for raw in values {
      guard raw.isFinite else { return nil }
      let x = Swift.abs(raw)
      if heap.count < count {
        heap.append(x)
        var child = heap.count - 1
        while child > 0 {
          let parent = (child - 1) / 2
          if heap[parent] <= heap[child] { break }
          heap.swapAt(parent, child)
          child = parent
        }
      } else if x > heap[0] {
        heap[0] = x
        var parent = 0
        while true {
          let left = 2 * parent + 1
          if left >= count { break }
          let right = left + 1
          var smallest = left
          if right < count && heap[right] < heap[left] { smallest = right }
          if heap[parent] <= heap[smallest] { break }
          heap.swapAt(parent, smallest)
          parent = smallest
        }
      }
    }
    return heap.sorted(by: >)
  }
}
