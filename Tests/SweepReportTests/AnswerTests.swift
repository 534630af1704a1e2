import Foundation
import SweepStore
import TailSweepTestSupport
import Testing

@testable import SweepReport

/// Noisy (α = 1.75) and plain SGD at widths 64 and 128, 3 seeds; per seed the noisy trial prunes
/// `gain` more and tests `cost` lower (with small seed-to-seed spread so CIs exist).
private func comparison(gain: [Int: Double], cost: Double) -> [TrialRow] {
  var rows: [TrialRow] = []
  for width in [64, 128] {
    for seed: UInt64 in 1...3 {
      let jitter = 0.001 * Double(seed)
      rows.append(
        Fixture.ok(
          Fixture.plain(width: width, seed: seed), pruning: 0.1 + jitter, test: 0.9 + jitter,
          pruned: 0.88))
      rows.append(
        Fixture.ok(
          Fixture.config(width: width, seed: seed), pruning: 0.1 + (gain[width] ?? 0) + 2 * jitter,
          test: 0.9 - cost + 2 * jitter, pruned: 0.8))
    }
  }
  return rows
}

@Test func answerStatesTheDirectionRangeAndIntervalsOfEachComparison() throws {
  let rows = comparison(gain: [64: 0.06, 128: 0.3], cost: 0.01)
  let answer = SweepReport.answer(rows: rows)
  #expect(answer.count == 1)
  let a = try #require(answer.first)
  // Per-seed differences: +6 % + 0.1·seed points and +30 % + 0.1·seed; means +6.2 and +30.2.
  #expect(
    a.hasPrefix("α=1.75 σ=0.5 is more compressible than plain SGD at every n (64–128, 2 points)"))
  #expect(a.contains("pruned % +6.2 to +30.2, every 95 % CI above 0"), "\(a)")
  // Test accuracy: −1 point + 0.1·seed per seed → mean −0.80 at both widths.
  #expect(a.contains("test acc % −0.80 points, every 95 % CI below 0"), "\(a)")
  #expect(a.contains("pruned acc % −8.00 points"), "\(a)")
}

@Test func answerSaysWhenThereIsNoClearDifference() throws {
  var rows: [TrialRow] = []
  for seed: UInt64 in 1...3 {
    let up = seed == 2 ? 0.02 : -0.01
    rows.append(Fixture.ok(Fixture.plain(seed: seed), pruning: 0.1))
    rows.append(Fixture.ok(Fixture.config(seed: seed), pruning: 0.1 + up))
  }
  let a = try #require(SweepReport.answer(rows: rows).first)
  #expect(a.hasPrefix("α=1.75 σ=0.5 vs plain SGD: no clear difference in compressibility"), "\(a)")
  #expect(a.contains("every 95 % CI includes 0") || a.contains("95 % CI includes 0"), "\(a)")
}

@Test func answerIsEmptyWithoutPairsAndLeadsEveryReportFormat() throws {
  #expect(SweepReport.answer(rows: [Fixture.ok(Fixture.config(seed: 1), pruning: 0.2)]).isEmpty)
  let rows = comparison(gain: [64: 0.06, 128: 0.3], cost: 0.01)
  let text = try SweepReport.renderTable(rows: rows, format: .table)
  #expect(text.hasPrefix("Answer (noisy vs plain SGD, paired by seed)\n- α=1.75 σ=0.5 is more"))
  for line in text.split(separator: "\n") { #expect(line.count <= 100, "too wide: \(line)") }
  let md = try SweepReport.renderTable(rows: rows, format: .markdown)
  #expect(md.hasPrefix("## Answer\n\n- α=1.75 σ=0.5 is more compressible"))

  let dir = try TestFiles.temporaryDirectory("answer")
  defer { try? FileManager.default.removeItem(at: dir) }
  _ = try SweepReport.write(rows: rows, to: dir)
  let report = try String(contentsOf: dir.appendingPathComponent("report.md"), encoding: .utf8)
  let order = ["## Answer", "## Figures", "## Tables"].map { report.range(of: $0)?.lowerBound }
  #expect(order.allSatisfy { $0 != nil })
  #expect(order.compactMap { $0 } == order.compactMap { $0 }.sorted())
  let html = try String(contentsOf: dir.appendingPathComponent("index.html"), encoding: .utf8)
  let answerAt = try #require(html.range(of: "<ul id=\"answer\">")?.lowerBound)
  let figureAt = try #require(html.range(of: "<figure")?.lowerBound)
  let tableAt = try #require(html.range(of: "<table")?.lowerBound)
  #expect(answerAt < figureAt && figureAt < tableAt)
  // Trial counts: at the target vs at the iteration cap.
  #expect(report.contains("ok 12 (reached the target 12, stopped at the iteration cap 0)"))
}

@Test func tablesStateThePerStepNoiseScaleAndBothTailEstimators() throws {
  let rows = comparison(gain: [64: 0.06, 128: 0.3], cost: 0.01)
  let notes = SweepReport.noiseScaleNotes(rows)
  // s = σ·η^(1/α) = 0.5 · 0.1^(1/1.75) = 0.1340…
  #expect(notes == ["Per-step noise scale s = σ·η^(1/α): α=1.75 σ=0.5 η=0.1: s=0.134."])
  let plainAndGauss = rows + [Fixture.ok(Fixture.config(alpha: 2, seed: 1), pruning: 0.1)]
  #expect(SweepReport.noiseScaleNotes(plainAndGauss).last?.contains("N(0, 2s²) here") == true)
  let tables = try SweepReport.tables(rows: rows)
  #expect(tables[0].notes.contains(notes[0]))
  #expect(tables[1].notes.contains(notes[0]))
  let headers = tables[0].columns.map(\.name)
  #expect(headers.contains("α̂ Hill L1") && headers.contains("α̂ moment L1"))
  #expect(headers.last == "at cap")
}

@Test func answerCountsThePointsWhenIntervalsDisagree() throws {
  var rows: [TrialRow] = []
  for seed: UInt64 in 1...3 {
    for width in [64, 128] {
      // Width 64: +20 points at every seed (CI above 0); width 128: −1, +2, −1 (CI includes 0).
      let up = width == 64 ? 0.2 + 0.001 * Double(seed) : (seed == 2 ? 0.02 : -0.01)
      rows.append(Fixture.ok(Fixture.plain(width: width, seed: seed), pruning: 0.1))
      rows.append(Fixture.ok(Fixture.config(width: width, seed: seed), pruning: 0.1 + up))
    }
  }
  let a = try #require(SweepReport.answer(rows: rows).first)
  #expect(
    a.hasPrefix(
      "α=1.75 σ=0.5 vs plain SGD at every n (64–128, 2 points): no consistent difference in "
        + "compressibility: pruned % 0.0 to +20.2, 95 % CI above 0 at 1, includes 0 at 1 (of 2 points)"
    ),
    "\(a)")
}
