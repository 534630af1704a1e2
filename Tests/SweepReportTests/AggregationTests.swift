import Foundation
import SweepStore
import TailNet
import TailSweepTestSupport
import Testing

@testable import SweepReport

// Expected numbers were computed by hand and checked with numpy/scipy
// (scipy.stats.t.ppf(0.975, n-1) · std(ddof=1) / √n). The t table has 4 decimals, so intervals
// may differ from scipy by up to 5e-5 · std/√n; tolerances below are 1e-4 relative for that.

private func close(_ a: Double?, _ b: Double, rel: Double = 1e-4) -> Bool {
  guard let a else { return false }
  return abs(a - b) <= rel * max(1, abs(b))
}

@Test func summaryOfThreeValuesMatchesHandComputation() {
  let s = Summary.of([0.2, 0.3, 0.4])
  #expect(s.count == 3)
  #expect(close(s.mean, 0.3))
  #expect(close(s.std, 0.1))
  // t(0.975, 2) = 4.3027; h = 4.3027 · 0.1 / √3 = 0.248414
  #expect(close(s.ciLow, 0.05158622882496697))
  #expect(close(s.ciHigh, 0.548413771175033))
}

@Test func summaryOfOneOrNoValuesHasNoInterval() {
  let one = Summary.of([0.7])
  #expect(one.count == 1 && one.mean == 0.7 && one.std == nil && one.ciLow == nil)
  let none = Summary.of([])
  #expect(none.count == 0 && none.mean == nil)
}

@Test func studentTQuantilesMatchScipy() {
  // scipy.stats.t.ppf(0.975, df); beyond 30 the table is interpolated in 1/df (≤ 2e-4 off).
  let reference: [(Int, Double)] = [
    (1, 12.706204736), (2, 4.302652730), (10, 2.228138852), (30, 2.042272456),
    (35, 2.030107928), (45, 2.014103389), (70, 1.994437112), (110, 1.981765282),
    (200, 1.971896224), (2000, 1.961150826), (10000, 1.960201240),
  ]
  for (df, t) in reference {
    #expect(abs(StudentT.quantile975(degreesOfFreedom: df) - t) < 2e-4, "df = \(df)")
  }
}

@Test func proportionUsesWilsonInterval() {
  // 1 of 4: Wilson 95 % interval [0.045587, 0.699358] (hand formula, z = 1.959964).
  let s = Summary.proportion(successes: 1, of: 4)
  #expect(s.mean == 0.25)
  #expect(close(s.std, 0.5))
  #expect(close(s.ciLow, 0.04558726080970055))
  #expect(close(s.ciHigh, 0.6993581574175981))
  let zero = Summary.proportion(successes: 0, of: 5)
  #expect(zero.mean == 0 && zero.ciLow == 0 && (zero.ciHigh ?? 0) > 0.4)
}

@Test func defaultGroupingIsEveryVaryingKeyExceptSeed() throws {
  let agg = try SweepReport.aggregate(Fixture.sweep)
  #expect(agg.keys == ["width", "noiseType", "alpha", "sigma"])
  #expect(agg.groups.count == 4)
  // One ok trial (seed 3) stopped at the iteration cap: counted apart from those at target.
  #expect(agg.totals == TrialCounts(ok: 12, diverged: 1, failed: 1, pending: 1, atCap: 1))
  #expect(agg.totals.reachedTarget == 11)
}

