import Foundation
import SweepSpec
import TailNet
import Testing

@testable import SweepWire

// One test per protocol-2 scheduler rule, each with explicit times.

// MARK: Result verification

/// Feeds `result` for a's current lease of `rid(1)` and checks the refusal rule: reject
/// invalid_result naming the lease, the attempt ends as failed, no commit, no ack, requeued.
private func expectInvalidResultRefused(_ body: ResultBody, mentions field: String) {
  var s = Scheduler(trials: [realTrial(1)], settings: fast)
  #expect(s.handle(.ready(a, ready()), now: 0).newLeases == [lease(rid(1), 1)])
  let out = s.handle(.result(a, body), now: 1)
  #expect(out.commits.isEmpty)
  #expect(out.acks.isEmpty)
  #expect(out.rejects.map(\.worker) == [a])
  #expect(out.rejectCodes == [.invalidResult])
  #expect(out.rejects.first?.body.lease == lease(rid(1), 1))
  #expect(out.rejects.first?.body.message.contains(field) == true)
  #expect(out.ends.map(\.lease) == [lease(rid(1), 1)])
  #expect(out.outcomes == [.failed])
  #expect(out.requeues == [rid(1)])
  // Requeued: the worker's slot is free again, so attempt 2 follows at once.
  #expect(out.newLeases == [lease(rid(1), 2)])
  #expect(s.doneCount == 0)
}

@Test func resultWithNonFiniteWallSecondsIsRefused() {
  var r = sampleResult(config: config(1))
  r.training.wallSeconds = .infinity
  expectInvalidResultRefused(resultBody(rid(1), 1, r), mentions: "training.wallSeconds is inf")
  r.training.wallSeconds = .nan
  expectInvalidResultRefused(resultBody(rid(1), 1, r), mentions: "training.wallSeconds is nan")
}

@Test func resultWithNaNAccuracyOnTheWireIsRefused() throws {
  // The frames as a worker would send them: the accuracy is NaN (the binary encoding carries
  // any IEEE value, so the check is the scheduler's, after decoding).
  var r = sampleResult(config: config(1))
  r.training.final?.testAccuracy = .nan
  let sent = WireCodec.encode(.result(resultBody(rid(1), 1, r)))
  guard case .result(let body) = try WireCodec.decode(sent) else {
    Issue.record("not a result")
    return
  }
  #expect(body.result?.training.final?.testAccuracy.isNaN == true)
  expectInvalidResultRefused(body, mentions: "training.final.testAccuracy is nan")
}

@Test func resultWhoseConfigHashesToAnotherTrialIsWrongWork() {
  var s = Scheduler(trials: [realTrial(1, cost: 2), realTrial(2, cost: 1)], settings: fast)
  #expect(s.handle(.ready(a, ready()), now: 0).newLeases == [lease(rid(1), 1)])
  // A result for another pending trial's id (not a's lease) carrying trial 1's config.
  let foreign = s.handle(.result(a, resultBody(rid(2), 1, sampleResult(config: config(1)))), now: 1)
  #expect(foreign.commits.isEmpty && foreign.acks.isEmpty)
  #expect(foreign.rejectCodes == [.wrongWork])
  #expect(foreign.rejects.first?.body.lease == lease(rid(2), 1))
  #expect(foreign.ends.isEmpty)  // not a's lease: nothing to end
  #expect(s.pendingTrials == [rid(2)])
  #expect(s.lease(of: rid(1))?.0 == lease(rid(1), 1))
  // a's own lease, carrying trial 2's config.
  let out = s.handle(.result(a, resultBody(rid(1), 1, sampleResult(config: config(2)))), now: 2)
  #expect(out.commits.isEmpty && out.acks.isEmpty)
  #expect(out.rejectCodes == [.wrongWork])
  let message = out.rejects.first?.body.message ?? ""
  #expect(message.contains(rid(2).short) && message.contains(rid(1).short))
  #expect(out.ends.map(\.lease) == [lease(rid(1), 1)])
  #expect(out.outcomes == [.failed])
  #expect(out.requeues == [rid(1)])
  #expect(s.doneCount == 0)
}

