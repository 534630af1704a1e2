import Foundation
import SweepRuntime
import SweepSpec
import SweepWire
import TailNet
import TailSweepTestSupport
import Testing

// One coordinator and several workers in one process, over the in-memory network with a fake
// clock: every failure path of docs/protocol.md, deterministic (no sleeps, no sockets).

@Test func healthyClusterCommitsEveryTrialOnce() {
  let c = SimCluster(trials: 6)
  c.addWorker("a")
  c.addWorker("b", slots: 2)
  #expect(c.run(for: 60) { c.allSettled })
  #expect(c.ledger.results.count == 6)
  #expect(c.violations().isEmpty)
  #expect(c.coordinator.finished)
}

@Test func killedWorkerLosesNothing() {
  let c = SimCluster(trials: 4)
  c.addWorker("a")
  c.addWorker("b")
  c.run(for: 1)
  c.kill(WorkerID("a"), reportExit: false)
  #expect(c.run(for: 60) { c.allSettled })
  #expect(c.ledger.results.count == 4)
  // a's lease ended as lost once b's deadline logic noticed its silence.
  #expect(c.ledger.attempts.values.contains { $0.worker == "a" && $0.outcome == .lost })
  #expect(c.violations().isEmpty)
}

@Test func frozenWorkerIsDeclaredDeadThenItsLateResultIsKept() {
  let c = SimCluster(trials: 1)
  let a = c.addWorker("a")
  c.run(for: 0.5)
  a.frozen = true
  c.run(for: 5)  // deadline 3 s: a is dead, the trial is pending again (no other worker)
  #expect(c.coordinator.scheduler.liveWorkers.isEmpty)
  a.frozen = false
  // a wakes up, finishes, is rejected as unknown, registers again; its verified result for
  // the unfinished trial is committed (not filed as a duplicate and rerun).
  #expect(c.run(for: 30) { c.allSettled })
  #expect(c.ledger.results.count == 1)
  #expect(c.violations().isEmpty)
}

@Test func resendAfterReconnectIsCommittedOnce() {
  let c = SimCluster(trials: 2)
  let a = c.addWorker("a")
  c.run(for: 3.2)  // first result sent
  // The ack is lost: drop everything going to the worker, then force a reconnect.
  c.inFlight.removeAll { !$0.toCoordinator }
  a.frozen = true
  c.run(for: 0.5)
  a.frozen = false
  #expect(c.run(for: 60) { c.allSettled })
  #expect(c.ledger.results.count == 2)
  #expect(c.ledger.doubleCommits.isEmpty)
  #expect(c.violations().isEmpty)
}

@Test func lostAckIsRepairedByTheResend() {
  let c = SimCluster(trials: 2)
  c.trialSeconds = 3
  c.maxDelay = 0
  let a = c.addWorker("a")
  c.run(for: 3.05)
  // The result is on its way; lose the ack by cutting the worker's connection for a while.
  c.loss = 1
  c.run(for: 1)
  c.loss = 0
  #expect(a.machine.unacknowledged.count == 1)
  // The worker resends what is unacknowledged once per deadline; the coordinator, which
  // already committed it, only acknowledges it.
  #expect(c.run(for: 10) { a.machine.unacknowledged.isEmpty })
  #expect(c.ledger.results.count == 1)
  #expect(c.ledger.doubleCommits.isEmpty)
  #expect(c.violations().isEmpty)
}

@Test func coordinatorRestartBetweenCommitAndAckKeepsTheResult() {
  let c = SimCluster(trials: 3)
  let a = c.addWorker("a")
  // Run until the first commit happens, then kill the coordinator before its ack leaves.
  c.run(for: 30) { !c.ledger.results.isEmpty }
  c.inFlight.removeAll { !$0.toCoordinator }
  let unacked = a.machine.unacknowledged
  #expect(unacked.count == 1)
  c.restartCoordinator()
  #expect(c.run(for: 90) { c.allSettled })
  #expect(c.ledger.results.count == 3)
  // The committed trial was not run again by the new coordinator.
  #expect(
    unacked.allSatisfy { l in c.ledger.startedLeases.filter { $0.trial == l.trial }.count == 1 })
  #expect(c.ledger.doubleCommits.isEmpty)
  #expect(c.violations().isEmpty)
}

