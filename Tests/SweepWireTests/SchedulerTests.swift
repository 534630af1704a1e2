import SweepSpec
import Testing

@testable import SweepWire

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
  #expect(out.assigns.map(\.0) == [tid(2), tid(4), tid(3)])
  #expect(out.assigns.allSatisfy { $0.1 == 1 && $0.2 == a })
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
  #expect(out.commits.map(\.0) == [tid(1)])
  let commitIndex = out.firstIndex { if case .commit = $0 { true } else { false } }
  let ackIndex = out.firstIndex(of: .ack(Lease(trial: tid(1), attempt: 1), to: a))
  #expect(commitIndex != nil && ackIndex != nil && commitIndex! < ackIndex!)
  #expect(out.finished)
  #expect(out.contains(.shutdown(a, reason: "sweep finished")))
}

@Test func silentWorkerLosesItsLeaseWhichIsRequeuedOnce() {
  var s = Scheduler(trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: fast)
  _ = s.handle(.ready(a, ready()), now: 0)
  _ = s.handle(.ready(b, ready(0)), now: 0)
  _ = s.handle(.heartbeat(b), now: 2.5)
  // Deadline is 3 s: at 2.9 nothing happens, at 3.1 `a` is dead.
  #expect(s.handle(.tick, now: 2.9).ends.isEmpty)
  _ = s.handle(.heartbeat(b), now: 3.0)
  let out = s.handle(.tick, now: 3.1)
  #expect(out.ends.map(\.1) == [.lost])
  #expect(
    out.contains(
      .requeue(
        tid(1),
        reason: out.compactMap { if case .requeue(_, let r) = $0 { r } else { nil } }.first ?? "")))
  #expect(out.contains { if case .workerLost(a, _) = $0 { true } else { false } })
  // A second tick does not requeue again.
  #expect(s.handle(.tick, now: 3.2).ends.isEmpty)
  // The next worker with a credit gets attempt 2.
  let next = s.handle(.ready(b, ready(1, fresh: false)), now: 3.3)
  #expect(next.assigns.map { ($0.0, $0.1, $0.2) }.first! == (tid(1), 2, b))
}

@Test func lateResultFromDeadWorkerIsRecordedNotCommitted() {
  var s = Scheduler(trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: fast)
  _ = s.handle(.ready(a, ready()), now: 0)
  _ = s.handle(.ready(b, ready(0)), now: 0)
  _ = s.handle(.heartbeat(b), now: 3)
  _ = s.handle(.tick, now: 3.5)  // a declared dead
  _ = s.handle(.ready(b, ready(1, fresh: false)), now: 3.6)  // b gets attempt 2
  let late = s.handle(.result(a, resultBody(tid(1), 1)), now: 4)
  #expect(late.commits.isEmpty)
  #expect(late.duplicates.map(\.1) == [1])
  #expect(late.contains(.ack(Lease(trial: tid(1), attempt: 1), to: a)))
  #expect(late.contains(.reregister(a)))
  let good = s.handle(.result(b, resultBody(tid(1), 2)), now: 5)
  #expect(good.commits.map(\.1) == [2])
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
  #expect(resent.commits.isEmpty && resent.duplicates.isEmpty)
  #expect(resent.contains(.ack(Lease(trial: tid(1), attempt: 1), to: a)))
  // Another worker claims the committed trial with another attempt: a duplicate.
  let other = s.handle(.result(b, resultBody(tid(1), 7)), now: 2)
  #expect(other.commits.isEmpty)
  #expect(other.duplicates.map(\.1) == [7])
}

