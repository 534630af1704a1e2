import Foundation
import SweepSpec
import TailNet

/// Where a trial stands in the store.
public enum TrialState: String, Codable, Hashable, Sendable, CaseIterable {
  /// Not run yet (or queued again for a rerun).
  case pending
  /// Leased to a worker now.
  case running
  /// A result is committed and training stopped normally (target reached or iterations out).
  case done
  /// A result is committed and training diverged (non-finite loss or weights): a result too.
  case diverged
  /// Gave up after the retry cap; `lastError` says why. No result.
  case failed
}

/// One trial as the store knows it: what reports and exports read.
public struct TrialRow: Hashable, Sendable {
  /// The trial's identity.
  public var id: TrialID
  /// Its configuration as stored.
  public var config: TrialConfig
  /// Where it stands (derived in the store's transactions; see `TrialState`).
  public var state: TrialState
  /// Attempts made so far (leases handed out).
  public var attempts: Int
  /// The committed result (done and diverged trials only).
  public var result: TrialResult?
  /// The last error text (failed trials, or failed attempts of others).
  public var lastError: String?

  /// Creates a row (the store makes them; tests and reports may too).
  public init(
    id: TrialID, config: TrialConfig, state: TrialState, attempts: Int, result: TrialResult?,
    lastError: String?
  ) {
    self.id = id
    self.config = config
    self.state = state
    self.attempts = attempts
    self.result = result
    self.lastError = lastError
  }
}
