import SweepSpec
import Testing

@testable import SweepWire

// The protocol-1 scheduler tests, ported to protocol 2. Where a rule changed, the comment at
// the changed expectation says how.

let a = WorkerID("a")
let b = WorkerID("b")

@Test func widestTrialsAreHandedOutFirst() {
  var s = Scheduler(
    trials: [
      SchedulerTrial(id: tid(1), cost: 1), SchedulerTrial(id: tid(2), cost: 8),
      SchedulerTrial(id: tid(3), cost: 4), SchedulerTrial(id: tid(4), cost: 8),
    ], settings: fast)
  #expect(s.pendingTrials == [tid(2), tid(4), tid(3), tid(1)])
  let out = s.handle(.ready(a, ready(3)), now: 0)
  #expect(out.assigns.map(\.lease.trial) == [tid(2), tid(4), tid(3)])
  #expect(out.assigns.allSatisfy { $0.lease.attempt == 1 && $0.worker == a && !$0.resend })
  // Protocol 2: every assignment carries the next sequence number of this epoch.
  #expect(out.assigns.map(\.seq) == [1, 2, 3])
}

@Test func noWorkIsPushedWithoutCredits() {
  var s = Scheduler(trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: fast)
  #expect(s.handle(.ready(a, ready(0)), now: 0).assigns.isEmpty)
  #expect(s.handle(.ready(a, ready(1, fresh: false)), now: 0.1).assigns.count == 1)
}

@Test func resultOfCurrentLeaseIsCommittedAndAcked() {
  var s = Scheduler(trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: fast)
  _ = s.handle(.ready(a, ready()), now: 0)
  let out = s.handle(.result(a, resultBody(tid(1), 1)), now: 1)
  #expect(out.commitLeases == [lease(tid(1), 1)])
  let commitIndex = out.index(isCommit)
  let ackIndex = out.firstIndex(of: .ack(lease(tid(1), 1), to: a))
  #expect(commitIndex != nil && ackIndex != nil && commitIndex! < ackIndex!)
  #expect(out.finished)
  #expect(out.contains(.shutdown(a, reason: "sweep finished", hold: false)))
}

@Test func silentWorkerLosesItsLeaseWhichIsRequeuedOnce() {
  var s = Scheduler(trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: fast)
  _ = s.handle(.ready(a, ready()), now: 0)
  _ = s.handle(.ready(b, ready(0)), now: 0)
  _ = s.handle(.heartbeat(b, state(0)), now: 2.5)
  // Deadline is 3 s: at 2.9 nothing happens, at 3.1 `a` is dead. Protocol 2: silence only
  // counts on a drained tick.
  #expect(s.handle(.tick(drained: true), now: 2.9).ends.isEmpty)
  _ = s.handle(.heartbeat(b, state(0)), now: 3.0)
  let out = s.handle(.tick(drained: true), now: 3.1)
  #expect(out.outcomes == [.lost])
  #expect(out.requeues == [tid(1)])
  #expect(out.lostWorkers == [a])
  // A second tick does not requeue again.
  let again = s.handle(.tick(drained: true), now: 3.2)
  #expect(again.ends.isEmpty && again.requeues.isEmpty)
  // The next worker with a credit gets attempt 2.
  let next = s.handle(.ready(b, ready(1, fresh: false)), now: 3.3)
  #expect(next.newLeases == [lease(tid(1), 2)])
  #expect(next.assigns.first?.worker == b)
}

@Test func lateResultFromDeadWorkerIsCommittedAndReplacesTheNewLease() {
  var s = Scheduler(trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: fast)
  _ = s.handle(.ready(a, ready()), now: 0)
  _ = s.handle(.ready(b, ready(0)), now: 0)
  _ = s.handle(.heartbeat(b, state(0)), now: 3)
  _ = s.handle(.tick(drained: true), now: 3.5)  // a declared dead
  #expect(s.handle(.ready(b, ready(1, fresh: false)), now: 3.6).newLeases == [lease(tid(1), 2)])
  // Rule change (protocol 2): a verified result for a trial without a result is committed,
  // whatever lease it came from (protocol 1 recorded it as a duplicate). It keeps its own
  // attempt number (issued in this run to `a`), b's lease is cancelled and ends as lost, and
  // `a`, no longer known, is told to register (reject unknown_worker replaces `reregister`).
  let late = s.handle(.result(a, resultBody(tid(1), 1)), now: 4)
  #expect(late.commitLeases == [lease(tid(1), 1)])
  #expect(late.commits.first?.worker == a)
  #expect(late.contains(.cancel(lease(tid(1), 2), worker: b)))
  #expect(late.ends.map(\.lease) == [lease(tid(1), 2)])
  #expect(late.outcomes == [.lost])
  #expect(late.contains(.ack(lease(tid(1), 1), to: a)))
  #expect(late.rejects.map(\.worker) == [a])
  #expect(late.rejectCodes == [.unknownWorker])
  #expect(late.finished)
  // b's result that follows is now the duplicate.
  let second = s.handle(.result(b, resultBody(tid(1), 2)), now: 5)
  #expect(second.commits.isEmpty)
  #expect(second.duplicates == [lease(tid(1), 2)])
  #expect(second.acks == [lease(tid(1), 2)])
}

