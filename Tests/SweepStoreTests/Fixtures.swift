import Foundation
import SweepSpec
import SweepStore
import TailNet
import TailSweepTestSupport

/// Small, deterministic inputs for store tests.
enum Fixtures {
  static func config(seed: UInt64, width: Int = 64, sigma: Double = 0.5) -> TrialConfig {
    TrialConfig(
      dataset: DatasetSpec(name: "synthetic", trainSize: 100, testSize: 50), width: width,
      eta: 0.01, batchSize: 10, sigma: sigma, seed: seed)
  }

  static func trial(seed: UInt64, width: Int = 64) -> PlannedTrial {
    let c = config(seed: seed, width: width)
    return PlannedTrial(config: c, relativeCost: Double(width))
  }

  static func trials(_ seeds: ClosedRange<UInt64>) -> [PlannedTrial] {
    seeds.map { trial(seed: $0) }
  }

  static let provenance = Provenance(
    toolVersion: "0.1.0-test", gitCommit: "abc123", host: "testhost",
    datasetHashes: ["synthetic": "00ff"], blas: "OpenBLAS 0.3 (test)")

  /// A complete, valid result (`validationProblems()` is empty); `testAccuracy` tells results
  /// apart. The history spreads `historyPoints` evaluations over the 400 iterations.
  static func result(
    for trial: PlannedTrial, testAccuracy: Double = 0.9, stop: StopReason = .reachedTarget,
    historyPoints: Int = 5
  ) -> TrialResult {
    let steps = max(historyPoints - 1, 1)
    let history = (0..<historyPoints).map { i in
      EvalPoint(
        iteration: i * 400 / steps, trainLoss: 1.0 / Double(i + 1),
        trainAccuracy: 0.5 + 0.04 * Double(i) / Double(steps),
        testLoss: 1.1 / Double(i + 1),
        testAccuracy: testAccuracy - 0.001 * Double(historyPoints - 1 - i))
    }
    let final = history.last
    let compression: CompressionReport? =
      stop == .diverged
      ? nil
      : CompressionReport(
        budget: trial.config.budget, pruningRatio: 0.42,
        layers: [
          LayerCompression(
            rows: trial.config.width, columns: 20, prunedRows: 27, squaredRelativeError: 0.09,
            errorCurve: [ErrorCurvePoint(kept: 0.1, relativeError: 0.8)],
            tailIndexNorms: TailIndexEstimate(
              hill: 1.6, hillK: 8, other: nil, otherName: "pickands"),
            tailIndexEntries: TailIndexEstimate(
              hill: 1.7, hillK: 30, other: 1.75, otherName: "pickands"))
        ],
        unpruned: final
          ?? EvalPoint(
            iteration: 0, trainLoss: 0, trainAccuracy: 0, testLoss: 0, testAccuracy: 0),
        pruned: EvalPoint(
          iteration: 400, trainLoss: 0.3, trainAccuracy: 0.88, testLoss: 0.35,
          testAccuracy: testAccuracy - 0.02),
        fixedRatioCurve: [
          FixedRatioPoint(pruned: 0.5, testAccuracy: 0.79, testLoss: 0.5)
        ])
    return TrialResult(
      config: trial.config,
      training: TrainingSummary(
        stopReason: stop, iterations: 400, divergedAt: stop == .diverged ? 321 : nil,
        wallSeconds: 1.5, final: final, history: history),
      compression: compression, datasetHash: "00ff")
  }

  /// A fresh temporary folder and the path of a store file in it.
  static func storePath() throws -> String {
    try TestFiles.temporaryDirectory("sweepstore").appendingPathComponent("sweep.sqlite").path
  }

  /// Runs a whole attempt: lease then commit.
  @discardableResult
  static func run(
    _ store: SweepStore, _ trial: PlannedTrial, attempt: Int = 1, worker: String = "w1",
    testAccuracy: Double = 0.9, stop: StopReason = .reachedTarget
  ) throws -> CommitOutcome {
    try store.attemptStarted(
      trial: trial.id, attempt: attempt, worker: worker, host: "host-\(worker)", at: Date())
    return try store.commit(
      trial: trial.id, attempt: attempt, worker: worker,
      result: result(for: trial, testAccuracy: testAccuracy, stop: stop), at: Date())
  }
}
