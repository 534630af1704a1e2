/// What training reports while it runs (for progress displays and worker heartbeats).
public struct TrainingProgress: Hashable, Sendable {
  /// Iterations done so far.
  public var iteration: Int
  /// The iteration cap of the trial.
  public var maxIterations: Int
  /// The latest full evaluation, if any.
  public var lastEval: EvalPoint?
  public init(iteration: Int, maxIterations: Int, lastEval: EvalPoint?) {
    self.iteration = iteration
    self.maxIterations = maxIterations
    self.lastEval = lastEval
  }
}