@Test func resultWithOtherDataIsWrongDataAndDropsTheWorker() {
  var settings = fast
  settings.datasetHashes = ["synthetic": "aaaa1111"]
  var s = Scheduler(trials: [realTrial(1)], settings: settings)
  _ = s.handle(.ready(a, ready(host: "node7")), now: 0)
  let r = sampleResult(config: config(1), datasetHash: "bbbb2222")
  let out = s.handle(.result(a, resultBody(rid(1), 1, r)), now: 1)
  #expect(out.commits.isEmpty && out.acks.isEmpty)
  let wrong = out.rejects.first { $0.body.code == .wrongData }
  #expect(wrong?.worker == a)
  #expect(wrong?.body.lease == lease(rid(1), 1))
  let message = wrong?.body.message ?? ""
  for part in ["node7", "synthetic", "aaaa1111", "bbbb2222"] {
    #expect(message.contains(part), "message should name \(part): \(message)")
  }
  #expect(out.outcomes == [.failed])
  #expect(out.lostWorkers == [a])
  #expect(s.liveWorkers.isEmpty)
  #expect(s.pendingTrials == [rid(1)])
  // A matching hash is committed.
  var t = Scheduler(trials: [realTrial(1)], settings: settings)
  _ = t.handle(.ready(a, ready()), now: 0)
  let ok = sampleResult(config: config(1), datasetHash: "aaaa1111")
  #expect(t.handle(.result(a, resultBody(rid(1), 1, ok)), now: 1).commitLeases.count == 1)
}

@Test func nullResultToARealCoordinatorIsRefused() {
  var s = Scheduler(trials: [realTrial(1)], settings: fast)
  _ = s.handle(.ready(a, ready()), now: 0)
  let out = s.handle(.result(a, resultBody(rid(1), 1, nullResult(config: config(1)))), now: 1)
  #expect(out.commits.isEmpty && out.acks.isEmpty)
  #expect(out.rejectCodes == [.invalidResult])
  #expect(out.rejects.first?.body.lease == lease(rid(1), 1))
  #expect(out.outcomes == [.failed])
  // And the other way round: a real result to a null-trial coordinator.
  var nullSettings = fast
  nullSettings.nullTrials = true
  var n = Scheduler(trials: [realTrial(1)], settings: nullSettings)
  _ = n.handle(.ready(a, ready(nullTrials: true)), now: 0)
  let real = n.handle(.result(a, resultBody(rid(1), 1, sampleResult(config: config(1)))), now: 1)
  #expect(real.commits.isEmpty && real.rejectCodes == [.invalidResult])
  // A null result there is committed.
  _ = n.handle(.ready(a, ready(1, fresh: false, seen: 1, nullTrials: true)), now: 2)
  let null = n.handle(.result(a, resultBody(rid(1), 2, nullResult(config: config(1)))), now: 3)
  #expect(null.commitLeases == [lease(rid(1), 2)])
}

@Test func nullTrialWorkerIsRefusedByARealCoordinator() {
  var s = Scheduler(trials: [realTrial(1)], settings: fast)
  let out = s.handle(.ready(a, ready(nullTrials: true)), now: 0)
  #expect(out.count == 1)
  #expect(out.rejectCodes == [.modeMismatch])
  #expect(out.rejects.first?.body.code.isFatal == true)
  #expect(out.assigns.isEmpty)
  #expect(s.liveWorkers.isEmpty)
  // A known worker that comes back in the other mode loses its lease and is forgotten.
  #expect(s.handle(.ready(b, ready()), now: 1).newLeases == [lease(rid(1), 1)])
  let switched = s.handle(.ready(b, ready(nullTrials: true)), now: 2)
  #expect(switched.rejectCodes == [.modeMismatch])
  #expect(switched.outcomes == [.lost])
  #expect(switched.assigns.isEmpty)
  #expect(s.liveWorkers.isEmpty)
  #expect(s.pendingTrials == [rid(1)])
}

@Test func oversizedResultEndsTheAttemptAsFailed() {
  var s = Scheduler(trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: fast)
  _ = s.handle(.ready(a, ready()), now: 0)
  let out = s.handle(.oversizedResult(a, lease(tid(1), 1), size: 5_000_000), now: 1)
  #expect(out.commits.isEmpty && out.acks.isEmpty)
  #expect(out.outcomes == [.failed])
  let error = out.ends.first?.error ?? ""
  #expect(error.contains("5000000") && error.contains("\(wireMaxResultBody)"))
  #expect(out.rejectCodes == [.tooLarge])
  #expect(out.rejects.first?.body.lease == lease(tid(1), 1))
  #expect(out.requeues == [tid(1)])
  // Without a readable lease: refused, nothing ended.
  let blind = s.handle(.oversizedResult(a, nil, size: 5_000_000), now: 2)
  #expect(blind.ends.isEmpty && blind.rejectCodes == [.tooLarge])
}

