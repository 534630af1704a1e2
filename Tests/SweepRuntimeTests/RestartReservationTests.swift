import SweepRuntime
import SweepSpec
import SweepWire
import TailSweepTestSupport
import Testing

// A restarted coordinator must not rerun the trials that were in flight when the old one died
// (measured before: each kill threw them away). Their workers still compute them and report
// them when they register again; until then (`SchedulerSettings.interruptedHold`) the trials
// wait for them.

/// A third worker that registers right after the restart is idle, and the trials in flight are
/// first in the queue (dispatch goes by cost): it must get other work, not those.
@Test(arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
func trialsInFlightAtACoordinatorRestartAreNotRerunByAnIdleWorker(seed: UInt64) {
  let c = SimCluster(trials: 4, seed: seed)
  c.trialSeconds = 10
  c.addWorker("a")
  c.addWorker("b")
  c.run(for: 2)
  let before = c.ledger.startedLeases.count
  #expect(before == 2)
  c.restartCoordinator()
  c.addWorker("c")
  #expect(c.run(for: 120) { c.allSettled })
  // The worker of each trial in flight at the restart.
  var owner: [TrialID: String] = [:]
  for l in c.ledger.startedLeases.prefix(before) { owner[l.trial] = c.ledger.attempts[l]?.worker }
  // A result of the old run is committed under a fresh attempt number of the same worker; a
  // rerun would be an attempt of another worker.
  let reruns = c.ledger.startedLeases.dropFirst(before).filter { l in
    owner[l.trial].map { $0 != c.ledger.attempts[l]?.worker } ?? false
  }
  #expect(reruns.isEmpty, "reruns: \(reruns)")
  for (trial, worker) in owner { #expect(c.ledger.results[trial]?.worker == worker) }
  #expect(c.violations().isEmpty)
}

/// A worker that does not come back (it died with the coordinator) holds its trial up for the
/// hold only; then the trial runs elsewhere.
@Test func aTrialInFlightWhoseWorkerNeverReturnsRunsElsewhereAfterTheHold() {
  let c = SimCluster(trials: 2)
  c.trialSeconds = 10
  c.maxDelay = 0
  c.addWorker("a")
  c.addWorker("b")
  c.run(for: 2)
  #expect(c.ledger.startedLeases.count == 2)
  c.kill(WorkerID("a"), reportExit: false)
  c.restartCoordinator()
  let restartedAt = c.now
  c.addWorker("c")
  let lost = c.ledger.startedLeases.first { c.ledger.attempts[$0]?.worker == "a" }
  #expect(
    c.run(for: 30) {
      c.ledger.startedLeases.contains { $0.trial == lost?.trial && $0.attempt > lost!.attempt }
    })
  let waited = c.now - restartedAt
  let hold = c.settings.interruptedHold
  #expect(hold > 0)
  #expect(waited >= hold && waited <= hold + 1, "waited \(waited) s")
  #expect(c.run(for: 60) { c.allSettled })
  #expect(c.violations().isEmpty)
}
