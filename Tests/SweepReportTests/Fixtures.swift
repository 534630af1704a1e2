import Foundation
import SweepSpec
import SweepStore
import TailNet

/// Hand-made trial rows with known numbers, for checking aggregation, pairing and figures.
enum Fixture {
  static func config(
    width: Int = 64, alpha: Double = 1.75, sigma: Double = 0.5, noiseType: NoiseType = .perNeuron,
    seed: UInt64, eta: Double = 0.1
  ) -> TrialConfig {
    TrialConfig(
      dataset: DatasetSpec(name: "synthetic"), width: width, depth: 1, eta: eta, batchSize: 50,
      alpha: alpha, sigma: sigma, noiseType: noiseType, targetAccuracy: 0.9, maxIterations: 500,
      evalEvery: 100, budget: 0.1, seed: seed)
  }

  /// The plain-SGD twin of a grid point (the override a sweep file applies: α = 2, type 0).
  static func plain(width: Int = 64, seed: UInt64, eta: Double = 0.1) -> TrialConfig {
    config(width: width, alpha: 2, sigma: 0, noiseType: .none, seed: seed, eta: eta)
  }

  static func result(
    _ c: TrialConfig, pruning: Double, test: Double, pruned: Double, iterations: Int = 100,
    reached: Bool = true, hill: Double? = 1.5
  ) -> TrialResult {
    let history = stride(from: 0, through: iterations, by: 100).map { i in
      EvalPoint(
        iteration: i, trainLoss: 1 / Double(i + 1), trainAccuracy: min(0.99, 0.5 + Double(i) / 500),
        testLoss: 1 / Double(i + 1), testAccuracy: min(0.95, 0.45 + Double(i) / 500))
    }
    let unprunedEval = EvalPoint(
      iteration: iterations, trainLoss: 0.1, trainAccuracy: 0.95, testLoss: 0.2, testAccuracy: test)
    let prunedEval = EvalPoint(
      iteration: iterations, trainLoss: 0.2, trainAccuracy: 0.9, testLoss: 0.3, testAccuracy: pruned
    )
    let kappas = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
    let layer = LayerCompression(
      rows: c.width, columns: 20, prunedRows: Int(pruning * Double(c.width)),
      squaredRelativeError: 0.09,
      errorCurve: kappas.map { ErrorCurvePoint(kept: $0, relativeError: (1 - $0) * (1 - pruning)) },
      tailIndexNorms: TailIndexEstimate(hill: hill, hillK: 10, other: nil, otherName: "pickands"),
      tailIndexEntries: TailIndexEstimate(hill: 2, hillK: 10, other: nil, otherName: "pickands"))
    let fixed = (0...10).map { q in
      FixedRatioPoint(
        pruned: Double(q) / 10, testAccuracy: test * (1 - Double(q) / 20), testLoss: 0.3)
    }
    let compression = CompressionReport(
      budget: 0.1, pruningRatio: pruning, layers: [layer], unpruned: unprunedEval,
      pruned: prunedEval, fixedRatioCurve: fixed)
    let training = TrainingSummary(
      stopReason: reached ? .reachedTarget : .maxIterations, iterations: iterations,
      wallSeconds: 1, final: unprunedEval, history: history)
    return TrialResult(config: c, training: training, compression: compression, datasetHash: nil)
  }

  static func ok(
    _ c: TrialConfig, pruning: Double, test: Double = 0.9, pruned: Double = 0.85,
    iterations: Int = 100, reached: Bool = true, hill: Double? = 1.5
  ) -> TrialRow {
    TrialRow(
      id: TrialID(config: c), config: c, state: .done, attempts: 1,
      result: result(
        c, pruning: pruning, test: test, pruned: pruned, iterations: iterations, reached: reached,
        hill: hill),
      lastError: nil)
  }

  static func divergedResult(_ c: TrialConfig) -> TrialResult {
    let h = [
      EvalPoint(iteration: 0, trainLoss: 2.3, trainAccuracy: 0.1, testLoss: 2.3, testAccuracy: 0.1)
    ]
    return TrialResult(
      config: c,
      training: TrainingSummary(
        stopReason: .diverged, iterations: 37, divergedAt: 37, wallSeconds: 1, final: h[0],
        history: h),
      compression: nil, datasetHash: nil)
  }

  static func diverged(_ c: TrialConfig) -> TrialRow {
    TrialRow(
      id: TrialID(config: c), config: c, state: .diverged, attempts: 1,
      result: divergedResult(c), lastError: nil)
  }

  static func failed(_ c: TrialConfig) -> TrialRow {
    TrialRow(
      id: TrialID(config: c), config: c, state: .failed, attempts: 3, result: nil,
      lastError: "worker crashed")
  }

  static func pending(_ c: TrialConfig) -> TrialRow {
    TrialRow(
      id: TrialID(config: c), config: c, state: .pending, attempts: 0, result: nil, lastError: nil)
  }

  /// Group A (n = 64, α = 1.75, σ = 0.5): seeds 1–3 ok, 4 diverged, 5 failed, 6 pending.
  /// Group B (n = 128, same noise): seeds 1–3 ok. Plain twins of both widths, seeds 1–3.
  static var sweep: [TrialRow] {
    [
      ok(config(seed: 1), pruning: 0.2, test: 0.90, pruned: 0.85, iterations: 100, hill: 1.5),
      ok(config(seed: 2), pruning: 0.3, test: 0.92, pruned: 0.88, iterations: 200, hill: 1.7),
      ok(
        config(seed: 3), pruning: 0.4, test: 0.94, pruned: 0.91, iterations: 500, reached: false,
        hill: nil),
      diverged(config(seed: 4)),
      failed(config(seed: 5)),
      pending(config(seed: 6)),
      ok(config(width: 128, seed: 1), pruning: 0.5),
      ok(config(width: 128, seed: 2), pruning: 0.5),
      ok(config(width: 128, seed: 3), pruning: 0.8),
      ok(plain(seed: 1), pruning: 0.10, test: 0.91, pruned: 0.80, iterations: 300),
      ok(plain(seed: 2), pruning: 0.12, test: 0.91, pruned: 0.82, iterations: 300),
      ok(plain(seed: 3), pruning: 0.11, test: 0.93, pruned: 0.84, iterations: 300),
      ok(plain(width: 128, seed: 1), pruning: 0.1),
      ok(plain(width: 128, seed: 2), pruning: 0.1),
      ok(plain(width: 128, seed: 3), pruning: 0.1),
    ]
  }
}