@Test func coordinatorRestartKeepsResultsOfTrialsInFlight() {
  let c = SimCluster(trials: 2)
  c.trialSeconds = 10
  c.maxDelay = 0  // one connection delivers in order, as ZeroMQ does
  c.addWorker("a")
  c.addWorker("b")
  c.run(for: 2)  // both trials running
  let before = c.ledger.startedLeases.count
  #expect(before == 2)
  c.restartCoordinator()
  #expect(c.run(for: 60) { c.allSettled })
  // The old run's results were kept (committed under a fresh attempt number each), and the
  // new coordinator handed neither trial out again while its worker reported it running.
  #expect(c.ledger.results.count == 2)
  #expect(
    c.ledger.startedLeases.count == before, "reruns: \(c.ledger.startedLeases.dropFirst(before))")
  #expect(c.violations().isEmpty)
}

@Test func cancelledLeaseFreesTheSlotForTheNextAttempt() {
  // The wall-time limit passes: the coordinator cancels the lease, the worker stops that
  // training and reports its slot free, and the trial's next attempts run (here on the same
  // worker, the only one) until one is committed. No credit is leaked on either side.
  let settings = SchedulerSettings(
    heartbeatInterval: 1, liveness: 3, maxAttempts: 3, trialTimeout: 5)
  let c = SimCluster(trials: 1, settings: settings)
  let a = c.addWorker("a")
  a.trialSeconds = 100  // the first attempt would run far past the limit
  c.run(for: 1)
  let first = a.machine.runningLeases
  #expect(first.count == 1)
  c.run(for: 5)  // past the limit: cancelled
  #expect(a.machine.runningLeases != first)
  a.trialSeconds = 1
  #expect(c.run(for: 30) { c.allSettled })
  guard let l = first.first else {
    Issue.record("nothing ran")
    return
  }
  #expect(c.ledger.attempts[l]?.outcome == .timedOut)
  // Every attempt before the committed one ended at the limit (none left open or leaked).
  let committed = c.ledger.results[l.trial]?.lease
  #expect((committed?.attempt ?? 0) >= 2)
  for (lease, attempt) in c.ledger.attempts where lease != committed {
    #expect(attempt.outcome == .timedOut, "\(lease)")
  }
  #expect(c.violations().isEmpty)
}

@Test func invalidResultsAreRefusedAndNeverStored() {
  let c = SimCluster(trials: 2)
  let bad = c.addWorker("bad")
  bad.corruptResults = true
  c.run(for: 10)
  #expect(c.ledger.results.isEmpty)
  #expect(bad.machine.unacknowledged.isEmpty)  // refused results are forgotten, not resent
  bad.corruptResults = false
  #expect(c.run(for: 90) { c.allSettled })
  #expect(c.ledger.results.count == 2)
  #expect(c.violations().isEmpty)
}

@Test func workerWithOtherDataIsRefusedAndStops() {
  let c = SimCluster(trials: 2)
  let w = c.addWorker("other")
  w.dataHash = String(repeating: "cd", count: 32)
  c.run(for: 5)
  guard case .refused(let why)? = w.stopped else {
    Issue.record("worker not refused: \(String(describing: w.stopped))")
    return
  }
  #expect(why.contains("host-other") && why.contains("synthetic"))
  #expect(why.contains(simulatedDataHash) && why.contains(String(repeating: "cd", count: 32)))
  #expect(c.ledger.results.isEmpty)
}