@Test func duplicateResultAfterCommitIsRecordedNotCommitted() {
  var s = Scheduler(
    trials: [SchedulerTrial(id: tid(1), cost: 1), SchedulerTrial(id: tid(2), cost: 1)],
    settings: fast)
  _ = s.handle(.ready(a, ready()), now: 0)
  _ = s.handle(.ready(b, ready()), now: 0)
  #expect(s.handle(.result(a, resultBody(tid(1), 1)), now: 1).commits.count == 1)
  // The same lease resent (ack lost): acked again, nothing recorded.
  let resent = s.handle(.result(a, resultBody(tid(1), 1)), now: 1.5)
  #expect(resent.commits.isEmpty && resent.ends.isEmpty)
  #expect(resent.contains(.ack(lease(tid(1), 1), to: a)))
  // Another worker claims the committed trial with another attempt: a duplicate (an
  // `endAttempt(.duplicate)`, which replaces protocol 1's `recordDuplicate`).
  let other = s.handle(.result(b, resultBody(tid(1), 7)), now: 2)
  #expect(other.commits.isEmpty)
  #expect(other.duplicates == [lease(tid(1), 7)])
  #expect(other.acks == [lease(tid(1), 7)])
}

@Test func failingTrialStopsAtTheRetryCapWithTheLastError() {
  var s = Scheduler(
    trials: [SchedulerTrial(id: tid(1), cost: 1, previousAttempts: 2)],
    settings: SchedulerSettings(
      heartbeatInterval: 1, liveness: 3, maxAttempts: 2, trialTimeout: 100))
  var out = s.handle(.ready(a, ready()), now: 0)
  #expect(out.newLeases == [lease(tid(1), 3)])  // numbering continues after the stored attempts
  // Protocol 2: credits come from the worker's reports; it reports its slot taken.
  _ = s.handle(.heartbeat(a, state(0, running: [lease(tid(1), 3)], seen: 1)), now: 0.5)
  out = s.handle(.result(a, resultBody(tid(1), 3, nil, error: "boom 1")), now: 1)
  #expect(out.outcomes == [.failed])
  #expect(out.ends.first?.error == "boom 1")
  #expect(out.failures.isEmpty)
  #expect(out.requeues == [tid(1)])
  #expect(out.assigns.isEmpty)  // its last report said no free slot
  out = s.handle(.ready(a, ready(1, fresh: false, seen: 1)), now: 1)
  #expect(out.newLeases == [lease(tid(1), 4)])
  out = s.handle(.result(a, resultBody(tid(1), 4, nil, error: "boom 2")), now: 2)
  #expect(out.failures == [tid(1)])
  #expect(out.contains { if case .fail(_, let e) = $0 { e.contains("boom 2") } else { false } })
  #expect(out.finished)
  #expect(s.failedCount == 1)
}

@Test func attemptPastTheWallTimeLimitIsCancelledAndRequeued() {
  var s = Scheduler(
    trials: [SchedulerTrial(id: tid(1), cost: 1)],
    settings: SchedulerSettings(heartbeatInterval: 1, liveness: 3, maxAttempts: 3, trialTimeout: 5))
  _ = s.handle(.ready(a, ready()), now: 0)
  let running = state(0, running: [lease(tid(1), 1)], seen: 1)
  for t in stride(from: 1.0, through: 5.0, by: 1.0) {
    _ = s.handle(.heartbeat(a, running), now: t)
    #expect(s.handle(.tick(drained: true), now: t).ends.isEmpty)
  }
  _ = s.handle(.heartbeat(a, running), now: 5.5)
  let out = s.handle(.tick(drained: true), now: 5.5)
  #expect(out.contains(.cancel(lease(tid(1), 1), worker: a)))
  #expect(out.outcomes == [.timedOut])
  #expect(s.pendingTrials == [tid(1)])
  // The cancelled result that follows is acked, not recorded.
  let late = s.handle(.result(a, resultBody(tid(1), 1, sampleResult(.cancelled))), now: 6)
  #expect(late.ends.isEmpty && late.commits.isEmpty)
  #expect(late.acks == [lease(tid(1), 1)])
  // The worker grants its slot back and gets attempt 2 (no other worker could take it).
  let again = s.handle(.ready(a, ready(1, fresh: false, seen: 1)), now: 6.1)
  #expect(again.newLeases == [lease(tid(1), 2)])
}

