import Foundation
import SweepSpec
import SweepStore
import TailNet
import Testing

/// `tailsweep report` end to end: a real SQLite store written through SweepStore, the built
/// binary, its exit status, its output and the files it writes.
enum ReportFixture {
  static func config(width: Int, sigma: Double, seed: UInt64) -> TrialConfig {
    TrialConfig(
      dataset: DatasetSpec(name: "synthetic"), width: width, depth: 1, eta: 0.1, batchSize: 50,
      alpha: sigma == 0 ? 2 : 1.75, sigma: sigma, noiseType: sigma == 0 ? .none : .perNeuron,
      targetAccuracy: 0.9, maxIterations: 500, evalEvery: 100, budget: 0.1, seed: seed)
  }

  static func result(_ c: TrialConfig, pruning: Double) -> TrialResult {
    let e = EvalPoint(
      iteration: 200, trainLoss: 0.1, trainAccuracy: 0.92, testLoss: 0.2, testAccuracy: 0.9)
    let p = EvalPoint(
      iteration: 200, trainLoss: 0.2, trainAccuracy: 0.9, testLoss: 0.3, testAccuracy: 0.87)
    let tail = TailIndexEstimate(hill: 1.6, hillK: 10, other: nil, otherName: "pickands")
    let layer = LayerCompression(
      rows: c.width, columns: 20, prunedRows: Int(pruning * Double(c.width)),
      squaredRelativeError: 0.09,
      errorCurve: [0.01, 0.1, 0.5].map { ErrorCurvePoint(kept: $0, relativeError: 1 - $0) },
      tailIndexNorms: tail, tailIndexEntries: tail)
    let compression = CompressionReport(
      budget: 0.1, pruningRatio: pruning, layers: [layer], unpruned: e, pruned: p,
      fixedRatioCurve: [0, 0.5, 1].map {
        FixedRatioPoint(pruned: $0, testAccuracy: 0.9 - 0.4 * $0, testLoss: 1)
      })
    let training = TrainingSummary(
      stopReason: .reachedTarget, iterations: 200, wallSeconds: 1, final: e,
      history: [
        EvalPoint(iteration: 0, trainLoss: 2, trainAccuracy: 0.5, testLoss: 2, testAccuracy: 0.5),
        e,
      ])
    return TrialResult(config: c, training: training, compression: compression, datasetHash: nil)
  }

  /// Widths 32 and 64, noisy (σ = 0.5) and plain, seeds 1–3; one noisy seed diverges at
  /// width 64 and one plain trial stays pending.
  static func makeStore(in folder: URL) throws {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let store = try SweepStore(path: folder.appendingPathComponent("sweep.sqlite").path)
    var configs: [TrialConfig] = []
    for w in [32, 64] {
      for s in [0, 0.5] {
        for seed: UInt64 in 1...3 { configs.append(config(width: w, sigma: s, seed: seed)) }
      }
    }
    let planned = configs.map { PlannedTrial(config: $0, relativeCost: 1) }
    _ = try store.beginSweep(
      name: "cli", description: "report CLI test", text: "", trials: planned,
      provenance: Provenance(
        toolVersion: "test", gitCommit: nil, host: "h", datasetHashes: [:], blas: "-"))
    let now = Date(timeIntervalSince1970: 1_700_000_000)
    for c in configs {
      let id = TrialID(config: c)
      if c.width == 64 && c.sigma == 0 && c.seed == 3 { continue }  // pending
      try store.attemptStarted(trial: id, attempt: 1, worker: "w", host: "h", at: now)
      if c.width == 64 && c.sigma > 0 && c.seed == 2 {
        let t = TrainingSummary(
          stopReason: .diverged, iterations: 5, divergedAt: 5, wallSeconds: 1, final: nil,
          history: [])
        try store.commit(
          trial: id, attempt: 1, worker: "w",
          result: TrialResult(config: c, training: t, compression: nil, datasetHash: nil), at: now)
        continue
      }
      let pruning = (c.sigma > 0 ? 0.3 : 0.1) + Double(c.width) / 1000 + Double(c.seed) / 100
      try store.commit(
        trial: id, attempt: 1, worker: "w", result: result(c, pruning: pruning), at: now)
    }
    try store.close()
  }
}

@Test func reportPrintsTablesAndWritesFilesIntoTheResultsFolder() throws {
  let dir = try Binary.temporaryDirectory("report-cli")
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
  let dir = try Binary.temporaryDirectory("report-cli")
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
  let dir = try Binary.temporaryDirectory("report-cli")
  defer { try? FileManager.default.removeItem(at: dir) }
  try ReportFixture.makeStore(in: dir)
  let badKey = try Binary.run(["report", dir.path, "--by", "width,lr", "--no-files"])
  #expect(badKey.status == 2)
  #expect(badKey.stderr.contains("unknown grouping key 'lr'") && badKey.stderr.contains("sigma"))
  let badFormat = try Binary.run(["report", dir.path, "--format", "xml"])
  #expect(badFormat.status == 2)
  let empty = try Binary.temporaryDirectory("report-empty")
  defer { try? FileManager.default.removeItem(at: empty) }
  let missing = try Binary.run(["report"], in: empty)
  #expect(missing.status == 2 && missing.stderr.contains("results"))
  let notAStore = try Binary.run(["report", empty.path])
  #expect(notAStore.status == 2)
}
