import SweepSpec
import TailNet
import Testing

@testable import SweepWire

// Found by `tailsweep chaos --only coordinator-kill --only coordinator-kill-after-commit`: a
// coordinator restarted after a kill handed a trial whose lease was still running on a live
// worker to another worker that registered first (the first worker reconnected 7 s later,
// after reconnect backoff): the trial ran twice. Such a trial is now held for its worker for
// `interruptedHold` seconds. Self-contained fixtures (interrupted… names).

private func interruptedConfig(_ seed: Int) -> TrialConfig {
  TrialConfig(
    dataset: DatasetSpec(name: "synthetic", trainSize: 500, testSize: 200), width: 16, eta: 0.1,
    batchSize: 10, maxIterations: 200, seed: UInt64(seed))
}

private func interruptedResult(_ c: TrialConfig) -> TrialResult {
  let e = EvalPoint(
    iteration: 200, trainLoss: 0.25, trainAccuracy: 0.9, testLoss: 0.3, testAccuracy: 0.8)
  return TrialResult(
    config: c,
    training: TrainingSummary(
      stopReason: .maxIterations, iterations: 200, wallSeconds: 0.5, final: e, history: [e]),
    compression: nil, datasetHash: nil)
}

private func interruptedReady(free: Int, slots: Int, running: [Lease] = []) -> ReadyBody {
  ReadyBody(
    fresh: true, host: "h", pid: 1, slots: slots,
    state: WorkerState(credits: free, running: running, epoch: 77, seen: 3))
}

@Suite struct InterruptedLeaseTests {
  static let a = interruptedConfig(1)
  static let b = interruptedConfig(2)
  static let idA = TrialID(config: a)
  static let idB = TrialID(config: b)
  /// Attempt 1 of A was running on w1 when the previous coordinator was killed.
  static let leaseA = Lease(trial: idA, attempt: 1)
  static let w1 = WorkerID("w1")
  static let w2 = WorkerID("w2")

  static func scheduler() -> Scheduler {
    Scheduler(
      trials: [
        SchedulerTrial(
          id: idA, cost: 2, previousAttempts: 1, config: a,
          interrupted: InterruptedLease(lease: leaseA, worker: w1)),
        SchedulerTrial(id: idB, cost: 1, config: b),
      ],
      settings: SchedulerSettings(
        heartbeatInterval: 0.25, liveness: 4, maxAttempts: 5, trialTimeout: 600))
  }

  static func assigned(_ out: [SchedulerAction]) -> [TrialID] {
    out.compactMap {
      if case .assign(let l, _, _, false) = $0 { return l.trial }
      return nil
    }
  }

  @Test func aTrialRunningAtTheKillWaitsForItsWorker() {
    var s = Self.scheduler()
    _ = s.handle(.tick(drained: true), now: 100)
    // w2 registers first with two free slots: it gets B, not A.
    #expect(
      Self.assigned(s.handle(.ready(Self.w2, interruptedReady(free: 2, slots: 2)), now: 101)) == [
        Self.idB
      ])
    // Ticks within the hold hand nothing out.
    #expect(Self.assigned(s.handle(.tick(drained: true), now: 107)) == [])
    // w1 comes back 7 s after the restart, still computing A: A stays with it.
    let back = s.handle(
      .ready(Self.w1, interruptedReady(free: 0, slots: 1, running: [Self.leaseA])), now: 107.5)
    #expect(Self.assigned(back) == [])
    #expect(!back.contains(.cancel(Self.leaseA, worker: Self.w1)))
    // Its result is kept.
    let r = interruptedResult(Self.a)
    let out = s.handle(
      .result(Self.w1, ResultBody(lease: Self.leaseA, result: r, error: nil)), now: 108)
    #expect(
      out.contains { if case .commit(_, Self.w1, r) = $0 { return true } else { return false } })
  }

  @Test func theHoldEndsWhenTheWorkerDoesNotComeBackOrNoLongerHasIt() {
    // Not back within the hold: A goes to w2 (which holds B in its other slot).
    var s = Self.scheduler()
    #expect(
      Self.assigned(s.handle(.ready(Self.w2, interruptedReady(free: 2, slots: 2)), now: 100))
        == [Self.idB])
    let busy = WorkerState(
      credits: 1, running: [Lease(trial: Self.idB, attempt: 1)], epoch: 1, seen: 1)
    #expect(Self.assigned(s.handle(.heartbeat(Self.w2, busy), now: 105)) == [])
    var later = s.handle(.heartbeat(Self.w2, busy), now: 111)
    later += s.handle(.tick(drained: true), now: 111)
    #expect(Self.assigned(later) == [Self.idA])
    // Back without the lease: it finished A while no coordinator listened, and resends the
    // result right after its ready: A is not handed out meanwhile, and the result is kept.
    var t = Self.scheduler()
    _ = t.handle(.tick(drained: true), now: 100)
    let out = t.handle(.ready(Self.w1, interruptedReady(free: 2, slots: 2)), now: 101)
    #expect(Self.assigned(out) == [Self.idB])
    let r = interruptedResult(Self.a)
    let kept = t.handle(
      .result(Self.w1, ResultBody(lease: Self.leaseA, result: r, error: nil)), now: 101.01)
    #expect(
      kept.contains { if case .commit(_, Self.w1, r) = $0 { return true } else { return false } })
    // Back without the lease and without its result (lost): A goes out one deadline later.
    var u = Self.scheduler()
    _ = u.handle(.tick(drained: true), now: 100)
    #expect(
      Self.assigned(u.handle(.ready(Self.w1, interruptedReady(free: 2, slots: 2)), now: 101))
        == [Self.idB])
    let free = WorkerState(
      credits: 1, running: [Lease(trial: Self.idB, attempt: 1)], epoch: 1, seen: 1)
    var next = u.handle(.heartbeat(Self.w1, free), now: 102.1)
    next += u.handle(.tick(drained: true), now: 102.1)
    #expect(Self.assigned(next) == [Self.idA])
  }
}
