import Foundation
import SweepSpec
import SweepWire
import TailNet

// libFuzzer target: untrusted frames through `WireCodec.decode` into a coordinator
// (`Scheduler`) and a worker (`WorkerMachine`). Property: nothing traps, and what decodes
// re-encodes to frames that decode to the same bytes again. Build and run: scripts/fuzz.sh.
//
// Input: a sequence of steps (at most 16). Each step is a header byte, then its frames:
// - header bits 0–1: frame count − 1 (1…4); bits 2–3: which peer sends (0…3);
//   bits 4–6: time advance (`advances`); bit 7: afterwards, tick both machines and let the
//   worker finish its oldest running trial;
// - each frame: a 2-byte little-endian length, then that many bytes (fewer at the end).
// The frames go to `WireCodec.decode`, `foreignReject` and `leaseHint`; a decoded worker →
// coordinator message becomes a `SchedulerEvent` from that peer; every step's frames also go
// to the worker machine. Messages the scheduler addresses to the worker machine's own id, and
// what the worker answers, are delivered too (a bounded exchange), so sequences reach deep
// states.

private let advances: [Double] = [0, 0.1, 0.5, 1, 2, 5, 20, 200]
private let peers = ["w0", "w1", "w2", "worker"].map { WorkerID($0) }
/// The worker machine's identity at the coordinator (peer 3).
private let selfID = peers[3]

private func config(_ seed: Int, dataset: String = "synthetic") -> TrialConfig {
  TrialConfig(
    dataset: DatasetSpec(name: dataset, trainSize: 500, testSize: 200), width: 16, eta: 0.1,
    batchSize: 10, maxIterations: 200, seed: UInt64(seed))
}

private let configs = [config(0), config(1), config(2, dataset: "mnist")]
private let configByID = Dictionary(
  uniqueKeysWithValues: configs.map { (TrialID(config: $0), $0) })

private func madeUpID(_ n: Int) -> TrialID {
  TrialID(hex: String(repeating: "0", count: 63) + String(n, radix: 16))!
}

private func settings() -> SchedulerSettings {
  var s = SchedulerSettings(heartbeatInterval: 1, liveness: 3, maxAttempts: 3, trialTimeout: 30)
  s.datasetHashes = ["mnist": String(repeating: "ab", count: 32)]
  s.epoch = 7
  return s
}

private func workerSettings() -> WorkerSettings {
  var s = WorkerSettings(
    heartbeatInterval: 1, liveness: 3, coordinatorTimeout: 60, host: "fuzz", pid: 1)
  s.slots = 2
  s.maxResultBytes = 3000
  return s
}

/// A valid result of `c`, as a finished worker would send it.
private func result(_ c: TrialConfig) -> TrialResult {
  TrialResult(
    config: c,
    training: TrainingSummary(
      stopReason: .maxIterations, iterations: 200, wallSeconds: 0.5,
      final: EvalPoint(
        iteration: 200, trainLoss: 0.25, trainAccuracy: 0.9, testLoss: 0.3, testAccuracy: 0.8),
      history: []),
    compression: nil,
    datasetHash: c.dataset.name == "mnist" ? String(repeating: "ab", count: 32) : nil)
}

/// Frames → message → frames → message: the second encoding must equal the first.
private func checkRoundTrip(_ message: WireMessage) {
  let frames = WireCodec.encode(message)
  guard let again = try? WireCodec.decode(frames) else {
    fatalError("re-encoded \(message.kind) does not decode: \(frames)")
  }
  guard WireCodec.encode(again) == frames else {
    fatalError("re-encoded \(message.kind) is not stable: \(frames)")
  }
}

private func event(_ message: WireMessage, from peer: WorkerID) -> SchedulerEvent? {
  switch message {
  case .ready(let b): .ready(peer, b)
  case .heartbeat(let s): .heartbeat(peer, s)
  case .progress(let b): .progress(peer, b)
  case .result(let b): .result(peer, b)
  case .assign, .ack, .reject, .shutdown, .cancel: nil
  }
}

private struct Harness {
  var scheduler = Scheduler(
    trials: configs.map { SchedulerTrial(id: TrialID(config: $0), cost: 1, config: $0) }
      + (1...2).map { SchedulerTrial(id: madeUpID($0), cost: Double($0), previousAttempts: 1) },
    settings: settings())
  var worker = WorkerMachine(settings: workerSettings())
  var now = 0.0
  var running: [AssignBody] = []
  var budget = 256

