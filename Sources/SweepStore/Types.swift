import Foundation
import SweepSpec
import TailNet

/// Which finished trials of a sweep to run again when the sweep is resumed.
///
/// A rerun resets the chosen trials to `pending`. Their current result, if any, is retired at that
/// moment (kept in the `results` table with `superseded_at` set, so old numbers stay queryable);
/// the attempts table keeps the full history. When the rerun commits, its result becomes the
/// trial's result: the latest committed result wins, and `rows`/`export` only show that one.
public enum RerunPolicy: String, Sendable, CaseIterable, Codable {
  /// Run only trials without a result (pending, or left running by a crashed coordinator).
  case none
  /// Also run trials that gave up (`failed`).
  case failed
  /// Also run trials whose training diverged.
  case diverged
  /// Run every trial of the sweep again.
  case all
}

/// How one attempt (lease) of a trial ended: the one vocabulary shared with the scheduler
/// (defined in SweepSpec; the raw values are what the attempts table stores).
public typealias AttemptOutcome = SweepSpec.AttemptOutcome

/// What `commit` did with a result.
public enum CommitOutcome: String, Sendable, Hashable {
  /// The result is now the trial's result.
  case committed
  /// The trial already had a result; this one was recorded as a duplicate attempt only.
  case duplicate
}

/// Where a sweep run's numbers came from; filled by the caller, stored once per `beginSweep`.
public struct Provenance: Codable, Hashable, Sendable {
  /// `tailsweep` version string.
  public var toolVersion: String
  /// Git commit of the source tree, when known.
  public var gitCommit: String?
  /// Host name of the coordinator.
  public var host: String
  /// SHA-256 of each data set's source files, by data set name.
  public var datasetHashes: [String: String]
  /// OpenBLAS configuration (`openblas_get_config()`, thread count).
  public var blas: String

  /// Creates a provenance record.
  public init(
    toolVersion: String, gitCommit: String?, host: String, datasetHashes: [String: String],
    blas: String
  ) {
    self.toolVersion = toolVersion
    self.gitCommit = gitCommit
    self.host = host
    self.datasetHashes = datasetHashes
    self.blas = blas
  }
}

/// A sweep known to the store (one row per sweep name; runs are counted).
public struct SweepInfo: Hashable, Sendable {
  /// Store id (what `beginSweep` returned).
  public var id: Int64
  /// Sweep name (its identity in the store).
  public var name: String
  /// One-line description from the sweep file.
  public var description: String
  /// Path of the sweep file as last given.
  public var path: String
  /// Trials currently in the sweep.
  public var trialCount: Int
  /// How many times the sweep was begun (runs and resumes).
  public var runs: Int
  /// When the latest run began.
  public var lastRunAt: Date?
  /// Provenance of the latest run.
  public var provenance: Provenance?
  /// The sweep's name in its file; `name` is `family` for the first definition stored under it
  /// and `family@N` for later ones.
  public var family: String = ""
  /// The version of the definition under `family` (1, 2, …).
  public var version: Int = 1
  /// `Sweep.definitionHash` of the definition (nil: not known yet, an older store).
  public var definitionHash: String?
  /// Whether this is its family's current definition: the one run most recently.
  public var isCurrent: Bool = true
}

/// What one worker did, for `tailsweep status`.
public struct WorkerActivity: Hashable, Sendable {
  /// Worker id.
  public var worker: String
  /// Host it last reported.
  public var host: String
  /// Leases handed to it.
  public var attempts: Int
  /// Leases it holds now.
  public var running: Int
  /// Its results that became trial results.
  public var committed: Int
  /// Its late results ignored as duplicates.
  public var duplicates: Int
  /// Its attempts that failed, timed out, crashed or were lost.
  public var failed: Int
  /// Latest start or end time of any of its attempts.
  public var lastSeen: Date?
}

