/// What one trial produces. `TrialResult` is the Codable summary that crosses the network and
/// lands in the store; the trained weights stay in memory (`Network`) unless saved on request.

/// Why training stopped.
public enum StopReason: String, Codable, Hashable, Sendable {
  /// Full-train accuracy reached `targetAccuracy`.
  case reachedTarget = "reached_target"
  /// `maxIterations` ran out first.
  case maxIterations = "max_iterations"
  /// A loss or weight became non-finite: a result, not a crash.
  case diverged
  /// Stopped from outside (wall-time limit or shutdown); not a scientific result.
  case cancelled
}

/// One full evaluation of the network.
public struct EvalPoint: Codable, Hashable, Sendable {
  /// SGD iterations done before this evaluation.
  public var iteration: Int
  public var trainLoss: Double
  public var trainAccuracy: Double
  public var testLoss: Double
  public var testAccuracy: Double

  public init(
    iteration: Int, trainLoss: Double, trainAccuracy: Double, testLoss: Double,
    testAccuracy: Double
  ) {
    self.iteration = iteration
    self.trainLoss = trainLoss
    self.trainAccuracy = trainAccuracy
    self.testLoss = testLoss
    self.testAccuracy = testAccuracy
  }
}

/// Training summary (no weights).
public struct TrainingSummary: Codable, Hashable, Sendable {
  public var stopReason: StopReason
  /// SGD iterations performed.
  public var iterations: Int
  /// Iteration at which a non-finite value appeared (diverged trials only).
  public var divergedAt: Int?
  /// Wall-clock seconds of training (not part of the science; excluded from comparisons).
  public var wallSeconds: Double
  /// The last evaluation (unpruned network); nil only if the trial diverged before any.
  public var final: EvalPoint?
  /// Every evaluation, in order.
  public var history: [EvalPoint]

  public init(
    stopReason: StopReason, iterations: Int, divergedAt: Int? = nil, wallSeconds: Double,
    final: EvalPoint?, history: [EvalPoint]
  ) {
    self.stopReason = stopReason
    self.iterations = iterations
    self.divergedAt = divergedAt
    self.wallSeconds = wallSeconds
    self.final = final
    self.history = history
  }
}

/// err(κ): relative Frobenius error of keeping a fraction κ of a layer's rows (largest first).
public struct ErrorCurvePoint: Codable, Hashable, Sendable {
  public var kept: Double
  public var relativeError: Double
  public init(kept: Double, relativeError: Double) {
    self.kept = kept
    self.relativeError = relativeError
  }
}

/// Test accuracy after pruning a fixed fraction q of the rows of every hidden layer.
public struct FixedRatioPoint: Codable, Hashable, Sendable {
  /// q: fraction of each hidden layer's rows zeroed (⌊n·q⌋ smallest-norm rows).
  public var pruned: Double
  public var testAccuracy: Double
  public var testLoss: Double
  public init(pruned: Double, testAccuracy: Double, testLoss: Double) {
    self.pruned = pruned
    self.testAccuracy = testAccuracy
    self.testLoss = testLoss
  }
}

/// Tail-index estimates of one sample (NaN-free: nil when an estimator cannot be applied).
public struct TailIndexEstimate: Codable, Hashable, Sendable {
  /// Hill estimator α̂ on the k largest absolute values.
  public var hill: Double?
  /// Number of order statistics the Hill estimator used.
  public var hillK: Int
  /// A second, more robust estimator (see `TailIndex` in TailMath for which and why).
  public var other: Double?
  /// Name of the second estimator.
  public var otherName: String
  public init(hill: Double?, hillK: Int, other: Double?, otherName: String) {
    self.hill = hill
    self.hillK = hillK
    self.other = other
    self.otherName = otherName
  }
}

/// Compressibility of one hidden layer.
public struct LayerCompression: Codable, Hashable, Sendable {
  /// Rows (neurons) and columns (inputs) of the weight matrix.
  public var rows: Int
  public var columns: Int
  /// Rows zeroed at the error budget.
  public var prunedRows: Int
  /// Squared relative Frobenius error of that pruning (≤ budget).
  public var squaredRelativeError: Double
  /// err(κ) for κ ∈ {0.01, 0.02, 0.05, 0.1, 0.2, 0.5}.
  public var errorCurve: [ErrorCurvePoint]
  /// Tail index of the rows' ℓ2 norms.
  public var tailIndexNorms: TailIndexEstimate
  /// Tail index of the entries.
  public var tailIndexEntries: TailIndexEstimate
  public init(
    rows: Int, columns: Int, prunedRows: Int, squaredRelativeError: Double,
    errorCurve: [ErrorCurvePoint], tailIndexNorms: TailIndexEstimate,
    tailIndexEntries: TailIndexEstimate
  ) {
    self.rows = rows
    self.columns = columns
    self.prunedRows = prunedRows
    self.squaredRelativeError = squaredRelativeError
    self.errorCurve = errorCurve
    self.tailIndexNorms = tailIndexNorms
    self.tailIndexEntries = tailIndexEntries
  }
}

/// The compressibility measurements of a trained network (method doc, section 4).
public struct CompressionReport: Codable, Hashable, Sendable {
  /// r: the error budget used.
  public var budget: Double
  /// Fraction of hidden-layer parameters removed at the budget (output layer excluded).
  public var pruningRatio: Double
  /// One entry per hidden layer, input side first.
  public var layers: [LayerCompression]
  /// Unpruned network.
  public var unpruned: EvalPoint
  /// Network pruned at the budget, no retraining.
  public var pruned: EvalPoint
  /// q ∈ {0, 0.1, …, 1.0}.
  public var fixedRatioCurve: [FixedRatioPoint]
  public init(
    budget: Double, pruningRatio: Double, layers: [LayerCompression], unpruned: EvalPoint,
    pruned: EvalPoint, fixedRatioCurve: [FixedRatioPoint]
  ) {
    self.budget = budget
    self.pruningRatio = pruningRatio
    self.layers = layers
    self.unpruned = unpruned
    self.pruned = pruned
    self.fixedRatioCurve = fixedRatioCurve
  }
}

/// Everything a trial reports: what the worker sends back and the store keeps.
public struct TrialResult: Codable, Hashable, Sendable {
  public var config: TrialConfig
  public var training: TrainingSummary
  /// nil when the trial diverged or was cancelled (there is no finite network to measure).
  public var compression: CompressionReport?
  /// SHA-256 of the data set's source files, as the worker saw them.
  public var datasetHash: String?
  public init(
    config: TrialConfig, training: TrainingSummary, compression: CompressionReport?,
    datasetHash: String?
  ) {
    self.config = config
    self.training = training
    self.compression = compression
    self.datasetHash = datasetHash
  }
}
