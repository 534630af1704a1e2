/// Plausibility of a `TrialResult`: every value must be a possible measurement of a real
/// training run (what `Trainer.train` and `Compression.measure` can produce). Workers check
/// before sending, the coordinator before acknowledging, and the store before committing.

extension TrialResult {
  /// `datasetHash` of a null trial's result (the dispatch benchmark): not a measurement.
  /// Workers mark null results with it; the coordinator and the store refuse them outside
  /// null-trial mode.
  public static let nullTrialDatasetHash = "null-trial"

  /// Whether this is a null trial's result (`datasetHash == nullTrialDatasetHash`).
  public var isNullTrial: Bool { datasetHash == Self.nullTrialDatasetHash }

  /// The most evaluation points a result may carry in `training.history`: 2000. Workers call
  /// `capHistory()` before sending, so that a result stays well under the 4 MiB limit of a
  /// wire message (a point is about 150 bytes of JSON); more is a validation problem.
  public static let maxHistoryPoints = 2000

  /// Every field that is not a possible measurement, one line each naming the field and its
  /// value (e.g. `training.wallSeconds is nan (must be finite and ≥ 0)`); empty when the
  /// result is valid.
  ///
  /// Rules: `wallSeconds` finite and ≥ 0; `0 ≤ iterations ≤ config.maxIterations`;
  /// `divergedAt` present exactly when the stop reason is `diverged`, and in `0...iterations`;
  /// every accuracy (final, history, compression unpruned/pruned, fixed-ratio curve) finite and
  /// in [0, 1]; every loss finite and ≥ 0, except that a diverged run may carry non-finite
  /// losses (its last evaluation may be the one that found the non-finite loss); history
  /// iterations non-decreasing and ≤ `iterations`, at most `maxHistoryPoints` points;
  /// `pruningRatio` in [0, 1]; per layer `prunedRows` in `0...rows`, `squaredRelativeError`
  /// finite and ≥ 0, error-curve `kept` in [0, 1] and `relativeError` finite and ≥ 0;
  /// fixed-ratio `pruned` in [0, 1]; tail-index estimates finite or nil.
  public func validationProblems() -> [String] {
    var p: [String] = []
    let t = training
    let diverged = t.stopReason == .diverged

    func unit(_ field: String, _ x: Double) {
      if !(x.isFinite && x >= 0 && x <= 1) { p.append("\(field) is \(x) (must be in [0, 1])") }
    }
    func nonNegative(_ field: String, _ x: Double) {
      if !(x.isFinite && x >= 0) { p.append("\(field) is \(x) (must be finite and ≥ 0)") }
    }
    func loss(_ field: String, _ x: Double) {
      if x.isFinite {
        if x < 0 { p.append("\(field) is \(x) (a loss must be ≥ 0)") }
      } else if !diverged {
        p.append("\(field) is \(x) (must be finite unless the run diverged)")
      }
    }
    func eval(_ field: String, _ e: EvalPoint) {
      loss("\(field).trainLoss", e.trainLoss)
      unit("\(field).trainAccuracy", e.trainAccuracy)
      loss("\(field).testLoss", e.testLoss)
      unit("\(field).testAccuracy", e.testAccuracy)
    }
    func tail(_ field: String, _ e: TailIndexEstimate) {
      if let h = e.hill, !h.isFinite { p.append("\(field).hill is \(h) (must be finite or nil)") }
      if let o = e.other, !o.isFinite {
        p.append("\(field).other is \(o) (must be finite or nil)")
      }
      if e.hillK < 0 { p.append("\(field).hillK is \(e.hillK) (must be ≥ 0)") }
    }

    nonNegative("training.wallSeconds", t.wallSeconds)
    if t.iterations < 0 {
      p.append("training.iterations is \(t.iterations) (must be ≥ 0)")
    } else if t.iterations > config.maxIterations {
      p.append(
        "training.iterations is \(t.iterations) (more than config.maxIterations = \(config.maxIterations))"
      )
    }
    switch (diverged, t.divergedAt) {
    case (true, nil):
      p.append("training.divergedAt is nil (a diverged run must say where it diverged)")
    case (false, let d?):
      p.append(
        "training.divergedAt is \(d) (only a diverged run has one; stop reason is \(t.stopReason.rawValue))"
      )
    case (true, let d?) where d < 0 || d > t.iterations:
      p.append("training.divergedAt is \(d) (must be in 0...training.iterations = \(t.iterations))")
    default:
      break
    }
    if let f = t.final { eval("training.final", f) }
    if t.history.count > Self.maxHistoryPoints {
      p.append(
        "training.history has \(t.history.count) points (more than TrialResult.maxHistoryPoints = \(Self.maxHistoryPoints); call capHistory() before sending)"
      )
    }
    var previous = Int.min
    for (i, e) in t.history.enumerated() {
      let field = "training.history[\(i)]"
      if e.iteration < previous {
        p.append("\(field).iteration is \(e.iteration) (before the previous point's \(previous))")
      }
      if e.iteration < 0 || e.iteration > t.iterations {
        p.append(
          "\(field).iteration is \(e.iteration) (must be in 0...training.iterations = \(t.iterations))"
        )
      }
      previous = e.iteration
      eval(field, e)
    }

    if let c = compression {
      unit("compression.pruningRatio", c.pruningRatio)
      eval("compression.unpruned", c.unpruned)
      eval("compression.pruned", c.pruned)
      for (l, layer) in c.layers.enumerated() {
        let field = "compression.layers[\(l)]"
        if layer.prunedRows < 0 || layer.prunedRows > layer.rows {
          p.append(
            "\(field).prunedRows is \(layer.prunedRows) (must be in 0...rows = \(layer.rows))")
        }
        nonNegative("\(field).squaredRelativeError", layer.squaredRelativeError)
        for (k, point) in layer.errorCurve.enumerated() {
          unit("\(field).errorCurve[\(k)].kept", point.kept)
          nonNegative("\(field).errorCurve[\(k)].relativeError", point.relativeError)
        }
        tail("\(field).tailIndexNorms", layer.tailIndexNorms)
        tail("\(field).tailIndexEntries", layer.tailIndexEntries)
      }
      for (k, point) in c.fixedRatioCurve.enumerated() {
        let field = "compression.fixedRatioCurve[\(k)]"
        unit("\(field).pruned", point.pruned)
        unit("\(field).testAccuracy", point.testAccuracy)
        loss("\(field).testLoss", point.testLoss)
      }
    }
    return p
  }

  /// Thins `training.history` to at most `n` points (at least 2), evenly spaced in index,
  /// keeping the first and the last point (`training.final` is unchanged). Workers call it
  /// before sending a result: a history of more than `maxHistoryPoints` is refused.
  public mutating func capHistory(to n: Int = TrialResult.maxHistoryPoints) {
    let history = training.history
    let n = max(n, 2)
    guard history.count > n else { return }
    let last = history.count - 1
    // Index i·last/(n−1) rounded: strictly increasing because last > n − 1.
    training.history = (0..<n).map { i in history[(i * last + (n - 1) / 2) / (n - 1)] }
  }
}
