import Foundation
import SweepRuntime
import SweepSpec
import Testing

/// What `tailsweep chaos` makes of a lease in flight at a coordinator kill
/// (`InFlightLease.fate`), one case per fate.
@Suite struct InFlightAuditTests {
  static let trial = TrialID(hex: String(repeating: "ab", count: 32))!
  static let other = TrialID(hex: String(repeating: "cd", count: 32))!
  static let kill = Date(timeIntervalSince1970: 1000)
  static let lease = InFlightLease(trial: trial, attempt: 3, worker: "chaos-0-2", killedAt: kill)

  static func row(
    _ attempt: Int, _ worker: String, leased: Bool = true, at: Double?, committed: Bool = false,
    trial: TrialID = trial
  ) -> InFlightLease.Attempt {
    InFlightLease.Attempt(
      trial: trial, attempt: attempt, worker: worker, leased: leased,
      startedAt: at.map { Date(timeIntervalSince1970: $0) }, committed: committed)
  }

  /// The lease's own row, closed `lost` by the restarted coordinator.
  static let own = row(3, "chaos-0-2", at: 990)

  @Test func heldAndAdoptedIsKept() {
    // The restarted coordinator held the trial; the worker's result came under a fresh,
    // non-leased attempt number.
    let rows = [Self.own, Self.row(4, "chaos-0-2", leased: false, at: nil, committed: true)]
    #expect(Self.lease.fate(attempts: rows, delivered: true, workerDisabled: []) == .kept)
    // Committed under the lease's own number (the store turned the lost row into committed).
    let same = [Self.row(3, "chaos-0-2", at: 990, committed: true)]
    #expect(Self.lease.fate(attempts: same, delivered: true, workerDisabled: []) == .kept)
  }

  @Test func aNewLeaseAfterTheKillIsARerun() {
    let rows = [Self.own, Self.row(4, "chaos-1-3", at: 1005, committed: true)]
    #expect(
      Self.lease.fate(attempts: rows, delivered: true, workerDisabled: []) == .rerunLiveWorker)
    // Also when the same worker gets the new lease: it computes the trial again.
    let again = [Self.own, Self.row(4, "chaos-0-2", at: 1005, committed: true)]
    #expect(
      Self.lease.fate(attempts: again, delivered: true, workerDisabled: []) == .rerunLiveWorker)
    // Other trials' rows do not count.
    let elsewhere = [
      Self.own, Self.row(5, "chaos-1-3", at: 1005, trial: Self.other),
      Self.row(4, "chaos-0-2", leased: false, at: nil, committed: true),
    ]
    #expect(Self.lease.fate(attempts: elsewhere, delivered: true, workerDisabled: []) == .kept)
  }

  @Test func legitimateReruns() {
    let rows = [Self.own, Self.row(4, "chaos-1-3", at: 1005, committed: true)]
    // The worker never logged the assignment: nobody computed the trial.
    #expect(
      Self.lease.fate(attempts: rows, delivered: false, workerDisabled: []) == .rerunNotDelivered)
    func at(_ t: Double) -> Date { Date(timeIntervalSince1970: t) }
    // The worker was killed before the new lease (after the coordinator kill, or before it).
    for t in [1002.0, 995] {
      #expect(
        Self.lease.fate(
          attempts: rows, delivered: true, workerDisabled: [at(t)...Date.distantFuture])
          == .rerunWorkerGone)
    }
    // Frozen (or cut off) over part of the time from the kill to the new lease.
    #expect(
      Self.lease.fate(attempts: rows, delivered: true, workerDisabled: [at(990)...at(1001)])
        == .rerunWorkerGone)
    // …but not when it was frozen only before the kill, or killed only after the new lease.
    for period in [at(990)...at(999), at(1010)...Date.distantFuture] {
      #expect(
        Self.lease.fate(attempts: rows, delivered: true, workerDisabled: [period])
          == .rerunLiveWorker)
    }
  }

  @Test func committedElsewhereOrUnfinished() {
    // Another worker's late result of an earlier lease, no new lease.
    let rows = [Self.own, Self.row(2, "chaos-1-1", at: 980, committed: true)]
    #expect(
      Self.lease.fate(attempts: rows, delivered: true, workerDisabled: []) == .committedElsewhere)
    #expect(
      Self.lease.fate(attempts: [Self.own], delivered: true, workerDisabled: []) == .unfinished)
    #expect(InFlightLease.Fate.allCases.filter(\.isRerun).count == 3)
  }
}
