import Foundation
import Testing

@testable import TailMath

/// Pruning-ratio calibration (method doc §4): r = 0.1, rows of 784 columns. Reference values
/// were re-checked with numpy at authoring time (seeded default_rng, several seeds):
/// one N(0,1) scalar per row: 0.548–0.562 at n = 5000 (0.541–0.567 at n = 1000, 0.553–0.558 at
/// n = 20000; the n → ∞ limit is P(ξ² ≤ t) = 0.5554 where E[ξ²; ξ² ≤ t] = 0.1, computed with
/// scipy); i.i.d. N(0,1) entries: 0.1090–0.1092; uniform ±1/28 entries: 0.1056–0.1058.
/// One SαS(1.75) scalar per row (200 seeds): mean 0.706 (n = 500), 0.736 (2000), 0.763 (5000),
/// 0.806 (20000), with a seed-to-seed sd ≈ 0.09 at every n.
struct PruningTests {
  static let columns = 784

  static func fraction(_ squaredNorms: [Double], budget: Double = 0.1) -> Double {
    Double(Pruning.budgetCount(squaredNorms: squaredNorms, budget: budget).count)
      / Double(squaredNorms.count)
  }

  static func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(xs.count) }

  /// Squared row norms of an n×784 matrix whose row j is ξ_j·(1, …, 1).
  static func scalarRows(n: Int, seed: UInt64, draw: (inout Xoshiro256) -> Double) -> [Double] {
    var g = Xoshiro256(key: seed, stream: UInt64(n))
    return (0..<n).map { _ in
      let xi = draw(&g)
      return Double(columns) * xi * xi
    }
  }

  /// Squared row norms of an n×784 matrix with i.i.d. entries.
  static func iidRows(n: Int, seed: UInt64, draw: (inout Xoshiro256) -> Double) -> [Double] {
    var g = Xoshiro256(key: seed, stream: 99)
    return (0..<n).map { _ in
      var sum = 0.0
      for _ in 0..<columns {
        let x = draw(&g)
        sum += x * x
      }
      return sum
    }
  }

  @Test func gaussianScalarPerRowIsAbout0557AndFlatInWidth() {
    // Mean over 6 seeds: seed sd ≤ 0.01 at n = 1000, so the mean is within ±0.005 of the
    // limit 0.555; tolerance ±0.01 around the documented 0.557.
    let normal = { (g: inout Xoshiro256) in g.nextNormal() }
    var means: [Int: Double] = [:]
    for n in [1000, 5000, 20000] {
      means[n] = Self.mean(
        (1...6).map { Self.fraction(Self.scalarRows(n: n, seed: $0, draw: normal)) })
    }
    for (n, m) in means { #expect(abs(m - 0.557) <= 0.01, "n=\(n): \(m)") }
    // Flat in n: no growth from 1000 to 20000 beyond the ±0.01 sampling band.
    #expect(abs((means[20000] ?? 0) - (means[1000] ?? 1)) <= 0.02)
  }

  @Test func iidGaussianEntriesAreAbout0109() {
    // Seed-to-seed sd ≈ 0.0002 (numpy): ±0.01 is the doc's band, two seeds to stay fast.
    for seed: UInt64 in [1, 2] {
      let f = Self.fraction(Self.iidRows(n: 5000, seed: seed) { $0.nextNormal() })
      #expect(abs(f - 0.109) <= 0.01, "seed \(seed): \(f)")
    }
  }

  @Test func freshUniformInitIsAbout0106() {
    for seed: UInt64 in [1, 2] {
      let f = Self.fraction(
        Self.iidRows(n: 5000, seed: seed) { (2 * $0.nextUnit() - 1) / 28 })
      #expect(abs(f - 0.106) <= 0.01, "seed \(seed): \(f)")
    }
  }

  @Test func heavyTailedScalarPerRowGrowsWithWidth() {
    // SαS(1.75): the pruning fraction grows with n (≈ 0.71 at 500 → 0.81 at 20000) but a single
    // seed varies by sd ≈ 0.09, so average 64 seeds (sd of each mean ≈ 0.011, of the
    // difference ≈ 0.016) and require a rise of at least 0.05 (expected 0.10, ≥ 3 sd margin).
    let stable = { (g: inout Xoshiro256) in g.nextSymmetricStable(alpha: 1.75) }
    let small = Self.mean(
      (1...64).map { Self.fraction(Self.scalarRows(n: 500, seed: $0, draw: stable)) })
    let large = Self.mean(
      (1...64).map { Self.fraction(Self.scalarRows(n: 20000, seed: $0 + 1000, draw: stable)) })
    #expect(large - small >= 0.05, "n=500: \(small), n=20000: \(large)")
    #expect(small > 0.6 && large < 0.9)
  }

  @Test func budgetEdgeCases() {
    let norms: [Double] = [4, 1, 9, 16, 0.25]
    #expect(Pruning.budgetCount(squaredNorms: norms, budget: 0).count == 0)
    let all = Pruning.budgetCount(squaredNorms: norms, budget: 1)
    #expect(all.count == 4)  // all but the largest row
    #expect(abs(all.squaredRelativeError - 14.25 / 30.25) < 1e-15)
    // Sorted: 0.25, 1, 4, 9, 16 (total 30.25); c = 0.00826, 0.0413, 0.1736, …
    let r = Pruning.budgetCount(squaredNorms: norms, budget: 0.1)
    #expect(r.count == 2)
    #expect(abs(r.squaredRelativeError - 1.25 / 30.25) < 1e-15)
    // Exact boundary c_k = r is allowed (≤): 1.25/30.25 as the budget.
    #expect(Pruning.budgetCount(squaredNorms: norms, budget: 1.25 / 30.25).count == 2)
    // Zero rows are removed even at r = 0 (they carry no norm).
    #expect(Pruning.budgetCount(squaredNorms: [0, 3, 0, 5], budget: 0) == (2, 0))
    // All-zero matrix: no NaN; everything but one row, error 0.
    #expect(Pruning.budgetCount(squaredNorms: [0, 0, 0], budget: 0.1) == (2, 0))
    #expect(Pruning.budgetCount(squaredNorms: [], budget: 0.1) == (0, 0))
    #expect(Pruning.budgetCount(squaredNorms: [7], budget: 1) == (0, 0))
    #expect(Pruning.budgetCount(squaredNorms: [1, .nan], budget: 0.5) == (0, 0))
    #expect(Pruning.budgetCount(squaredNorms: norms, budget: -0.1).count == 0)
  }

  @Test func invariantToRowPermutation() {
    var g = Xoshiro256(seed: 21)
    var norms = (0..<2000).map { _ in
      let x = g.nextSymmetricStable(alpha: 1.5)
      return x * x
    }
    norms += [1, 1, 1, 0, 0]  // ties and zeros
    let reference = Pruning.budgetCount(squaredNorms: norms, budget: 0.1)
    let referenceCurve = Pruning.errorCurve(squaredNorms: norms, kept: [0.01, 0.1, 0.5])
    let order = Pruning.smallestFirst(squaredNorms: norms)
    for _ in 0..<5 {
      var permutation = Array(norms.indices)
      permutation.shuffle(using: &g)
      let shuffled = permutation.map { norms[$0] }
      // Bitwise identical results (sums are formed over the sorted values).
      #expect(Pruning.budgetCount(squaredNorms: shuffled, budget: 0.1) == reference)
      #expect(Pruning.errorCurve(squaredNorms: shuffled, kept: [0.01, 0.1, 0.5]) == referenceCurve)
      // The same rows (mapped back through the permutation) in the same norm order.
      let shuffledOrder = Pruning.smallestFirst(squaredNorms: shuffled)
      #expect(shuffledOrder.map { shuffled[$0] } == order.map { norms[$0] })
    }
  }

  @Test func smallestFirstBreaksTiesByIndex() {
    #expect(Pruning.smallestFirst(squaredNorms: [3, 1, 2, 1, 0, 3]) == [4, 1, 3, 2, 0, 5])
    #expect(Pruning.smallestFirst(squaredNorms: []) == [])
    #expect(Pruning.smallestFirst(squaredNorms: [.nan, 1, 0]) == [2, 1, 0])
  }

  @Test func errorCurve() {
    // Sorted 0.25, 1, 4, 9, 16 (total 30.25): keeping 1 row removes 14.25, 2 rows 5.25, etc.
    let norms: [Double] = [4, 1, 9, 16, 0.25]
    let curve = Pruning.errorCurve(squaredNorms: norms, kept: [0, 0.01, 0.2, 0.4, 0.5, 1.0])
    let expected = [
      1, (14.25 / 30.25).squareRoot(), (14.25 / 30.25).squareRoot(),
      (5.25 / 30.25).squareRoot(), (1.25 / 30.25).squareRoot(), 0,
    ]
    #expect(zip(curve, expected).allSatisfy { abs($0 - $1) < 1e-15 }, "\(curve)")
    // Monotone non-increasing in κ on a realistic layer, err(1) = 0 exactly.
    var g = Xoshiro256(seed: 22)
    let layer = (0..<5000).map { _ in
      let x = g.nextSymmetricStable(alpha: 1.75)
      return x * x
    }
    let kappas = [0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.9, 1.0]
    let errors = Pruning.errorCurve(squaredNorms: layer, kept: kappas)
    #expect(zip(errors, errors.dropFirst()).allSatisfy { $0 >= $1 })
    #expect(errors.last == 0)
    #expect(errors.first == 1)
    #expect(Pruning.errorCurve(squaredNorms: [0, 0], kept: [0, 0.5, 1]) == [0, 0, 0])
    #expect(Pruning.errorCurve(squaredNorms: [], kept: [0.1]) == [0])
  }

  @Test func keptAndFixedCounts() {
    #expect(Pruning.keptCount(rows: 5000, fraction: 0.1) == 500)
    #expect(Pruning.keptCount(rows: 5000, fraction: 0.01) == 50)
    #expect(Pruning.keptCount(rows: 50, fraction: 0.01) == 1)  // ⌈0.5⌉
    #expect(Pruning.keptCount(rows: 10, fraction: 0.05) == 1)
    #expect(Pruning.keptCount(rows: 10, fraction: 0.25) == 3)
    #expect(Pruning.keptCount(rows: 10, fraction: 0) == 0)
    #expect(Pruning.keptCount(rows: 10, fraction: 1) == 10)
    #expect(Pruning.fixedCount(rows: 10, fraction: 0.3) == 3)
    #expect(Pruning.fixedCount(rows: 100, fraction: 0.29) == 29)
    #expect(Pruning.fixedCount(rows: 10, fraction: 0.7) == 7)
    #expect(Pruning.fixedCount(rows: 7, fraction: 0.5) == 3)
    #expect(Pruning.fixedCount(rows: 5000, fraction: 1.0) == 5000)
    #expect(Pruning.fixedCount(rows: 5000, fraction: 0) == 0)
    #expect(Pruning.fixedCount(rows: 5000, fraction: .nan) == 0)
    // Every q = 0, 0.1, …, 1.0 as produced by repeated addition and by i/10.
    var q = 0.0
    for i in 0...10 {
      #expect(Pruning.fixedCount(rows: 10, fraction: q) == i)
      #expect(Pruning.fixedCount(rows: 10, fraction: Double(i) / 10) == i)
      #expect(Pruning.fixedCount(rows: 5000, fraction: Double(i) * 0.1) == 500 * i)
      q += 0.1
    }
  }
}

