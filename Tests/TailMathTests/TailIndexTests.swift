import Foundation
import Testing

@testable import TailMath

/// Validation of the tail-index estimators on samples of known α. Expected accuracy was
/// measured at authoring time with numpy (40 replicates each, same estimators, n = 10⁵):
///
///   SαS α:               1.2          1.5          1.75         1.9          2 (Gaussian)
///   Hill, k = ⌊√n⌋:      1.22 ± 0.06  1.53 ± 0.07  1.77 ± 0.09  2.06 ± 0.13  11.2
///   Hill, k = n/10:      1.22 ± 0.01  1.72 ± 0.02  2.54 ± 0.02  3.55 ± 0.03  4.7
///   Mohammadi 2015:      1.20 ± 0.02  1.50 ± 0.02  1.75 ± 0.03  1.90 ± 0.04  2.00 ± 0.04
///   Pareto α:            1.2          1.5          1.75         1.9
///   Hill, k = ⌊√n⌋:      1.21 ± 0.07  1.50 ± 0.09  1.75 ± 0.13  1.90 ± 0.11
///   Hill, k = n/10:      1.20 ± 0.01  1.50 ± 0.02  1.75 ± 0.02  1.90 ± 0.02
///   Moment, k = n/10:    (sd ≈ 0.03 by the asymptotic variance (1+γ²)/k of γ̂)
///
/// Tolerances below are ≈ 4–5 of those standard deviations (plus the known bias where a test
/// documents it), so they hold for any honest seed; the seeds are fixed anyway.
struct TailIndexTests {
  static let n = 100_000

  static func symmetricStable(alpha: Double, seed: UInt64) -> [Double] {
    var g = Xoshiro256(key: seed, stream: UInt64(alpha * 1000))
    return (0..<n).map { _ in g.nextSymmetricStable(alpha: alpha) }
  }

  static func pareto(alpha: Double, seed: UInt64) -> [Double] {
    // X = U^(−1/α), P(X > x) = x^(−α) for x ≥ 1.
    var g = Xoshiro256(key: seed, stream: UInt64(alpha * 1000))
    return (0..<n).map { _ in pow(g.nextOpenUnit(), -1 / alpha) }
  }

  @Test func defaultK() {
    #expect(TailIndex.defaultHillK(count: 0) == 0)
    #expect(TailIndex.defaultHillK(count: 1) == 0)
    #expect(TailIndex.defaultHillK(count: 2) == 1)
    #expect(TailIndex.defaultHillK(count: 5000) == 70)
    #expect(TailIndex.defaultHillK(count: 100_000) == 316)
    #expect(TailIndex.defaultHillK(count: 784 * 5000) == 1979)
  }

  @Test func hillOnExactValues() {
    // Top values 8, 4, 2 above threshold 1: α̂ = 3 / (log 8 + log 4 + log 2) = 3 / (6 log 2).
    let values = [1.0, -8, 0.5, 4, -2, 0.25]
    let expected = 3 / (6 * log(2.0))
    #expect(abs((TailIndex.hill(values, k: 3) ?? 0) - expected) < 1e-12)
    #expect(TailIndex.largestAbsolute(values, count: 4) == [8, 4, 2, 1])
  }

  @Test(arguments: [1.2, 1.5, 1.75, 1.9])
  func hillOnPareto(alpha: Double) throws {
    let x = Self.pareto(alpha: alpha, seed: 1)
    // k = n/10 on an exact Pareto tail: unbiased, sd ≈ α/√k ≤ 0.02 → tolerance 0.08.
    let big = try #require(TailIndex.hill(x, k: Self.n / 10))
    #expect(abs(big - alpha) < 0.08, "\(big)")
    // Default k = 316: sd ≈ α/√k ≈ 0.1 → tolerance 0.4.
    let small = try #require(TailIndex.hill(x, k: TailIndex.defaultHillK(count: Self.n)))
    #expect(abs(small - alpha) < 0.4, "\(small)")
  }

  @Test(arguments: [1.2, 1.5, 1.75, 1.9])
  func momentOnPareto(alpha: Double) throws {
    // Moment estimator, k = n/10: sd of α̂ ≈ α²√(1+1/α²)/√k ≤ 0.05 → tolerance 0.2.
    let x = Self.pareto(alpha: alpha, seed: 2)
    let estimate = try #require(TailIndex.moment(x, k: Self.n / 10))
    #expect(abs(estimate - alpha) < 0.2, "\(estimate)")
  }