/// One row of a trial's attempt history (`SweepStore.attempts`), oldest first.
public struct AttemptRecord: Hashable, Sendable {
  /// The trial.
  public var trial: TrialID
  /// Attempt number (leases and adopted results of one trial are numbered from 1).
  public var attempt: Int
  /// Worker id.
  public var worker: String
  /// The worker's host.
  public var host: String
  /// A lease handed out by a coordinator (false: a result adopted without a lease).
  public var leased: Bool
  /// When the lease was handed out (nil for adopted results).
  public var startedAt: Date?
  /// When it ended (nil while open).
  public var endedAt: Date?
  /// How it ended (nil while open).
  public var outcome: AttemptOutcome?
  /// Why it failed; for a lease declared lost whose result came later, the loss.
  public var error: String?
  /// The latest iteration the worker reported for this lease, as recorded by the coordinator
  /// (nil: none recorded, or a store without progress columns).
  public var iteration: Int? = nil
  /// The trial's iteration cap, with `iteration`.
  public var maxIterations: Int? = nil
  /// When the coordinator received that report: the last sign of life of the lease.
  public var progressAt: Date? = nil
}

/// The latest progress of one open lease, for `SweepStore.recordProgress`.
public struct AttemptProgress: Hashable, Sendable {
  /// The trial.
  public var trial: TrialID
  /// The attempt (lease) number.
  public var attempt: Int
  /// Iterations done.
  public var iteration: Int
  /// The iteration cap.
  public var maxIterations: Int
  /// When the report arrived.
  public var at: Date
  /// Creates an entry.
  public init(trial: TrialID, attempt: Int, iteration: Int, maxIterations: Int, at: Date) {
    self.trial = trial
    self.attempt = attempt
    self.iteration = iteration
    self.maxIterations = maxIterations
    self.at = at
  }
}

/// What became of a worker, as the coordinator last recorded it.
public enum WorkerLivenessState: String, Hashable, Sendable, CaseIterable {
  /// Registered and taking work.
  case active
  /// Registered, but given no work for a while (too many leases ended without a result).
  case quarantined
  /// Declared dead, exited, or the coordinator stopped.
  case gone
}

/// One worker as the coordinator last recorded it (`SweepStore.recordWorkers`): display only.
public struct WorkerLiveness: Hashable, Sendable {
  /// Worker id.
  public var worker: String
  /// The host it named when registering.
  public var host: String
  /// The slots (concurrent trials) it declared.
  public var slots: Int
  /// When it registered.
  public var registeredAt: Date
  /// When the coordinator last heard from it (heartbeat, progress or result).
  public var lastSeen: Date
  /// Its state then.
  public var state: WorkerLivenessState
  /// Creates a record.
  public init(
    worker: String, host: String, slots: Int, registeredAt: Date, lastSeen: Date,
    state: WorkerLivenessState
  ) {
    self.worker = worker
    self.host = host
    self.slots = slots
    self.registeredAt = registeredAt
    self.lastSeen = lastSeen
    self.state = state
  }
}

/// Counts of trials by state plus per-worker activity.
public struct StoreStatus: Hashable, Sendable {
  /// Trials in each state (every state present, zero when none).
  public var counts: [TrialState: Int]
  /// Per-worker rows, by worker id.
  public var workers: [WorkerActivity]

  /// Number of trials in `state`.
  public func count(_ state: TrialState) -> Int { counts[state] ?? 0 }
  /// All trials counted.
  public var total: Int { counts.values.reduce(0, +) }
}

/// When a trial ran: its first attempt's start and its current result's commit.
public struct TrialTimes: Hashable, Sendable {
  /// When its first attempt started (nil: never leased).
  public var firstStarted: Date?
  /// When its current result was committed (nil: no result).
  public var committed: Date?
  /// Creates times.
  public init(firstStarted: Date?, committed: Date?) {
    self.firstStarted = firstStarted
    self.committed = committed
  }
}
