import Foundation
import SweepSpec
import TailNet

/// Runs one trial inside a worker: loads (and caches) the data set, trains, measures.
/// (Placeholder body; the lead replaces it with the real pipeline.)
public final class TrialExecutor: @unchecked Sendable {
  public let dataDirectory: URL
  public init(dataDirectory: URL) { self.dataDirectory = dataDirectory }

  /// Trains and measures `config`; `progress` is called now and then from the training thread
  /// and returning false cancels the trial (the result then has stop reason `cancelled`).
  public func run(
    id: TrialID, config: TrialConfig, progress: (TrainingProgress) -> Bool
  ) throws -> TrialResult {
    throw CocoaError(.featureUnsupported)
  }
}
