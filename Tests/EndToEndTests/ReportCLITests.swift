import Foundation
import SweepSpec
import SweepStore
import TailNet
import TailSweepTestSupport
import Testing

/// `tailsweep report` end to end: a real SQLite store written through SweepStore, the built
/// binary, its exit status, its output and the files it writes.
enum ReportFixture {
  /// Widths 32 and 64, noisy (σ = 0.5) and plain, seeds 1–3; one noisy seed diverges at
  /// width 64 and one plain trial stays pending.
  static func makeStore(in folder: URL) throws {
    var rows: [TrialRow] = []
    for w in [32, 64] {
      for s in [0, 0.5] {
        for seed: UInt64 in 1...3 {
          let c = Fixture.grid(width: w, sigma: s, seed: seed)
          if w == 64 && s == 0 && seed == 3 {
            rows.append(Fixture.pending(c))
          } else if w == 64 && s > 0 && seed == 2 {
            rows.append(Fixture.diverged(c, at: 5, evaluated: false))
          } else {
            let pruning = (s > 0 ? 0.3 : 0.1) + Double(w) / 1000 + Double(seed) / 100
            rows.append(Fixture.done(c, Fixture.compactResult(c, pruning: pruning)))
          }
        }
      }
    }
    try Fixture.makeStore(
      rows, in: folder, name: "cli", description: "report CLI test",
      provenance: Provenance(
        toolVersion: "test", gitCommit: nil, host: "h", datasetHashes: [:], blas: "-"),
      worker: "w")
  }
}

@Test func reportPrintsTablesAndWritesFilesIntoTheResultsFolder() throws {
  let dir = try TestFiles.temporaryDirectory("report-cli")
  defer { try? FileManager.default.removeItem(at: dir) }
  let results = dir.appendingPathComponent("results/cli")
  try ReportFixture.makeStore(in: results)
  // No RESULTS: the only folder under ./results.
  let out = try Binary.run(["report"], in: dir)
  #expect(out.status == 0, "stderr: \(out.stderr)")
  #expect(out.stdout.contains("Measurements over seeds (12 trials)"))
  #expect(out.stdout.contains("Noisy vs plain SGD, paired by seed"))
  for line in out.stdout.split(separator: "\n") { #expect(line.count <= 100, "too wide: \(line)") }
  for f in [
    "index.html", "report.md", "summary.csv", "paired.csv", "report.json",
    "figures/pruning_ratio.svg", "figures/accuracy.svg", "figures/fixed_ratio.svg",
    "figures/error_curve.svg", "figures/training_curves.svg", "figures/tail_index.svg",
  ] {
    #expect(FileManager.default.fileExists(atPath: results.appendingPathComponent(f).path), "\(f)")
  }
}

@Test func reportCSVGroupsByTheGivenKeysAndCountsEveryClass() throws {
  let dir = try TestFiles.temporaryDirectory("report-cli")
  defer { try? FileManager.default.removeItem(at: dir) }
  try ReportFixture.makeStore(in: dir)
  let out = try Binary.run(
    [
      "report", dir.appendingPathComponent("sweep.sqlite").path, "--by", "width,sigma", "--format",
      "csv", "--no-files",
    ])
  #expect(out.status == 0, "stderr: \(out.stderr)")
  let lines = out.stdout.split(separator: "\n").map(String.init)
  #expect(
    lines.first?.hasPrefix(
      "width,sigma,s,okCount,divergedCount,failedCount,pendingCount,pruningRatioN,") == true
  )
  // s = σ·η^(1/α) beside σ (raw; empty for plain SGD), then the counts.
  let noisy = try #require(lines.first { $0.hasPrefix("64,0.5,") }).split(
    separator: ",", omittingEmptySubsequences: false)
  #expect(abs((Double(noisy[2]) ?? 0) - 0.5 * pow(0.1, 1 / 1.75)) < 1e-12, "\(noisy)")
  #expect(noisy[3...7].joined(separator: ",") == "2,1,0,0,2")  // seed 2 diverged
  #expect(lines.contains { $0.hasPrefix("64,0,,2,0,0,1,2,") })  // seed 3 pending
  #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("index.html").path))
}

@Test func reportUsageErrorsExitWithStatusTwo() throws {
  let dir = try TestFiles.temporaryDirectory("report-cli")
  defer { try? FileManager.default.removeItem(at: dir) }
  try ReportFixture.makeStore(in: dir)
  let badKey = try Binary.run(["report", dir.path, "--by", "width,lr", "--no-files"])
  #expect(badKey.status == 2)
  #expect(badKey.stderr.contains("unknown grouping key 'lr'") && badKey.stderr.contains("sigma"))
  let badFormat = try Binary.run(["report", dir.path, "--format", "xml"])
  #expect(badFormat.status == 2)
  let empty = try TestFiles.temporaryDirectory("report-empty")
  defer { try? FileManager.default.removeItem(at: empty) }
  let missing = try Binary.run(["report"], in: empty)
  #expect(missing.status == 2 && missing.stderr.contains("results"))
  let notAStore = try Binary.run(["report", empty.path])
  #expect(notAStore.status == 2)
}