// MARK: Hoarding and quarantine

@Test func workerNeverHoldsMoreLeasesThanItsSlots() {
  var s = Scheduler(
    trials: (1...3).map { SchedulerTrial(id: tid($0), cost: 1) }, settings: fast)
  // One slot declared, 64 credits claimed.
  let out = s.handle(.ready(a, ready(64, slots: 1)), now: 0)
  #expect(out.newLeases == [lease(tid(1), 1)])
  let hb = s.handle(.heartbeat(a, state(64, running: [lease(tid(1), 1)], seen: 1)), now: 0.5)
  #expect(hb.assigns.isEmpty)
  let again = s.handle(
    .ready(a, ready(64, running: [lease(tid(1), 1)], slots: 1, seen: 1)), now: 0.6)
  #expect(again.newLeases.isEmpty)
  #expect(s.leases(of: a).count == 1)
  #expect(s.available(a, now: 1) == 0)
  // Two slots: two leases, however many credits.
  #expect(s.handle(.ready(b, ready(64, slots: 2)), now: 1).newLeases.count == 2)
}

@Test func workerWhoseLeasesTimeOutTwiceIsQuarantined() {
  var s = Scheduler(
    trials: [SchedulerTrial(id: tid(1), cost: 2), SchedulerTrial(id: tid(2), cost: 1)],
    settings: patient(trialTimeout: 5))
  #expect(s.handle(.ready(a, ready()), now: 0).newLeases == [lease(tid(1), 1)])
  // First timeout: a strike; a free slot takes the trial it does not avoid.
  var out = s.handle(.tick(drained: true), now: 5.5)
  #expect(out.outcomes == [.timedOut])
  #expect(out.quarantines.isEmpty)
  #expect(out.newLeases == [lease(tid(2), 1)])
  // Second timeout in a row: quarantined for one trial timeout.
  out = s.handle(.tick(drained: true), now: 11)
  #expect(out.outcomes == [.timedOut])
  #expect(out.quarantines.map(\.worker) == [a])
  #expect(out.quarantines.first?.until == 16)
  #expect(out.assigns.isEmpty)
  #expect(s.isQuarantined(a, now: 12))
  #expect(s.available(a, now: 12) == 0)
  #expect(s.handle(.heartbeat(a, state(1, seen: 2)), now: 12).assigns.isEmpty)
  // After the quarantine, nobody else can take the trials: back to a.
  out = s.handle(.heartbeat(a, state(1, seen: 2)), now: 16.5)
  #expect(!s.isQuarantined(a, now: 16.5))
  #expect(out.newLeases == [lease(tid(1), 2)])
}

@Test func timedOutTrialGoesToAnotherFreeWorkerFirst() {
  var s = Scheduler(
    trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: patient(trialTimeout: 5))
  #expect(s.handle(.ready(a, ready()), now: 0).newLeases == [lease(tid(1), 1)])
  #expect(s.handle(.ready(b, ready()), now: 1).assigns.isEmpty)
  // Both a and b have a free slot when the lease times out; a comes first in order but the
  // trial avoids it.
  let out = s.handle(.tick(drained: true), now: 5.5)
  #expect(out.contains(.cancel(lease(tid(1), 1), worker: a)))
  #expect(out.outcomes == [.timedOut])
  #expect(out.assigns.map(\.worker) == [b])
  #expect(out.newLeases == [lease(tid(1), 2)])
  #expect(s.avoids(tid(1), a))
}

// MARK: Credit reconciliation