  mutating func toScheduler(_ e: SchedulerEvent) {
    let actions = scheduler.handle(e, now: now)
    for a in actions where budget > 0 {
      budget -= 1
      var message: WireMessage?
      switch a {
      case .assign(let lease, let w, let seq, _) where w == selfID:
        let c = configByID[lease.trial] ?? configs[0]
        message = .assign(
          AssignBody(lease: lease, config: c, timeLimit: 30, epoch: 7, seq: seq))
      case .ack(let l, let w) where w == selfID: message = .ack(l)
      case .cancel(let l, let w) where w == selfID: message = .cancel(l)
      case .heartbeat(let w) where w == selfID: message = .heartbeat(nil)
      case .reject(let w, let b) where w == selfID: message = .reject(b)
      case .shutdown(let w, let r, let h) where w == selfID:
        message = .shutdown(ShutdownBody(reason: r, hold: h))
      default: message = nil
      }
      if let message { toWorker(WireCodec.encode(message)) }
    }
  }

  mutating func toWorker(_ frames: [[UInt8]]) {
    absorb(worker.receive(frames, now: now))
  }

  /// The worker's actions: what it sends goes to the scheduler (it must decode).
  mutating func absorb(_ actions: [WorkerAction]) {
    for a in actions where budget > 0 {
      budget -= 1
      switch a {
      case .send(let m):
        let frames = WireCodec.encode(m)
        let decoded: WireMessage
        do {
          decoded = try WireCodec.decode(frames)
        } catch {
          fatalError("the worker sent frames that do not decode: \(error)")
        }
        if let e = event(decoded, from: selfID) { toScheduler(e) }
      case .run(let b): running.append(b)
      case .cancel(let l): running.removeAll { $0.lease == l }
      case .reconnect, .log, .exit: break
      }
    }
  }

  mutating func step(_ frames: [[UInt8]], peer: WorkerID) {
    _ = WireCodec.foreignReject(frames)
    if frames.count == 3, frames[1] == [MessageKind.result.rawValue] {
      _ = WireCodec.leaseHint(ofResultBody: frames[2])
    }
    do {
      let message = try WireCodec.decode(frames)
      checkRoundTrip(message)
      if let e = event(message, from: peer) { toScheduler(e) }
    } catch .bodyTooLarge(.result, let size, _) {
      toScheduler(.oversizedResult(peer, WireCodec.leaseHint(ofResultBody: frames[2]), size: size))
    } catch {
      _ = error.description
      _ = error.rejectCode
    }
    toWorker(frames)
  }

  mutating func tick() {
    toScheduler(.tick(drained: true))
    absorb(worker.tick(now: now))
    if !running.isEmpty {
      let b = running.removeFirst()
      let body =
        b.lease.attempt % 2 == 0
        ? ResultBody(lease: b.lease, result: nil, error: "fuzz: no data")
        : ResultBody(lease: b.lease, result: result(b.config), error: nil)
      absorb(worker.finished(body, now: now))
    }
  }
}

private func run(_ bytes: UnsafeBufferPointer<UInt8>) {
  var h = Harness()
  h.absorb(h.worker.start(now: 0))
  var i = 0
  var steps = 0
  while i < bytes.count, steps < 16 {
    steps += 1
    let header = bytes[i]
    i += 1
    var frames: [[UInt8]] = []
    for _ in 0...(Int(header) & 3) {
      var length = 0
      if i < bytes.count {
        length = Int(bytes[i])
        i += 1
      }
      if i < bytes.count {
        length |= Int(bytes[i]) << 8
        i += 1
      }
      let end = min(bytes.count, i + length)
      frames.append(Array(bytes[i..<end]))
      i = end
    }
    h.now += advances[Int(header >> 4) & 7]
    h.step(frames, peer: peers[Int(header >> 2) & 3])
    if header & 0x80 != 0 { h.tick() }
  }
  h.now += 1000
  h.toScheduler(.shutdown(reason: "fuzz"))
}

/// libFuzzer's entry point: one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  run(UnsafeBufferPointer(start: data, count: size))
  return 0
}

// MARK: Seed corpus