struct RadixSortTests {
  @Test func matchesTotalOrderSort() {
    var g = Xoshiro256(seed: 41)
    var values = (0..<3000).map { _ in g.nextSymmetricStable(alpha: 0.8) }
    values += [0, -0.0, .infinity, -.infinity, .nan, -Double.nan, 1, 1, -1, .leastNonzeroMagnitude]
    values += (0..<500).map { _ in Double(g.nextInt(below: 5)) }  // many ties
    values.shuffle(using: &g)
    let reference = values.sorted {
      $0.isTotallyOrdered(belowOrEqualTo: $1) && !$1.isTotallyOrdered(belowOrEqualTo: $0)
    }
    #expect(RadixSort.sorted(values).map(\.bitPattern) == reference.map(\.bitPattern))
    let order = RadixSort.order(values)
    #expect(order.map { values[$0].bitPattern } == reference.map(\.bitPattern))
    // Stable: equal values keep ascending indices.
    for (i, j) in zip(order, order.dropFirst()) where values[i].bitPattern == values[j].bitPattern {
      #expect(i < j)
    }
    #expect(RadixSort.sorted([]) == [])
    #expect(RadixSort.order([5]) == [0])
    for x in values { #expect(RadixSort.value(RadixSort.key(x)).bitPattern == x.bitPattern) }
  }
}