@Test func storeFailureStopsDispatchAcksNothingAndWorkersHoldResults() {
  let c = SimCluster(trials: 4)
  let a = c.addWorker("a")
  c.run(for: 30) { c.ledger.results.count == 1 }
  c.ledger.failure = "disk full"
  c.run(for: 5)
  #expect(c.coordinator.finished)
  #expect(c.coordinator.summary.storeFailure?.contains("disk full") == true)
  // The worker was told to hold: it stopped computing but keeps what was not acknowledged.
  #expect(a.stopped == nil)
  #expect(a.machine.runningLeases.isEmpty)
  let held = a.machine.unacknowledged
  // After the cause is fixed, a new coordinator gets the held results: nothing lost.
  c.ledger.failure = nil
  c.restartCoordinator()
  #expect(c.run(for: 120) { c.allSettled })
  for l in held { #expect(c.ledger.results[l.trial] != nil) }
  #expect(c.violations().isEmpty)
}

@Test func coordinatorDyingBeforeTheSyncAcknowledgesNothingAndLosesNothing() {
  // Group commit: the coordinator writes a result in its batch and dies before the sync. The
  // worker never saw an ack, keeps the result, and the next coordinator commits it once.
  let c = SimCluster(trials: 2)
  c.trialSeconds = 1
  c.maxDelay = 0
  let a = c.addWorker("a")
  #expect(c.run(for: 10) { !a.machine.unacknowledged.isEmpty })
  let pending = a.machine.unacknowledged
  c.crashBeforeSync = 1
  let restarts = c.restarts
  c.step()
  c.crashBeforeSync = 0
  #expect(c.restarts > restarts)
  #expect(c.ledger.rollbacks >= 1)
  for l in pending {
    #expect(c.ledger.results[l.trial] == nil)
    #expect(!a.acknowledged.contains(l.trial))
  }
  #expect(c.run(for: 60) { c.allSettled })
  for l in pending { #expect(a.acknowledged.contains(l.trial)) }
  #expect(c.ledger.syncs > 0)
  #expect(c.acksBeforeSync == 0)
  #expect(c.violations().isEmpty)
}

@Test func overloadedCoordinatorDoesNotDeclareLiveWorkersDead() {
  // The coordinator handles nothing for 10 s (a backlog), then catches up: messages that were
  // waiting prove the workers alive, so nobody loses a lease.
  let c = SimCluster(trials: 2)
  c.trialSeconds = 30
  c.addWorker("a")
  c.addWorker("b")
  c.run(for: 1)
  let before = c.coordinator.scheduler.liveWorkers
  // Ticks that did not drain the backlog do not count silence.
  c.coordinator.tick(now: c.now + 10, drained: false)
  #expect(c.coordinator.scheduler.liveWorkers == before)
}

@Test func hoardingPeerIsBoundedAndQuarantined() {
  var settings = SchedulerSettings(
    heartbeatInterval: 1, liveness: 3, maxAttempts: 4, trialTimeout: 5)
  settings.quarantineAfter = 2
  let c = SimCluster(trials: 3, settings: settings)
  let hoarder = c.addWorker("hoarder", slots: 1)
  hoarder.trialSeconds = 1e6  // heartbeats, never answers
  c.run(for: 1)
  #expect(c.coordinator.scheduler.leases(of: hoarder.id).count <= 1)
  c.run(for: 12)  // two timeouts: quarantined
  #expect(c.coordinator.scheduler.isQuarantined(hoarder.id, now: c.now))
  c.trialSeconds = 2
  c.addWorker("healthy")  // joins later
  #expect(c.run(for: 60) { c.allSettled })
  #expect(c.ledger.failedTrials.isEmpty)
  #expect(c.ledger.results.values.allSatisfy { $0.worker == "healthy" })
}

/// The model-based property test: random loss, duplication, reordering, reconnects (freezes),
/// worker crashes, coordinator restarts, and coordinator deaths between a batch's writes and
/// its sync (group commit); invariants after every step (one result per trial, no attempt
/// number reused, every acknowledged result durable, no ack sent before its sync), completion
/// at the end. `TAILSWEEP_PROPERTY_SEEDS` sets the number of seeds (default 2000, about 12 s of a
/// 2-core debug run; e.g. 50000 for a soak).
@Test(arguments: 0..<8)
func randomFaultsNeverLoseOrDuplicateResults(shard: Int) {
  let seeds = Int(ProcessInfo.processInfo.environment["TAILSWEEP_PROPERTY_SEEDS"] ?? "") ?? 2000
  var failures: [String] = []
  for seed in stride(from: UInt64(shard), to: UInt64(seeds), by: 8) {
    if let f = runScenario(seed: seed) { failures.append("seed \(seed): \(f)") }
    if failures.count >= 3 { break }
  }
  #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
}

func runScenario(seed: UInt64) -> String? {
  var r = SimRandom(seed: seed)
  let c = SimCluster(trials: 3 + r.below(6), seed: seed)
  c.trialSeconds = 0.5 + r.unit() * 3
  var names = 0
  for _ in 0..<(1 + r.below(3)) {
    c.addWorker("w\(names)", slots: 1 + r.below(2))
    names += 1
  }
  // Chaos phase.
  for _ in 0..<300 {
    c.loss = r.chance(0.3) ? r.unit() * 0.3 : 0
    c.duplication = r.unit() * 0.2
    c.maxDelay = r.unit() * 0.5
    switch r.below(100) {
    case 0..<2:
      if let victim = c.workers.keys.sorted().randomElement(using: &r) {
        c.kill(victim, reportExit: r.chance(0.5))
        c.addWorker("w\(names)")
        names += 1
      }
    case 2..<3: c.restartCoordinator()
    case 3..<4:
      // The coordinator dies at the end of one of the next batches, between its writes and
      // the sync (group commit): the batch is lost with everything it held back.
      c.crashBeforeSync = 0.5
    case 4..<7:
      if let w = c.workers.values.sorted(by: { $0.id < $1.id }).randomElement(using: &r) {
        w.frozen.toggle()
      }
    default: break
    }
    c.step(0.1)
    c.crashBeforeSync = 0
    let v = c.violations()
    if !v.isEmpty { return v.joined(separator: "; ") }
  }
  // Calm phase: no faults; every trial must settle, and no worker idles with pending work.
  c.loss = 0
  c.duplication = 0
  c.maxDelay = 0.05
  for w in c.workers.values { w.frozen = false }
  if c.workers.isEmpty { c.addWorker("w\(names)") }
  if c.coordinator.finished && !c.allSettled { c.restartCoordinator() }
  var settled = false
  let calmFrom = c.now
  let end = c.now + 400
  var idleSince: [WorkerID: Double] = [:]
  while c.now < end && !settled {
    c.step(0.25)
    settled = c.allSettled
    // No worker with free slots idles for more than 2 heartbeats while trials are pending
    // (after the faults have had a deadline to clear, and unless it is quarantined or every
    // pending trial should avoid it).
    let s = c.coordinator.scheduler
    guard c.now - calmFrom > 2 * c.settings.workerDeadline else { continue }
    for w in c.workers.values where w.stopped == nil {
      let idle =
        w.machine.state.credits > 0 && s.liveWorkers.contains(w.id)
        && !s.isQuarantined(w.id, now: c.now)
        && s.pendingTrials.contains { !s.avoids($0, w.id) }
      if !idle {
        idleSince[w.id] = nil
      } else if let since = idleSince[w.id] {
        if c.now - since > 2 * c.settings.heartbeatInterval + 0.3 {
          return "worker \(w.id) idle with free slots since \(since) while trials are pending"
        }
      } else {
        idleSince[w.id] = c.now
      }
    }
  }
  let v = c.violations()
  if !v.isEmpty { return v.joined(separator: "; ") }
  if !settled {
    return "did not settle: \(c.ledger.results.count)/\(c.trials.count) done, "
      + "\(c.ledger.failedTrials.count) failed, pending \(c.coordinator.scheduler.pendingTrials.count), "
      + "running \(c.coordinator.scheduler.runningCount), workers \(c.coordinator.scheduler.liveWorkers)"
  }
  return nil
}

extension Array {
  func randomElement(using r: inout SimRandom) -> Element? {
    isEmpty ? nil : self[r.below(count)]
  }
}

@Test func unreachablePeersDoNotFailTrials() {
  // Peers that register and are gone before their assignment leaves (libzmq hands a replaced
  // connection a generated id): the trial is not charged for them.
  var settings = SchedulerSettings(
    heartbeatInterval: 1, liveness: 3, maxAttempts: 2, trialTimeout: 60)
  settings.quarantineAfter = 2
  let c = SimCluster(trials: 1, settings: settings)
  for n in 0..<5 {
    let ghost = c.addWorker("ghost-\(n)")
    ghost.stopped = .shutdown  // registered, then unreachable
    c.run(for: 0.2)
  }
  c.addWorker("real")
  #expect(c.run(for: 30) { c.allSettled })
  #expect(c.ledger.results.count == 1)
  #expect(c.ledger.failedTrials.isEmpty)
}

// Real processes: workers that die at once use up the restart budget; the supervisor then says
// the run cannot go on (the coordinator stops with status 6) instead of waiting forever.
@Test func exhaustedRestartBudgetIsReported() throws {
  let supervisor = LocalSupervisor(
    executable: "/bin/false", count: 2, maxRestarts: 3, logger: quietLogger()
  ) { _ in [] }
  try supervisor.start()
  defer { supervisor.stop(grace: 0) }
  var exits = 0
  var report = SupervisorReport()
  let deadline = Date().addingTimeInterval(30)
  while report.exhausted == nil && Date() < deadline {
    report = supervisor.poll()
    exits += report.exited.count
    if report.exhausted == nil { usleep(10_000) }
  }
  #expect(report.exhausted?.contains("restart budget of 3 is used up") == true)
  #expect(report.exhausted?.contains("exit status 1") == true)
  #expect(exits == 5)  // 2 first starts + 3 restarts
}

/// Which trial errors are sent as permanent (no retry): those every worker would hit on every
/// attempt. A data file missing on one host is not one of them: another worker may have it.
@Test func onlyErrorsThatRecurEverywhereAreSentAsPermanent() {
  let config = ExecutorError.invalidConfiguration("width must be ≥ 1")
  #expect(trialErrorText(config) == permanentErrorPrefix + "\(config)")
  let request = DataError(file: nil, "trainLimit 200000 must be in 1...60000")
  #expect(trialErrorText(request) == permanentErrorPrefix + "\(request)")
  let missing = DataError(file: "/data/mnist/train-images-idx3-ubyte", "missing")
  #expect(trialErrorText(missing) == "\(missing)")
  #expect(!trialErrorText(missing).hasPrefix(permanentErrorPrefix))
  struct Other: Error {}
  #expect(!trialErrorText(Other()).hasPrefix(permanentErrorPrefix))
}

/// The coordinator records the latest progress of each running lease in its ledger (for
/// `status` and the live view), inside its group commits and at most about once a second,
/// whatever the rate of reports; a closed lease's progress is not updated any more.
@Test func leaseProgressIsRecordedAboutOnceASecond() {
  let sim = SimCluster(trials: 2, seed: 3)
  sim.maxDelay = 0
  sim.trialSeconds = 10
  sim.progressReports = true
  sim.addWorker("w1", slots: 1)
  sim.run(for: 6)
  let running = sim.ledger.progress
  #expect(running.count == 1, "\(running)")
  let first = running.values.first
  // 6 s into a 10 s trial (minus the time to register and be assigned): about 50 of 100.
  #expect((first?.iteration ?? 0) >= 30 && (first?.iteration ?? 100) <= 60, "\(running)")
  #expect(first?.maxIterations == 100)
  // About one recording per second (reports arrive once per heartbeat interval of 1 s).
  #expect(sim.ledger.progressRecordings >= 3 && sim.ledger.progressRecordings <= 7)
  let recordings = sim.ledger.progressRecordings
  #expect(sim.run(for: 60) { sim.allSettled })
  #expect(sim.violations().isEmpty, "\(sim.violations())")
  // The second trial's lease was recorded too; nothing more is recorded once all is done.
  #expect(sim.ledger.progress.count == 2)
  #expect(sim.ledger.progressRecordings > recordings)
}

/// The coordinator records the liveness of every registered worker, idle ones included (for
/// `status` and the live view): inside its group commits, at most once per
/// `CoordinatorCore.workerInterval` of its clock and one entry per worker per recording,
/// however many messages the workers send; a worker that left is recorded as gone, and so is
/// every worker when the run ends.
@Test func workerLivenessIsRecordedAboutOnceASecondIdleWorkersIncluded() throws {
  let sim = SimCluster(trials: 1, seed: 5)
  sim.maxDelay = 0
  sim.trialSeconds = 60
  // Progress reports and heartbeats: two messages a second from the busy worker.
  sim.progressReports = true
  let busy = WorkerID("w1")
  let idle = WorkerID("w2")
  sim.addWorker("w1", slots: 1)
  sim.run(for: 1)
  #expect(sim.ledger.startedLeases.count == 1)
  sim.addWorker("w2", slots: 1)
  sim.run(for: 10)
  // w2 never got a lease (the only trial runs on w1 for 60 s): idle, heartbeating.
  #expect(sim.ledger.attempts.values.allSatisfy { $0.worker == "w1" })
  let w2 = try #require(sim.ledger.workers[idle])
  #expect(w2.state == .active && w2.host == "host-w2" && w2.slots == 1)
  // Registered at about 1 s, last heard from (heartbeats every second) within the last
  // second or two of the 11 s of fake time: about 9–10 s after registering.
  let heardFor = w2.lastSeen.timeIntervalSince(w2.registeredAt)
  #expect(heardFor >= 8.5 && heardFor <= 10.2, "\(heardFor)")
  #expect(sim.ledger.workers[busy]?.state == .active)
  // Rate: 11 s of fake time at 10 batches a second → at most one recording per second (the
  // first right away), each with at most one entry per worker.
  let recordings = sim.ledger.workerRecordings
  #expect(recordings.count >= 9 && recordings.count <= 12, "\(recordings.count)")
  for r in recordings {
    #expect(Set(r.map(\.worker)).count == r.count && r.count <= 2)
  }
  // The idle worker is in (nearly) every recording since it registered: its heartbeats count.
  #expect(recordings.filter { r in r.contains { $0.worker == idle.description } }.count >= 8)

  // A worker that exits is recorded as gone at the next recording; the others when the run
  // ends.
  sim.kill(idle, reportExit: true)
  sim.run(for: 2)
  #expect(sim.ledger.workers[idle]?.state == .gone)
  #expect(sim.ledger.workers[busy]?.state == .active)
  sim.coordinator.recordWorkersGone()
  #expect(sim.ledger.workers[busy]?.state == .gone)
}