/// The encoding of one step (see the top of the file).
private func stepBytes(_ frames: [[UInt8]], peer: Int = 0, advance: Int = 0, tick: Bool = false)
  -> [UInt8]
{
  var out: [UInt8] = [
    UInt8(frames.count - 1) | UInt8(peer) << 2 | UInt8(advance) << 4 | (tick ? 0x80 : 0)
  ]
  for f in frames {
    out += [UInt8(f.count & 0xff), UInt8(f.count >> 8)] + f
  }
  return out
}

private func seeds() -> [String: [UInt8]] {
  let c0 = configs[0]
  let id0 = TrialID(config: c0)
  let l1 = Lease(trial: id0, attempt: 1)
  let st = WorkerState(credits: 1, running: [l1], epoch: 7, seen: 1)
  let ready = ReadyBody(
    fresh: true, host: "h", pid: 1, slots: 2, state: WorkerState(credits: 2, running: []))
  let messages: [(String, WireMessage)] = [
    ("ready", .ready(ready)),
    ("assign", .assign(AssignBody(lease: l1, config: c0, timeLimit: 30, epoch: 7, seq: 1))),
    ("heartbeat-empty", .heartbeat(nil)),
    ("heartbeat-state", .heartbeat(st)),
    (
      "progress",
      .progress(ProgressBody(lease: l1, iteration: 5, maxIterations: 200, trainAccuracy: 0.5))
    ),
    ("result", .result(ResultBody(lease: l1, result: result(c0), error: nil))),
    ("result-error", .result(ResultBody(lease: l1, result: nil, error: "no data"))),
    ("ack", .ack(l1)),
    ("reject", .reject(RejectBody(code: .invalidResult, message: "bad", lease: l1))),
    ("shutdown", .shutdown(ShutdownBody(reason: "done", hold: true))),
    ("cancel", .cancel(l1)),
  ]
  var out: [String: [UInt8]] = [:]
  for (name, m) in messages { out["msg-\(name)"] = stepBytes(WireCodec.encode(m)) }
  // A session: register, get work, report it, tick.
  out["session"] =
    stepBytes(WireCodec.encode(.ready(ready)))
    + stepBytes(
      WireCodec.encode(
        .progress(ProgressBody(lease: l1, iteration: 1, maxIterations: 200, trainAccuracy: nil))),
      advance: 3)
    + stepBytes(
      WireCodec.encode(.result(ResultBody(lease: l1, result: result(c0), error: nil))), advance: 3,
      tick: true)
    + stepBytes(
      WireCodec.encode(.heartbeat(WorkerState(credits: 2, running: []))), advance: 6, tick: true)
  // The worker machine's own peer id gets assignments: run, finish, ack.
  out["session-self"] =
    stepBytes(WireCodec.encode(.ready(ready)), peer: 3, tick: true)
    + stepBytes(WireCodec.encode(.heartbeat(nil)), peer: 3, advance: 3, tick: true)
    + stepBytes(WireCodec.encode(.heartbeat(nil)), peer: 3, advance: 7, tick: true)
  // Edge cases: another version's reject, bad frame counts, bad kinds, absurd lengths.
  let foreign = Array(#"{"code":"unsupported_version","message":"speak 2"}"#.utf8)
  out["edge-foreign-reject"] = stepBytes([[2], [7], foreign])
  let v = wireProtocolVersion
  out["edge-one-frame"] = stepBytes([[v]])
  out["edge-four-frames"] = stepBytes([[v], [3], [], []])
  out["edge-kind-0"] = stepBytes([[v], [0], []])
  out["edge-huge-count"] = stepBytes([[v], [3], [1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]])
  out["edge-bad-utf8"] = stepBytes([[v], [7], [0x7b, 0x22, 0xff, 0x22, 0x7d]])
  out["edge-empty"] = []
  return out
}

/// libFuzzer calls this once before fuzzing. With `TAILSWEEP_FUZZ_SEEDS=<dir>` it writes the
/// seed corpus into that folder and exits (Fuzz/make-corpus.sh).
@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutableRawPointer) -> CInt
{
  if let dir = ProcessInfo.processInfo.environment["TAILSWEEP_FUZZ_SEEDS"] {
    for (name, bytes) in seeds() {
      _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(bytes))
    }
    exit(0)
  }
  return 0
}