@Test func failingTrialStopsAtTheRetryCapWithTheLastError() {
  var s = Scheduler(
    trials: [SchedulerTrial(id: tid(1), cost: 1, previousAttempts: 2)],
    settings: SchedulerSettings(
      heartbeatInterval: 1, liveness: 3, maxAttempts: 2, trialTimeout: 100))
  var out = s.handle(.ready(a, ready()), now: 0)
  #expect(out.assigns.first?.1 == 3)  // numbering continues after the stored attempts
  out = s.handle(.result(a, resultBody(tid(1), 3, nil, error: "boom 1")), now: 1)
  #expect(out.ends.map(\.1) == [.failed])
  #expect(out.failures.isEmpty)
  out = s.handle(.ready(a, ready(1, fresh: false)), now: 1)
  #expect(out.assigns.first?.1 == 4)
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
  for t in stride(from: 1.0, through: 5.0, by: 1.0) {
    _ = s.handle(.heartbeat(a), now: t)
    #expect(s.handle(.tick, now: t).ends.isEmpty)
  }
  _ = s.handle(.heartbeat(a), now: 5.5)
  let out = s.handle(.tick, now: 5.5)
  #expect(out.contains(.cancel(Lease(trial: tid(1), attempt: 1), worker: a)))
  #expect(out.ends.map(\.1) == [.timedOut])
  #expect(s.pendingTrials == [tid(1)])
  // The cancelled result that follows is acked, not recorded.
  var cancelled = sampleResult(.cancelled)
  cancelled.compression = nil
  let late = s.handle(.result(a, resultBody(tid(1), 1, cancelled)), now: 6)
  #expect(late.duplicates.isEmpty && late.commits.isEmpty)
  // The worker grants its slot back and gets attempt 2.
  let again = s.handle(.ready(a, ready(1, fresh: false)), now: 6.1)
  #expect(again.assigns.first?.1 == 2)
}

@Test func crashedWorkerProcessEndsItsAttemptAtOnce() {
  var s = Scheduler(trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: fast)
  _ = s.handle(.ready(a, ready()), now: 0)
  let out = s.handle(.workerExited(a, reason: "signal 9"), now: 0.1)
  #expect(out.ends.map(\.1) == [.crashed])
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
  #expect(out.ends.allSatisfy { $0.1 == .lost })
  #expect(out.contains(.shutdown(a, reason: "interrupted")))
  #expect(out.contains(.shutdown(b, reason: "interrupted")))
  #expect(out.finished)
  #expect(out.commits.isEmpty)
  // Nothing is assigned or committed afterwards.
  let late = s.handle(.result(a, resultBody(tid(1), 1)), now: 2)
  #expect(late.commits.isEmpty)
  #expect(s.handle(.ready(a, ready()), now: 2).assigns.isEmpty)
}

@Test func unknownWorkerIsAskedToRegisterAgain() {
  var s = Scheduler(trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: fast)
  #expect(s.handle(.heartbeat(a), now: 0) == [.reregister(a)])
  #expect(s.handle(.ready(a, ready(1, fresh: false)), now: 0) == [.reregister(a)])
}

@Test func repeatedRegistrationDoesNotDoubleCredits() {
  var s = Scheduler(
    trials: [SchedulerTrial(id: tid(1), cost: 1), SchedulerTrial(id: tid(2), cost: 1)],
    settings: fast)
  #expect(s.handle(.ready(a, ready()), now: 0).assigns.count == 1)
  // A second registration written before the assign arrived: no second trial.
  #expect(s.handle(.ready(a, ready()), now: 0.1).assigns.isEmpty)
  // Registration that lists the lease as running and 0 free slots: still nothing.
  #expect(
    s.handle(
      .ready(
        a, ready(0, running: [Lease(trial: tid(2), attempt: 1), Lease(trial: tid(1), attempt: 1)])),
      now: 0.2
    ).assigns.isEmpty)
}

@Test func heartbeatsAreSentEveryInterval() {
  var s = Scheduler(trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: fast)
  _ = s.handle(.ready(a, ready(0)), now: 0)
  #expect(!s.handle(.tick, now: 0.5).contains(.heartbeat(a)))
  #expect(s.handle(.tick, now: 1.0).contains(.heartbeat(a)))
  #expect(!s.handle(.tick, now: 1.5).contains(.heartbeat(a)))
}