@Test func stateReportsReconcileLeasesBySequenceNumber() {
  var s = Scheduler(
    trials: [SchedulerTrial(id: tid(1), cost: 2), SchedulerTrial(id: tid(2), cost: 1)],
    settings: patient())
  let l1 = lease(tid(1), 1)
  let first = s.handle(.ready(a, ready()), now: 0)
  #expect(first.assigns == [Assigned(lease: l1, worker: a, seq: 1, resend: false)])
  // seen 0 < seq 1: in flight, not lost; and not resent before an interval.
  var out = s.handle(.heartbeat(a, state(1, seen: 0)), now: 0.5)
  #expect(out.ends.isEmpty && out.assigns.isEmpty)
  // Still unseen after an interval: resent (same seq, nothing to record).
  out = s.handle(.heartbeat(a, state(1, seen: 0)), now: 1.0)
  #expect(out.ends.isEmpty)
  #expect(out.assigns == [Assigned(lease: l1, worker: a, seq: 1, resend: true)])
  out = s.handle(.heartbeat(a, state(1, seen: 0)), now: 1.5)
  #expect(out.assigns.isEmpty)
  out = s.handle(.heartbeat(a, state(1, seen: 0)), now: 2.0)
  #expect(out.assigns == [Assigned(lease: l1, worker: a, seq: 1, resend: true)])
  #expect(s.leases(of: a) == [l1])
  #expect(s.runningCount == 1)
  // A seen number from another coordinator epoch does not count.
  out = s.handle(.heartbeat(a, state(1, seen: 9, epoch: 77)), now: 2.1)
  #expect(out.ends.isEmpty)
  // Seen and held: nothing to do.
  out = s.handle(.heartbeat(a, state(0, running: [l1], seen: 1)), now: 2.2)
  #expect(out.isEmpty || out.allSatisfy { if case .heartbeat = $0 { true } else { false } })
  // Seen (seen ≥ seq) but no longer listed: lost and requeued; the same report's free slot
  // gets new work at once (the trial it does not avoid).
  out = s.handle(.heartbeat(a, state(1, seen: 1)), now: 3)
  #expect(out.ends.map(\.lease) == [l1])
  #expect(out.outcomes == [.lost])
  #expect(out.requeues == [tid(1)])
  #expect(out.assigns == [Assigned(lease: lease(tid(2), 1), worker: a, seq: 2, resend: false)])
  #expect(s.pendingTrials == [tid(1)])
  // Over the whole exchange, l1 was recorded (assigned without resend) once.
  #expect(s.leases(of: a) == [lease(tid(2), 1)])
}

// MARK: Restart

@Test func resultOfAnEarlierRunIsCommittedUnderAFreshAttempt() {
  var s = Scheduler(trials: [realTrial(1, previousAttempts: 2)], settings: fast)
  let r = sampleResult(config: config(1))
  let w = WorkerID("returning")
  let out = s.handle(.result(w, resultBody(rid(1), 1, r)), now: 0)
  #expect(out.commits.map(\.lease) == [lease(rid(1), 3)])
  #expect(out.commits.first?.worker == w)
  #expect(out.commits.first?.result == r)
  #expect(out.acks == [lease(rid(1), 1)])
  let commitIndex = out.index(isCommit) ?? .max
  let ackIndex = out.index(isAck) ?? -1
  #expect(commitIndex < ackIndex)
  #expect(out.rejects.map(\.worker) == [w])
  #expect(out.rejectCodes == [.unknownWorker])
  #expect(out.finished)
  #expect(s.doneCount == 1)
}

@Test func leaseOfAnEarlierRunIsHeldWhileItsWorkerReportsIt() {
  var s = Scheduler(trials: [realTrial(1, previousAttempts: 2)], settings: fast)
  let old = lease(rid(1), 2)
  // a registers still computing attempt 2 (of the previous coordinator), with a slot free.
  var out = s.handle(.ready(a, ready(1, running: [old], slots: 2)), now: 0)
  #expect(out.assigns.isEmpty)
  #expect(s.pendingTrials.isEmpty)
  #expect(s.runningCount == 1)
  // Another free worker does not get it either.
  out = s.handle(.ready(b, ready()), now: 0.5)
  #expect(out.assigns.isEmpty)
  // a keeps reporting it: still held.
  out = s.handle(.heartbeat(a, state(1, running: [old])), now: 1)
  #expect(out.assigns.isEmpty && out.requeues.isEmpty)
  // a stops reporting it without a result: back in the queue and handed out (attempt 3).
  out = s.handle(.heartbeat(a, state(2)), now: 2)
  #expect(out.requeues == [rid(1)])
  #expect(out.newLeases == [lease(rid(1), 3)])
}

@Test func resultOfAHeldLeaseIsCommittedUnderAFreshAttempt() {
  var s = Scheduler(trials: [realTrial(1, previousAttempts: 2)], settings: fast)
  let old = lease(rid(1), 2)
  _ = s.handle(.ready(a, ready(0, running: [old], slots: 1)), now: 0)
  let out = s.handle(.result(a, resultBody(rid(1), 2, sampleResult(config: config(1)))), now: 1)
  #expect(out.commitLeases == [lease(rid(1), 3)])
  #expect(out.acks == [old])
  #expect(out.rejects.isEmpty)
  #expect(out.finished)
}

