import Foundation
import SweepRuntime
import SweepSpec
import SweepStore
import TailNet

// Trial configurations, results and stores with known numbers, written once for the test
// targets that need them.

// MARK: Simulated trials (runtime tests)

/// `n` distinct, real trial configurations (synthetic data) and their real ids.
public func sampleTrials(_ n: Int) -> [CoordinatorTrial] {
  (0..<n).map { i in
    let config = TrialConfig(
      dataset: DatasetSpec(name: "synthetic", trainSize: 100, testSize: 50), width: 8 + i,
      eta: 0.1, batchSize: 10, maxIterations: 100)
    return CoordinatorTrial(
      id: TrialID(config: config), config: config, cost: Double(n - i), previousAttempts: 0)
  }
}

/// The data-set hash the simulated workers report (and the coordinator expects).
public let simulatedDataHash = String(repeating: "ab", count: 32)

/// A valid, deterministic result for `config` (what a bit-reproducible trial returns).
public func simulatedResult(_ config: TrialConfig, dataHash: String = simulatedDataHash)
  -> TrialResult
{
  let acc = 0.5 + Double(config.width % 40) / 100
  let eval = EvalPoint(
    iteration: 100, trainLoss: 0.5, trainAccuracy: acc, testLoss: 0.6, testAccuracy: acc - 0.05)
  return TrialResult(
    config: config,
    training: TrainingSummary(
      stopReason: .maxIterations, iterations: 100, wallSeconds: 1.5, final: eval,
      history: [eval]),
    compression: nil, datasetHash: dataHash)
}

// MARK: Report rows (report, live view and report command tests)

/// Hand-made trial rows with known numbers, for checking aggregation, pairing, figures, the
/// live view and the report command.
public enum Fixture {
  public static func config(
    width: Int = 64, alpha: Double = 1.75, sigma: Double = 0.5, noiseType: NoiseType = .perNeuron,
    seed: UInt64, eta: Double = 0.1
  ) -> TrialConfig {
    TrialConfig(
      dataset: DatasetSpec(name: "synthetic"), width: width, depth: 1, eta: eta, batchSize: 50,
      alpha: alpha, sigma: sigma, noiseType: noiseType, targetAccuracy: 0.9, maxIterations: 500,
      evalEvery: 100, budget: 0.1, seed: seed)
  }

  /// The plain-SGD twin of a grid point (the override a sweep file applies: α = 2, type 0).
  public static func plain(width: Int = 64, seed: UInt64, eta: Double = 0.1) -> TrialConfig {
    config(width: width, alpha: 2, sigma: 0, noiseType: .none, seed: seed, eta: eta)
  }

  /// A point of a grid over σ: plain SGD when σ = 0, else α = 1.75 with per-neuron noise.
  public static func grid(width: Int, sigma: Double, seed: UInt64) -> TrialConfig {
    sigma == 0 ? plain(width: width, seed: seed) : config(width: width, sigma: sigma, seed: seed)
  }

