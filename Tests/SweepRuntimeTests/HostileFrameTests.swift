import SweepRuntime
import SweepSpec
import SweepWire
import TailNet
import TailSweepTestSupport
import Testing

// A peer that floods the coordinator with random and forged frames while a sweep runs (measured
// before issue 10's fixes: 5,000 random frames in one second replaced 18 of 24 stored results).
// In-process, deterministic, with the real CoordinatorCore and ledger rules: the seeded flood
// of `tailsweep chaos` (`HostileFrames`, every message of which fails a check), plus results a
// worker could have computed but with other numbers, for trials already done: they may only be
// recorded as duplicates, never replace the stored result.

@Test(arguments: [1, 2, 3] as [UInt64])
func aFloodOfRandomAndForgedFramesNeitherReplacesNorAddsResults(seed: UInt64) {
  let c = SimCluster(trials: 24, seed: seed)
  c.trialSeconds = 0.5
  c.addWorker("a")
  c.addWorker("b")
  let mallory = c.addWorker("mallory")
  #expect(c.run(for: 60) { c.ledger.results.count >= 8 })
  let before = c.ledger.results
  let done = c.trials.filter { before[$0.id] != nil }
  var flood = HostileFrames(
    seed: seed, trials: c.trials.map { .init(id: $0.id, result: simulatedResult($0.config)) },
    oversizedEvery: 500)
  var random = SimRandom(seed: seed &* 977)
  var kinds: [String: Int] = [:]
  // 5,000 frames in one second of the fake clock, 500 in each coordinator batch, interleaved
  // with the honest workers' traffic; half under mallory's id (a registered worker), half under
  // strangers' ids.
  for _ in 0..<10 {
    c.coordinator.batch {
      for i in 0..<500 {
        let frames: [[UInt8]]
        if i % 10 == 9 {
          // A possible result of a finished trial, with other numbers: at most a duplicate.
          let d = done[random.below(done.count)]
          var r = simulatedResult(d.config)
          r.training.final?.testAccuracy = random.unit()
          let lease = Lease(trial: d.id, attempt: 1 + random.below(6))
          frames = WireCodec.encode(.result(ResultBody(lease: lease, result: r, error: nil)))
          kinds["altered result of a finished trial", default: 0] += 1
        } else {
          let (kind, f) = flood.next()
          #expect(flood.isHarmless(f))
          frames = f
          kinds[kind.rawValue, default: 0] += 1
        }
        let from = i % 2 == 0 ? mallory.id : WorkerID("stranger-\(i % 7)")
        c.coordinator.receive(frames, from: from, now: c.now)
      }
    }
    c.step()
    #expect(c.violations().isEmpty)
  }
  #expect(kinds.count == HostileFrames.Kind.allCases.count + 1, "kinds sent: \(kinds)")
  #expect(c.coordinator.summary.storeFailure == nil)
  #expect(c.coordinator.summary.refused > 0)
  // Nothing committed before the flood changed.
  for (id, r) in before {
    let now = c.ledger.results[id]
    #expect(now?.result == r.result && now?.lease == r.lease && now?.worker == r.worker)
  }
  // The sweep still finishes (mallory's garbage cost it at most its registration), and every
  // stored result is the honest one.
  #expect(c.run(for: 300) { c.allSettled })
  #expect(c.ledger.failedTrials.isEmpty)
  for t in c.trials { #expect(c.ledger.results[t.id]?.result == simulatedResult(t.config)) }
  #expect(c.violations().isEmpty)
}
