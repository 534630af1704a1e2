import Foundation
import SweepStore
import TailNet
import TailSweepTestSupport
import Testing

@testable import SweepReport

private func close(_ a: Double?, _ b: Double, tol: Double = 1e-9) -> Bool {
  guard let a else { return false }
  return abs(a - b) <= tol
}

@Test func pairedComparisonUsesSameSeedDifferences() throws {
  // Extra noisy seed 7 at width 64 has no plain twin: it must not enter the pairs.
  let rows = Fixture.sweep + [Fixture.ok(Fixture.config(seed: 7), pruning: 0.95)]
  let p = SweepReport.paired(rows)
  #expect(p.pointKeys == ["width"])
  // 2 widths × 1 noisy configuration × 4 measurements.
  #expect(p.rows.count == 8)
  let r = try #require(p.rows.first { $0.point == [.number(64)] && $0.measure == .pruningRatio })
  #expect(r.noisy == "α=1.75 σ=0.5" && r.plain == "plain")
  #expect(r.pairs == 3)  // seeds 1–3 (4 diverged, 5 failed, 6 pending, 7 unpaired)
  #expect(close(r.noisyMean, 0.3) && close(r.plainMean, 0.11))
  // Differences 0.10, 0.18, 0.29: mean 0.19, std 0.095394, t(2) = 4.3027 (scipy:
  // [-0.046972, 0.426972]); 1e-4 tolerance for the 4-decimal t table.
  #expect(close(r.difference.mean, 0.19))
  #expect(close(r.difference.std, 0.09539392014169457))
  #expect(close(r.difference.ciLow, -0.04697163449568281, tol: 1e-4))
  #expect(close(r.difference.ciHigh, 0.4269716344956829, tol: 1e-4))
  #expect(r.noisyDiverged == 1 && r.plainDiverged == 0)

  // Pruned accuracy: noisy 0.85, 0.88, 0.91 vs plain 0.80, 0.82, 0.84: diffs 0.05, 0.06, 0.07.
  let acc = try #require(
    p.rows.first { $0.point == [.number(64)] && $0.measure == .prunedTestAccuracy })
  #expect(close(acc.difference.mean, 0.06) && close(acc.difference.std, 0.01))

  // Iterations: only seeds where both reached the target (noisy seed 3 did not): 1 and 2.
  let it = try #require(
    p.rows.first { $0.point == [.number(64)] && $0.measure == .iterationsToTarget })
  #expect(it.pairs == 2)
  #expect(close(it.difference.mean, -150))  // (100 − 300 + 200 − 300) / 2
}

@Test func pairedTableShowsMeansDifferenceAndInterval() throws {
  let text = try SweepReport.renderTable(rows: Fixture.sweep, format: .table)
  #expect(text.contains("Noisy vs plain SGD, paired by seed"))
  // Noisy 30.0 %, plain 11.0 %, diff +19.0 points at n = 64 (pruning ratio, 1 decimal).
  let line = try #require(
    text.split(separator: "\n").first { $0.hasPrefix(" 64") && $0.contains("pruned %") })
  #expect(line.contains("30.0") && line.contains("11.0") && line.contains("+19.0"))
  #expect(line.contains("[-4.7, +42.7]"))
}

@Test func noPlainTrialsGiveNoPairs() {
  let rows = [Fixture.ok(Fixture.config(seed: 1), pruning: 0.3)]
  #expect(SweepReport.paired(rows).rows.isEmpty)
}
