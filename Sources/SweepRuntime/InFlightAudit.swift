import Foundation
import SweepSpec
import SweepStore

/// A lease that was running (its attempt open in the store) when a coordinator was killed.
/// `tailsweep chaos` reads them from the store right after each kill, and after the round asks
/// what became of each (`fate(attempts:delivered:workerDisabled:)`).
public struct InFlightLease: Hashable, Sendable {
  /// The trial.
  public var trial: TrialID
  /// The attempt number of the lease.
  public var attempt: Int
  /// The worker holding it (its routing id, as the store records it).
  public var worker: String
  /// When the coordinator was killed.
  public var killedAt: Date

  /// Creates a record.
  public init(trial: TrialID, attempt: Int, worker: String, killedAt: Date) {
    self.trial = trial
    self.attempt = attempt
    self.worker = worker
    self.killedAt = killedAt
  }

  /// What became of a lease that was in flight at a coordinator kill.
  public enum Fate: String, CaseIterable, Sendable {
    /// The trial's result came from this lease's worker, without a new lease: the restarted
    /// coordinator held the trial for it (or adopted the result it resent).
    case kept = "kept (committed from the lease running at the kill)"
    /// Another lease of the trial started after the kill, but the assignment had never reached
    /// the worker (the coordinator recorded the lease durably and died before sending it):
    /// nobody was computing the trial.
    case rerunNotDelivered = "rerun: the assignment never reached its worker"
    /// Another lease started after the kill, after its worker was killed, frozen or cut off.
    case rerunWorkerGone = "rerun: its worker was killed, frozen or cut off first"
    /// Another lease started after the kill while the worker that had the assignment stayed
    /// alive and reachable: work thrown away (an invariant of `tailsweep chaos`).
    case rerunLiveWorker = "rerun although its worker stayed alive (must be 0)"
    /// No new lease, but the result came from another worker (a late result of an earlier
    /// lease of the trial was verified and kept first).
    case committedElsewhere = "committed from another worker's earlier lease"
    /// No result at the end.
    case unfinished = "no result at the end"

    /// Whether this counts as a rerun.
    public var isRerun: Bool {
      self == .rerunNotDelivered || self == .rerunWorkerGone || self == .rerunLiveWorker
    }
  }

  /// One attempt row of a trial, as `fate` needs it.
  public struct Attempt: Hashable, Sendable {
    public var trial: TrialID
    public var attempt: Int
    public var worker: String
    /// A lease handed out by a coordinator (false: a result adopted without a lease).
    public var leased: Bool
    public var startedAt: Date?
    public var committed: Bool
    /// Creates a row.
    public init(
      trial: TrialID, attempt: Int, worker: String, leased: Bool, startedAt: Date?,
      committed: Bool
    ) {
      self.trial = trial
      self.attempt = attempt
      self.worker = worker
      self.leased = leased
      self.startedAt = startedAt
      self.committed = committed
    }
    /// The row of a store's attempt record.
    public init(_ r: AttemptRecord) {
      self.init(
        trial: r.trial, attempt: r.attempt, worker: r.worker, leased: r.leased,
        startedAt: r.startedAt, committed: r.outcome == .committed)
    }
  }

  /// What became of this lease, given the trial's attempt rows after the round (`attempts`,
  /// other trials' rows are ignored), whether its worker logged receiving the assignment
  /// (`delivered`), and when the chaos runner had that worker killed (to `.distantFuture`),
  /// frozen or cut off (`workerDisabled`): a rerun is legitimate when one of these periods
  /// overlaps the time from the kill to the new lease (a dead worker computes nothing; a frozen
  /// or cut-off one cannot report its lease to the restarted coordinator in time).
  ///
  /// A rerun is a `leased` attempt of the trial started after the kill (an adopted result is
  /// not a lease: it is a row with `leased` false).
  public func fate(
    attempts: [Attempt], delivered: Bool, workerDisabled: [ClosedRange<Date>]
  ) -> Fate {
    let mine = attempts.filter { $0.trial == trial }
    let rerun =
      mine
      .compactMap { a -> Date? in
        guard a.leased, let s = a.startedAt, s > killedAt else { return nil }
        return s
      }
      .min()
    if let started = rerun {
      if !delivered { return .rerunNotDelivered }
      if workerDisabled.contains(where: { $0.lowerBound <= started && $0.upperBound >= killedAt }) {
        return .rerunWorkerGone
      }
      return .rerunLiveWorker
    }
    guard let c = mine.first(where: \.committed) else { return .unfinished }
    if c.worker == worker && (c.attempt == attempt || !c.leased) { return .kept }
    return .committedElsewhere
  }
}