  @Test(arguments: [1.2, 1.5, 1.75, 1.9])
  func mohammadiOnSymmetricStable(alpha: Double) throws {
    // Designed for SαS data: sd ≤ 0.04 at n = 10⁵ → tolerance 0.15.
    let x = Self.symmetricStable(alpha: alpha, seed: 3)
    let estimate = try #require(TailIndex.symmetricStable(x))
    #expect(abs(estimate - alpha) < 0.15, "\(estimate)")
  }

  @Test func mohammadiOnGaussianIsTwo() throws {
    var g = Xoshiro256(seed: 4)
    let x = (0..<Self.n).map { _ in g.nextNormal() }
    let estimate = try #require(TailIndex.symmetricStable(x))
    #expect(abs(estimate - 2) < 0.15, "\(estimate)")
  }

  @Test(arguments: [1.2, 1.5, 1.75])
  func hillOnSymmetricStable(alpha: Double) throws {
    // Default k = ⌊√n⌋ = 316: bias ≤ 0.03 and sd ≤ 0.09 for α ≤ 1.75 → tolerance 0.35.
    let x = Self.symmetricStable(alpha: alpha, seed: 5)
    let estimate = try #require(TailIndex.hill(x, k: TailIndex.defaultHillK(count: Self.n)))
    #expect(abs(estimate - alpha) < 0.35, "\(estimate)")
  }

  @Test func hillIsBiasedNearTwoAndMohammadiIsNot() throws {
    // Known limitation, documented rather than hidden: for SαS with α = 1.9 the Pareto tail
    // sets in far out, so Hill (k = √n) reads ≈ 2.06 ± 0.13 and Hill with k = n/10 reads ≈ 3.5;
    // the stable-specific estimator stays within 0.15.
    let x = Self.symmetricStable(alpha: 1.9, seed: 6)
    let hillDefault = try #require(TailIndex.hill(x, k: TailIndex.defaultHillK(count: Self.n)))
    #expect(hillDefault > 1.6 && hillDefault < 2.6, "\(hillDefault)")
    let hillLarge = try #require(TailIndex.hill(x, k: Self.n / 10))
    #expect(hillLarge > 3, "\(hillLarge)")
    let mmo = try #require(TailIndex.symmetricStable(x))
    #expect(abs(mmo - 1.9) < 0.15)
    #expect(abs(mmo - 1.9) < abs(hillLarge - 1.9))
  }

  @Test func estimateChoosesTheSecondEstimatorBySign() throws {
    let signed = Self.symmetricStable(alpha: 1.5, seed: 7)
    let s = TailIndex.estimate(signed)
    #expect(s.otherName == TailIndex.symmetricStableName)
    #expect(s.hillK == 316)
    #expect(abs(try #require(s.other) - 1.5) < 0.15)
    #expect(abs(try #require(s.hill) - 1.5) < 0.35)
    let positive = Self.pareto(alpha: 1.5, seed: 8)
    let p = TailIndex.estimate(positive)
    #expect(p.otherName == TailIndex.momentName)
    // Moment estimator at k = 316: sd ≈ α²√(1+1/α²)/√k ≈ 0.23 → tolerance 0.8 (it is noisy at
    // the default k; it is reported as a cross-check, not a precise value).
    #expect(abs(try #require(p.other) - 1.5) < 0.8)
  }

  @Test func nilInsteadOfNaN() {
    #expect(TailIndex.hill([], k: 1) == nil)
    #expect(TailIndex.hill([1, 2, 3], k: 0) == nil)
    #expect(TailIndex.hill([1, 2, 3], k: 3) == nil)  // needs k + 1 values
    #expect(TailIndex.hill([0, 0, 5], k: 2) == nil)  // threshold 0
    #expect(TailIndex.hill([2, 2, 2, 2], k: 2) == nil)  // no tail
    #expect(TailIndex.hill([1, .nan, 3], k: 1) == nil)
    #expect(TailIndex.moment([3, 3, 3, 3], k: 2) == nil)
    #expect(TailIndex.symmetricStable([1, 2, 3]) == nil)  // too few blocks
    #expect(TailIndex.symmetricStable([1, 0, 3, 4, 5, 6, 7, 8, 9]) == nil)  // a zero
    #expect(TailIndex.symmetricStable([1, -1, 1, -1, 1, -1, 1, -1, 1]) == nil)  // zero block sums
    let empty = TailIndex.estimate([])
    #expect(empty.hill == nil && empty.other == nil && empty.hillK == 0)
    let zeros = TailIndex.estimate([Double](repeating: 0, count: 100))
    #expect(zeros.hill == nil && zeros.other == nil)
  }
}