@Test func resultForATrialLeasedToAnotherWorkerCommitsAndCancelsThatLease() {
  var s = Scheduler(trials: [realTrial(1, previousAttempts: 1)], settings: fast)
  #expect(s.handle(.ready(a, ready()), now: 0).newLeases == [lease(rid(1), 2)])
  _ = s.handle(.ready(b, ready(0)), now: 0.5)
  // b finished attempt 1 for the previous coordinator and resends it.
  let out = s.handle(.result(b, resultBody(rid(1), 1, sampleResult(config: config(1)))), now: 1)
  #expect(out.commitLeases == [lease(rid(1), 3)])
  #expect(out.commits.first?.worker == b)
  #expect(out.contains(.cancel(lease(rid(1), 2), worker: a)))
  #expect(out.ends.map(\.lease) == [lease(rid(1), 2)])
  #expect(out.ends.first?.worker == a)
  #expect(out.outcomes == [.lost])
  #expect(out.acks == [lease(rid(1), 1)])
  #expect(s.leases(of: a).isEmpty)
  #expect(s.lease(of: rid(1)) == nil)
  #expect(s.doneCount == 1)
  // a's result for the cancelled lease is then a duplicate.
  let late = s.handle(.result(a, resultBody(rid(1), 2, sampleResult(config: config(1)))), now: 2)
  #expect(late.commits.isEmpty)
  #expect(late.duplicates == [lease(rid(1), 2)])
}

// MARK: Liveness

@Test func silenceCountsOnlyOnDrainedTicks() {
  var s = Scheduler(trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: fast)
  _ = s.handle(.ready(a, ready()), now: 0)
  // Deadline 3 s; the coordinator fell behind: far past it, not declared dead.
  for t in [3.5, 10.0, 50.0] {
    let out = s.handle(.tick(drained: false), now: t)
    #expect(out.lostWorkers.isEmpty && out.ends.isEmpty)
  }
  #expect(s.liveWorkers == [a])
  #expect(s.lease(of: tid(1))?.1 == a)
  // Once drained, it is.
  let out = s.handle(.tick(drained: true), now: 50.1)
  #expect(out.lostWorkers == [a])
  #expect(out.outcomes == [.lost])
  #expect(s.liveWorkers.isEmpty)
}

// MARK: Store failure

@Test func storeFailureStopsEveryWorkerWithHold() {
  var s = Scheduler(
    trials: (1...3).map { SchedulerTrial(id: tid($0), cost: 1) }, settings: fast)
  _ = s.handle(.ready(a, ready()), now: 0)
  _ = s.handle(.ready(b, ready()), now: 0)
  let out = s.handle(.storeFailed(reason: "disk full"), now: 1)
  #expect(
    out == [
      .shutdown(a, reason: "disk full", hold: true), .shutdown(b, reason: "disk full", hold: true),
      .finished,
    ])
  #expect(out.acks.isEmpty && out.ends.isEmpty && out.commits.isEmpty)
  // Said once; no work afterwards.
  #expect(s.handle(.storeFailed(reason: "again"), now: 2).isEmpty)
  #expect(s.handle(.ready(a, ready()), now: 3).assigns.isEmpty)
}

// MARK: Known bugs

// Regression (Scheduler.reconcile, "held" branch, fixed): a lease that passed the wall-time limit is
// cancelled and requeued, but when no worker is free at that moment and the worker still lists
// the lease in its next report (its training thread does not stop), the trial becomes `held`
// for that worker. `held` has no time limit, so the trial is never handed to a free worker
// again while the stuck worker keeps heartbeating: the sweep never finished.
@Test
func timedOutLeaseOfAStuckWorkerIsNotHeldForever() {
  var s = Scheduler(
    trials: [SchedulerTrial(id: tid(1), cost: 2), SchedulerTrial(id: tid(2), cost: 1)],
    settings: patient(trialTimeout: 5))
  let stuck = lease(tid(1), 1)
  #expect(s.handle(.ready(a, ready()), now: 0).newLeases == [stuck])
  #expect(s.handle(.ready(b, ready()), now: 3).newLeases == [lease(tid(2), 1)])
  _ = s.handle(.heartbeat(a, state(0, running: [stuck], seen: 1)), now: 4)
  _ = s.handle(.heartbeat(b, state(0, running: [lease(tid(2), 1)], seen: 2)), now: 4)
  let timeout = s.handle(.tick(drained: true), now: 5.5)
  #expect(timeout.outcomes == [.timedOut] && timeout.cancels == [stuck])
  // a's training thread ignores the cancel; its socket thread keeps reporting the lease.
  _ = s.handle(.heartbeat(a, state(0, running: [stuck], seen: 1)), now: 6)
  _ = s.handle(.result(b, resultBody(tid(2), 1)), now: 7)
  var handedOut = s.handle(.ready(b, ready(1, fresh: false, seen: 2)), now: 7).newLeases
  var t = 8.0
  while t <= 60 && handedOut.isEmpty {
    _ = s.handle(.heartbeat(a, state(0, running: [stuck], seen: 1)), now: t)
    handedOut += s.handle(.heartbeat(b, state(1, seen: 2)), now: t).newLeases
    handedOut += s.handle(.tick(drained: true), now: t).newLeases
    t += 1
  }
  // Expected: the free worker b takes the timed-out trial (attempt 2).
  #expect(handedOut == [lease(tid(1), 2)])
}