@Test func crashedWorkerProcessEndsItsAttemptAtOnce() {
  var s = Scheduler(trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: fast)
  _ = s.handle(.ready(a, ready()), now: 0)
  let out = s.handle(.workerExited(a, reason: "signal 9"), now: 0.1)
  #expect(out.outcomes == [.crashed])
  #expect(out.lostWorkers == [a])
  #expect(s.pendingTrials == [tid(1)])
}

@Test func shutdownWithTrialsInFlightEndsThemAndStopsWorkers() {
  var s = Scheduler(
    trials: [
      SchedulerTrial(id: tid(1), cost: 2), SchedulerTrial(id: tid(2), cost: 1),
      SchedulerTrial(id: tid(3), cost: 0),
    ],
    settings: fast)
  _ = s.handle(.ready(a, ready()), now: 0)
  _ = s.handle(.ready(b, ready()), now: 0)
  let out = s.handle(.shutdown(reason: "interrupted"), now: 1)
  #expect(out.ends.count == 2)
  #expect(out.outcomes.allSatisfy { $0 == .lost })
  #expect(out.contains(.shutdown(a, reason: "interrupted", hold: false)))
  #expect(out.contains(.shutdown(b, reason: "interrupted", hold: false)))
  #expect(out.finished)
  #expect(out.commits.isEmpty && out.acks.isEmpty)
  // Nothing is assigned afterwards. (Rule change: a late verified result would now be
  // committed, like any result for a trial without one; the coordinator loop stops reading
  // at `finished`, so it is not fed one here.)
  #expect(s.handle(.ready(a, ready()), now: 2).assigns.isEmpty)
  #expect(s.handle(.tick(drained: true), now: 3).assigns.isEmpty)
}

@Test func unknownWorkerIsAskedToRegisterAgain() {
  var s = Scheduler(trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: fast)
  // Protocol 2: `reject(unknown_worker)` replaces the `reregister` action.
  let hb = s.handle(.heartbeat(a, state(1)), now: 0)
  #expect(hb.count == 1 && hb.rejectCodes == [.unknownWorker] && hb.rejects.first?.worker == a)
  let bare = s.handle(.heartbeat(a, nil), now: 0)
  #expect(bare.count == 1 && bare.rejectCodes == [.unknownWorker])
  let grant = s.handle(.ready(a, ready(1, fresh: false)), now: 0)
  #expect(grant.count == 1 && grant.rejectCodes == [.unknownWorker])
  let progress = s.handle(
    .progress(
      a, ProgressBody(lease: lease(tid(1), 1), iteration: 1, maxIterations: 2, trainAccuracy: nil)),
    now: 0)
  #expect(progress.count == 1 && progress.rejectCodes == [.unknownWorker])
  #expect(s.liveWorkers.isEmpty)
}

@Test func repeatedRegistrationDoesNotDoubleCredits() {
  var s = Scheduler(
    trials: [SchedulerTrial(id: tid(1), cost: 1), SchedulerTrial(id: tid(2), cost: 1)],
    settings: fast)
  #expect(s.handle(.ready(a, ready()), now: 0).assigns.count == 1)
  // A second registration written before the assign arrived (seen 0): no second trial.
  #expect(s.handle(.ready(a, ready()), now: 0.1).assigns.isEmpty)
  // Registration that lists the lease as running and 0 free slots: still nothing. Protocol 2:
  // the lease it lists that the coordinator never gave it is cancelled.
  let out = s.handle(
    .ready(a, ready(0, running: [lease(tid(2), 1), lease(tid(1), 1)], slots: 1, seen: 1)),
    now: 0.2)
  #expect(out.assigns.isEmpty)
  #expect(out.cancels == [lease(tid(2), 1)])
  #expect(s.leases(of: a) == [lease(tid(1), 1)])
}

@Test func heartbeatsAreSentEveryInterval() {
  var s = Scheduler(trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: fast)
  _ = s.handle(.ready(a, ready(0)), now: 0)
  #expect(!s.handle(.tick(drained: true), now: 0.5).contains(.heartbeat(a)))
  #expect(s.handle(.tick(drained: true), now: 1.0).contains(.heartbeat(a)))
  #expect(!s.handle(.tick(drained: true), now: 1.5).contains(.heartbeat(a)))
}