  public static func result(
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

  /// The final evaluation of `compactResult` (iteration 200, test accuracy 0.9).
  public static let compactFinal = EvalPoint(
    iteration: 200, trainLoss: 0.1, trainAccuracy: 0.92, testLoss: 0.2, testAccuracy: 0.9)

  /// A smaller complete result than `result`: two evaluations (0 and 200), three points per
  /// curve, one tail estimate for norms and entries.
  public static func compactResult(
    _ c: TrialConfig, pruning: Double,
    tail: TailIndexEstimate = TailIndexEstimate(
      hill: 1.6, hillK: 10, other: nil, otherName: "pickands"),
    pruned: EvalPoint = EvalPoint(
      iteration: 200, trainLoss: 0.2, trainAccuracy: 0.9, testLoss: 0.3, testAccuracy: 0.87)
  ) -> TrialResult {
    let e = compactFinal
    let layer = LayerCompression(
      rows: c.width, columns: 20, prunedRows: Int(pruning * Double(c.width)),
      squaredRelativeError: 0.09,
      errorCurve: [0.01, 0.1, 0.5].map { ErrorCurvePoint(kept: $0, relativeError: 1 - $0) },
      tailIndexNorms: tail, tailIndexEntries: tail)
    let compression = CompressionReport(
      budget: 0.1, pruningRatio: pruning, layers: [layer], unpruned: e, pruned: pruned,
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

  public static func ok(
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

  /// A run that diverged at `iteration`, after one evaluation at 0 (`evaluated`) or none.
  public static func divergedResult(
    _ c: TrialConfig, at iteration: Int = 37, evaluated: Bool = true
  )
    -> TrialResult
  {
    let h =
      evaluated
      ? [
        EvalPoint(
          iteration: 0, trainLoss: 2.3, trainAccuracy: 0.1, testLoss: 2.3, testAccuracy: 0.1)
      ] : []
    return TrialResult(
      config: c,
      training: TrainingSummary(
        stopReason: .diverged, iterations: iteration, divergedAt: iteration, wallSeconds: 1,
        final: h.first, history: h),
      compression: nil, datasetHash: nil)
  }

  public static func diverged(_ c: TrialConfig, at iteration: Int = 37, evaluated: Bool = true)
    -> TrialRow
  {
    TrialRow(
      id: TrialID(config: c), config: c, state: .diverged, attempts: 1,
      result: divergedResult(c, at: iteration, evaluated: evaluated), lastError: nil)
  }

  /// A done row holding `result`.
  public static func done(_ c: TrialConfig, _ result: TrialResult) -> TrialRow {
    TrialRow(
      id: TrialID(config: c), config: c, state: .done, attempts: 1, result: result, lastError: nil)
  }

  public static func failed(_ c: TrialConfig) -> TrialRow {
    TrialRow(
      id: TrialID(config: c), config: c, state: .failed, attempts: 3, result: nil,
      lastError: "worker crashed")
  }

  public static func pending(_ c: TrialConfig) -> TrialRow {
    TrialRow(
      id: TrialID(config: c), config: c, state: .pending, attempts: 0, result: nil, lastError: nil)
  }

  /// Group A (n = 64, α = 1.75, σ = 0.5): seeds 1–3 ok, 4 diverged, 5 failed, 6 pending.
  /// Group B (n = 128, same noise): seeds 1–3 ok. Plain twins of both widths, seeds 1–3.
  public static var sweep: [TrialRow] {
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

  /// Writes `rows` into a real SQLite store `dir/sweep.sqlite` the way the coordinator does
  /// (begin, lease, commit or give up; pending rows untouched) and returns the store's path.
  @discardableResult
  public static func makeStore(
    _ rows: [TrialRow], in dir: URL, name: String = "fixture", description: String = "report test",
    provenance: Provenance = Provenance(
      toolVersion: "test", gitCommit: nil, host: "test", datasetHashes: [:], blas: "none"),
    worker: String = "w1"
  ) throws -> String {
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let path = dir.appendingPathComponent("sweep.sqlite").path
    let store = try SweepStore(path: path)
    let planned = rows.map { PlannedTrial(config: $0.config, relativeCost: 1) }
    _ = try store.beginSweep(
      name: name, description: description, text: "", trials: planned, provenance: provenance)
    let t0 = Date(timeIntervalSince1970: 1_700_000_000)
    for r in rows {
      switch r.state {
      case .done, .diverged:
        try store.attemptStarted(trial: r.id, attempt: 1, worker: worker, host: "h", at: t0)
        if let res = r.result {
          try store.commit(trial: r.id, attempt: 1, worker: worker, result: res, at: t0)
        }
      case .failed:
        try store.attemptStarted(trial: r.id, attempt: 1, worker: worker, host: "h", at: t0)
        try store.attemptEnded(
          trial: r.id, attempt: 1, outcome: .crashed, error: "crashed", at: t0)
        try store.markFailed(trial: r.id, error: "crashed")
      case .pending, .running:
        break
      }
    }
    try store.close()
    return path
  }
}
