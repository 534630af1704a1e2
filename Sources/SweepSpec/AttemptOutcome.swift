/// How one attempt (lease) of a trial ended: the one vocabulary shared by the coordinator's
/// scheduler (SweepWire), its loop (SweepRuntime) and the store's attempt rows (SweepStore).
/// The raw values are what the store persists.
public enum AttemptOutcome: String, Sendable, CaseIterable, Codable, Hashable {
  /// Its result became the trial's result.
  case committed
  /// Its result arrived after the trial already had one and was ignored.
  case duplicate
  /// The worker reported an error, or its result was refused (invalid numbers, wrong work,
  /// wrong data, too large).
  case failed
  /// The worker went silent, stopped reporting the lease, or the coordinator stopped while
  /// the attempt ran.
  case lost
  /// The lease ran past the wall-time limit (or the worker cancelled it at that limit).
  case timedOut
  /// The worker process died.
  case crashed
}