@Test func aggregationCountsDivergedFailedPendingAndAveragesOnlyCompressedTrials() throws {
  let agg = try SweepReport.aggregate(Fixture.sweep, by: ["width", "sigma"])
  #expect(agg.keys == ["width", "sigma"])
  let g = try #require(agg.groups.first { $0.values == [.number(64), .number(0.5)] })
  #expect(g.counts == TrialCounts(ok: 3, diverged: 1, failed: 1, pending: 1, atCap: 1))
  #expect(g.seeds == [1, 2, 3, 4, 5, 6])

  let pr = g.summary(.pruningRatio)
  #expect(pr.count == 3)
  #expect(close(pr.mean, 0.3) && close(pr.std, 0.1))
  #expect(close(pr.ciLow, 0.05158622882496697) && close(pr.ciHigh, 0.548413771175033))

  let acc = g.summary(.testAccuracy)
  #expect(close(acc.mean, 0.92) && close(acc.std, 0.02))
  #expect(close(acc.ciLow, 0.8703172457649935) && close(acc.ciHigh, 0.9696827542350064))

  let drop = g.summary(.accuracyDrop)  // 0.05, 0.04, 0.03
  #expect(close(drop.mean, 0.04) && close(drop.std, 0.01))
  #expect(close(drop.ciLow, 0.015158622882496694) && close(drop.ciHigh, 0.0648413771175033))

  #expect(close(g.summary(.prunedTestAccuracy).mean, 0.88))

  // Seed 3 ran out of iterations: iterations to target come from seeds 1 and 2 only.
  let it = g.summary(.iterationsToTarget)
  #expect(it.count == 2)
  #expect(close(it.mean, 150) && close(it.std, 70.71067811865476))
  // The t interval's lower end (−485.3) is cut to 0: no trial takes negative iterations.
  #expect(it.ciLow == 0 && close(it.ciHigh, 785.3102368087347))

  // Seed 3 has no Hill estimate: 1.5 and 1.7 only.
  let hill = g.summary(.tailIndexNorms)
  #expect(hill.count == 2)
  #expect(close(hill.mean, 1.6) && close(hill.ciLow, 0.329379526382531))

  // One diverged among four finished (3 ok + 1 diverged); failed and pending do not count.
  let div = g.summary(.divergedShare)
  #expect(div.count == 4 && div.mean == 0.25)
  #expect(close(div.ciLow, 0.04558726080970055))
}

@Test func doneTrialWithoutCompressionIsCountedAsFailedNotAveraged() throws {
  let c = Fixture.config(seed: 9)
  var res = Fixture.result(c, pruning: 0.99, test: 0.1, pruned: 0.1)
  res.compression = nil
  let rows = [
    Fixture.ok(Fixture.config(seed: 1), pruning: 0.2),
    TrialRow(
      id: .init(config: c), config: c, state: .done, attempts: 1, result: res, lastError: nil),
  ]
  let agg = try SweepReport.aggregate(rows, by: [])
  #expect(agg.groups.count == 1)
  #expect(agg.groups[0].counts == TrialCounts(ok: 1, diverged: 0, failed: 1, pending: 0))
  #expect(agg.groups[0].summary(.pruningRatio).mean == 0.2)
}

@Test func unknownGroupingKeyIsRejectedWithTheValidKeys() {
  #expect(throws: ReportError.unknownKey("lr", valid: ConfigKey.all)) {
    _ = try SweepReport.aggregate(Fixture.sweep, by: ["width", "lr"])
  }
}

@Test func groupsAreSortedByKeyValues() throws {
  let agg = try SweepReport.aggregate(Fixture.sweep, by: ["width"])
  #expect(agg.groups.map(\.values) == [[.number(64)], [.number(128)]])
  // Width 128: noisy 0.5, 0.5, 0.8 and plain 0.1 ×3 are pooled when grouping by width only.
  #expect(agg.groups[1].counts.ok == 6)
}

@Suite struct IntervalGuardTests {
  /// Two accuracies far apart: the t interval (±12.7 standard errors) leaves [0, 1]; it is cut
  /// to the possible values, and the table shows the cut ends, not a symmetric ±.
  @Test func intervalsStayInTheValidRange() {
    let s = Summary.of([0.2, 0.9, 0.95]).clipped(to: Measure.testAccuracy.validRange)
    #expect(s.ciLow == 0 && s.ciHigh == 1)
    #expect(s.mean == (0.2 + 0.9 + 0.95) / 3)
    let text = SweepReport.cell(s, .testAccuracy, expected: 3)
    #expect(text == "68.33 [0.00, 100.00]", "\(text)")
  }

  @Test func twoValuesAreTooFewForAnInterval() {
    let s = Summary.of([0.5, 0.6])
    #expect(SweepReport.cell(s, .pruningRatio, expected: 2) == "55.0 (n=2)")
    let three = Summary.of([0.5, 0.6, 0.55])
    #expect(SweepReport.cell(three, .pruningRatio, expected: 3).contains(" ± "))
  }
}
