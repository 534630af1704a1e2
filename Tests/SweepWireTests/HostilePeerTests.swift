import SweepSpec
import TailNet
import Testing

@testable import SweepWire

// A hostile peer against the scheduler: the flood `tailsweep chaos` sends (HostileFrames), and
// the forged data-set hash it found. Self-contained fixtures (hostile… names).

/// A real synthetic trial configuration; `seed` makes distinct ones.
private func hostileConfig(_ seed: Int) -> TrialConfig {
  TrialConfig(
    dataset: DatasetSpec(name: "synthetic", trainSize: 500, testSize: 200), width: 16, eta: 0.1,
    batchSize: 10, maxIterations: 200, seed: UInt64(seed))
}

/// A valid result of `config` (what an honest worker sends for a synthetic trial: no hash).
private func hostileGenuine(_ config: TrialConfig, datasetHash: String? = nil) -> TrialResult {
  let e = EvalPoint(
    iteration: 200, trainLoss: 0.25, trainAccuracy: 0.9, testLoss: 0.3, testAccuracy: 0.8)
  return TrialResult(
    config: config,
    training: TrainingSummary(
      stopReason: .maxIterations, iterations: 200, wallSeconds: 0.5, final: e,
      history: [
        EvalPoint(
          iteration: 100, trainLoss: 0.5, trainAccuracy: 0.7, testLoss: 0.6, testAccuracy: 0.65),
        e,
      ]),
    compression: nil, datasetHash: datasetHash)
}

private let hostileSettings = SchedulerSettings(
  heartbeatInterval: 1, liveness: 3, maxAttempts: 5, trialTimeout: 600)

private func hostileScheduler(_ n: Int) -> Scheduler {
  Scheduler(
    trials: (0..<n).map {
      SchedulerTrial(id: TrialID(config: hostileConfig($0)), cost: 1, config: hostileConfig($0))
    }, settings: hostileSettings)
}

private func hostileReady(slots: Int) -> ReadyBody {
  ReadyBody(
    fresh: true, host: "honest", pid: 1, slots: slots,
    state: WorkerState(credits: slots, running: []))
}

/// What the coordinator makes of frames (CoordinatorCore.receive, without I/O): the event, or
/// nil for a message it drops or answers with a reject.
private func hostileEvent(_ frames: [[UInt8]], from w: WorkerID) -> SchedulerEvent? {
  do {
    switch try WireCodec.decode(frames) {
    case .ready(let b): return .ready(w, b)
    case .heartbeat(let st): return .heartbeat(w, st)
    case .progress(let b): return .progress(w, b)
    case .result(let b): return .result(w, b)
    default: return nil
    }
  } catch {
    if case .bodyTooLarge(.result, let size, _) = error {
      return .oversizedResult(w, WireCodec.leaseHint(ofResultBody: frames[2]), size: size)
    }
    return nil
  }
}

@Suite struct HostilePeerTests {
  static let trials = (0..<6).map {
    HostileFrames.Trial(
      id: TrialID(config: hostileConfig($0)), result: hostileGenuine(hostileConfig($0)))
  }

  @Test func theFloodIsSeededAndMixesEveryKind() {
    var a = HostileFrames(seed: 7, trials: Self.trials, oversizedEvery: 500)
    var b = HostileFrames(seed: 7, trials: Self.trials, oversizedEvery: 500)
    var c = HostileFrames(seed: 8, trials: Self.trials, oversizedEvery: 500)
    var kinds: [HostileFrames.Kind: Int] = [:]
    var differ = 0
    for _ in 0..<2000 {
      let x = a.next()
      let y = b.next()
      #expect(x.kind == y.kind && x.frames == y.frames)
      if c.next().frames != x.frames { differ += 1 }
      kinds[x.kind, default: 0] += 1
    }
    // Another seed, another stream (replays of short random frames may coincide now and then).
    #expect(differ > 1900)
    for k in HostileFrames.Kind.allCases { #expect((kinds[k] ?? 0) > 0, "no \(k.rawValue)") }
    #expect(kinds[.oversized] == 4)
  }

  /// 5,000 messages of the flood from a peer with its own routing id, while an honest worker
  /// holds leases: nothing is committed, no lease of the honest worker ends, and its genuine
  /// results then commit.
  @Test func theFloodCommitsNothingAndTakesNoHonestLease() {
    var s = hostileScheduler(6)
    let honest = WorkerID("honest")
    let hostile = WorkerID("hostile")
    var t = 0.0
    var out = s.handle(.ready(honest, hostileReady(slots: 2)), now: t)
    let held = out.compactMap { a -> Lease? in
      if case .assign(let l, let w, _, false) = a, w == honest { return l }
      return nil
    }
    #expect(held.count == 2)
    var flood = HostileFrames(seed: 1, trials: Self.trials)
    var commits = 0
    var honestEnded = 0
    for i in 0..<5000 {
      t = Double(i) / 5000
      guard let event = hostileEvent(flood.next().frames, from: hostile) else { continue }
      out = s.handle(event, now: t)
      for a in out {
        if case .commit = a { commits += 1 }
        if case .endAttempt(let l, let w, _, _) = a, w == honest, held.contains(l) {
          honestEnded += 1
        }
      }
      if i % 500 == 0 {
        _ = s.handle(.heartbeat(honest, WorkerState(credits: 0, running: held)), now: t)
      }
    }
    #expect(commits == 0)
    #expect(honestEnded == 0)
    for l in held { #expect(s.lease(of: l.trial)?.1 == honest) }
    for l in held {
      let i = Self.trials.firstIndex { $0.id == l.trial }!
      out = s.handle(
        .result(honest, ResultBody(lease: l, result: Self.trials[i].result, error: nil)), now: t)
      #expect(out.contains(.commit(l, worker: honest, Self.trials[i].result)))
    }
  }

  /// Found by the chaos flood: a synthetic trial's genuine numbers under a made-up data-set
  /// hash were committed (synthetic data has no hash, so no hash was checked), and the store
  /// then held a hash that no data has. Generated data sets now require no hash.
  @Test func aForgedHashOnGeneratedDataIsRefused() {
    var s = hostileScheduler(1)
    let w = WorkerID("w")
    let out0 = s.handle(.ready(w, hostileReady(slots: 1)), now: 0)
    guard
      case .assign(let lease, _, _, _)? = out0.first(where: {
        if case .assign = $0 { return true }
        return false
      })
    else {
      Issue.record("no assignment: \(out0)")
      return
    }
    let forged = hostileGenuine(hostileConfig(0), datasetHash: String(repeating: "ab", count: 32))
    let out = s.handle(.result(w, ResultBody(lease: lease, result: forged, error: nil)), now: 1)
    #expect(!out.contains { if case .commit = $0 { return true } else { return false } }, "\(out)")
    #expect(
      out.contains {
        if case .reject(_, let body) = $0 { return body.code == .wrongData } else { return false }
      })
    #expect(s.doneCount == 0)
    // The honest form (no hash) of the same result is kept.
    var t = hostileScheduler(1)
    let o = t.handle(.ready(w, hostileReady(slots: 1)), now: 0)
    #expect(o.contains(.assign(lease, to: w, seq: 1, resend: false)))
    let honest = t.handle(
      .result(w, ResultBody(lease: lease, result: hostileGenuine(hostileConfig(0)), error: nil)),
      now: 1)
    #expect(honest.contains(.commit(lease, worker: w, hostileGenuine(hostileConfig(0)))))
  }
}
