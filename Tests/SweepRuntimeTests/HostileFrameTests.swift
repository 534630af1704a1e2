import SweepRuntime
import SweepSpec
import SweepWire
import TailNet
import TailSweepTestSupport
import Testing

// A peer that floods the coordinator with random and forged frames while a sweep runs (measured
// before issue 10's fixes: 5,000 random frames in one second replaced 18 of 24 stored results).
// In-process, deterministic: the same flood over real ZeroMQ is `tailsweep chaos`'s flood fault.

/// Seeded frames of every kind a broken or hostile peer may send. `done` are trials that already
/// have a result; a forged result of an unfinished trial is never made with the right config,
/// the right data hash and possible numbers: that is honest work by definition (a verified
/// result of an unfinished trial is kept whatever lease it came from), and only authentication
/// keeps strangers from sending it.
struct HostileFrames {
  var random: SimRandom
  let trials: [CoordinatorTrial]
  let done: [CoordinatorTrial]

  mutating func bytes(_ count: Int) -> [UInt8] {
    (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
  }

  mutating func trial(from list: [CoordinatorTrial]) -> CoordinatorTrial {
    list[random.below(list.count)]
  }

  mutating func lease(_ t: CoordinatorTrial) -> Lease {
    Lease(trial: t.id, attempt: 1 + random.below(6))
  }

  mutating func state() -> WorkerState {
    WorkerState(
      credits: random.below(80) - 8,
      running: (0..<random.below(4)).map { _ in lease(trial(from: trials)) },
      epoch: UInt64(random.below(4)), seen: random.below(50) - 5)
  }

  /// The frames of one message (no identity frame), and which of 11 sorts it is.
  mutating func next() -> (sort: Int, frames: [[UInt8]]) {
    let sort = random.below(11)
    let t = trial(from: trials)
    switch sort {
    case 0:  // random frames of random sizes
      return (sort, (0..<(1 + random.below(4))).map { _ in bytes(random.below(64)) })
    case 1:  // this version, any kind byte, a random body
      return (sort, [[wireProtocolVersion], [UInt8(random.below(13))], bytes(random.below(200))])
    case 2:  // another protocol version
      return (sort, [[UInt8(random.below(4))], [5], bytes(random.below(100))])
    case 3:  // a registration claiming any number of slots and any leases
      var body = ReadyBody(
        fresh: random.chance(0.5), host: "mallory", pid: 7, slots: random.below(200) - 10,
        state: state())
      body.nullTrials = random.chance(0.1)
      return (sort, WireCodec.encode(.ready(body)))
    case 4:  // a heartbeat with any state
      return (sort, WireCodec.encode(.heartbeat(state())))
    case 5:  // the result of another trial's configuration (wrong work)
      var other = trial(from: trials)
      while other.id == t.id { other = trial(from: trials) }
      let body = ResultBody(lease: lease(t), result: simulatedResult(other.config), error: nil)
      return (sort, WireCodec.encode(.result(body)))
    case 6:  // the right configuration computed on other data
      let r = simulatedResult(t.config, dataHash: String(repeating: "ee", count: 32))
      return (sort, WireCodec.encode(.result(ResultBody(lease: lease(t), result: r, error: nil))))
    case 7:  // impossible numbers
      var r = simulatedResult(t.config)
      switch random.below(3) {
      case 0: r.training.wallSeconds = .nan
      case 1: r.training.final?.testAccuracy = 1.5
      default: r.training.final?.trainLoss = -.infinity
      }
      return (sort, WireCodec.encode(.result(ResultBody(lease: lease(t), result: r, error: nil))))
    case 8:  // a possible but different result of a finished trial: at most a duplicate
      let d = trial(from: done)
      var r = simulatedResult(d.config)
      r.training.final?.testAccuracy = random.unit()
      return (sort, WireCodec.encode(.result(ResultBody(lease: lease(d), result: r, error: nil))))
    case 9:  // a finished trial's encoded result with bytes flipped
      let d = trial(from: done)
      var frames = WireCodec.encode(
        .result(ResultBody(lease: lease(d), result: simulatedResult(d.config), error: nil)))
      for _ in 0..<(1 + random.below(8)) where !frames[2].isEmpty {
        frames[2][random.below(frames[2].count)] ^= UInt8(1 + random.below(255))
      }
      return (sort, frames)
    default:  // an error result or a progress report for any lease
      if random.chance(0.5) {
        let body = ResultBody(lease: lease(t), result: nil, error: "forged failure")
        return (sort, WireCodec.encode(.result(body)))
      }
      let body = ProgressBody(
        lease: lease(t), iteration: random.below(1000), maxIterations: 100, trainAccuracy: nil)
      return (sort, WireCodec.encode(.progress(body)))
    }
  }
}

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
  var flood = HostileFrames(random: SimRandom(seed: seed &* 977), trials: c.trials, done: done)
  var sorts = [Int](repeating: 0, count: 11)
  // 5,000 frames in one second of the fake clock, 500 in each coordinator batch, interleaved
  // with the honest workers' traffic; half under mallory's id, half under a stranger's.
  for _ in 0..<10 {
    c.coordinator.batch {
      for i in 0..<500 {
        let (sort, frames) = flood.next()
        sorts[sort] += 1
        let from = i % 2 == 0 ? mallory.id : WorkerID("stranger-\(i % 7)")
        c.coordinator.receive(frames, from: from, now: c.now)
      }
    }
    c.step()
    #expect(c.violations().isEmpty)
  }
  #expect(sorts.allSatisfy { $0 > 300 }, "every sort of frame was sent: \(sorts)")
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