// An assignment the transport could not deliver (the peer is no longer connected, e.g. a
// connection libzmq replaced) never ran: it ends as lost and does not use up an attempt, so a
// burst of phantom peers cannot fail a trial.
@Test func undeliveredAssignmentsDoNotUseUpAttempts() {
  var s = Scheduler(trials: [SchedulerTrial(id: tid(1), cost: 1)], settings: fast)
  for n in 0..<10 {
    let w = WorkerID("phantom-\(n)")
    let out = s.handle(.ready(w, ready()), now: Double(n))
    guard let l = out.assigns.first?.lease else {
      Issue.record("no assignment at \(n)")
      return
    }
    let lost = s.handle(.undelivered(w, l), now: Double(n))
    #expect(lost.outcomes == [.lost])
    #expect(lost.failures.isEmpty)
    #expect(lost.lostWorkers == [w])
    #expect(s.pendingTrials == [tid(1)])
  }
  let out = s.handle(.ready(b, ready()), now: 20)
  #expect(out.assigns.map(\.lease.attempt) == [11])
}

// MARK: Errors that recur

/// A worker's error marked `permanent: ` (invalid configuration, data missing or cut beyond its
/// size) fails the trial at its first attempt; an unmarked error is retried.
@Test func permanentErrorFailsTheTrialWithoutRetry() {
  var s = Scheduler(trials: [realTrial(1), realTrial(2)], settings: patient(maxAttempts: 5))
  #expect(s.handle(.ready(a, ready()), now: 0).newLeases == [lease(rid(1), 1)])
  let permanent = ResultBody(
    lease: lease(rid(1), 1), result: nil,
    error: permanentErrorPrefix + "data/mnist/train-images-idx3-ubyte: missing")
  let out = s.handle(.result(a, permanent), now: 1)
  let failed = out.compactMap { action -> String? in
    if case .fail(let t, let e) = action, t == rid(1) { return e }
    return nil
  }
  #expect(failed.count == 1)
  #expect(
    failed.first?.hasPrefix("no retry (the error recurs on every attempt): permanent: ") == true)
  #expect(out.requeues.isEmpty)
  #expect(s.failedCount == 1)
  // The next trial goes out; the failed one is not offered again.
  #expect(out.newLeases == [lease(rid(2), 1)])
  let transient = ResultBody(
    lease: lease(rid(2), 1), result: nil, error: "worker ran out of memory")
  let again = s.handle(.result(a, transient), now: 2)
  #expect(again.requeues == [rid(2)])
  #expect(s.failedCount == 1)
}

// MARK: Progress of running trials

/// The furthest-along running lease is known from the workers' progress reports, and forgotten
/// when its result arrives.
@Test func leadingProgressFollowsReportsOfCurrentLeases() {
  var s = Scheduler(trials: [realTrial(1)], settings: patient())
  #expect(s.handle(.ready(a, ready()), now: 0).newLeases == [lease(rid(1), 1)])
  #expect(s.leadingProgress == nil)
  let report = ProgressBody(
    lease: lease(rid(1), 1), iteration: 120, maxIterations: 200, trainAccuracy: 0.5)
  _ = s.handle(.progress(a, report), now: 3)
  #expect(s.leadingProgress?.progress == report && s.leadingProgress?.since == 0)
  // A report for a lease the worker does not hold is ignored.
  _ = s.handle(
    .progress(
      a,
      ProgressBody(lease: lease(rid(1), 7), iteration: 190, maxIterations: 200, trainAccuracy: nil)),
    now: 4)
  #expect(s.leadingProgress?.progress == report)
  _ = s.handle(.result(a, resultBody(rid(1), 1, sampleResult(config: config(1)))), now: 5)
  #expect(s.leadingProgress == nil)
}
