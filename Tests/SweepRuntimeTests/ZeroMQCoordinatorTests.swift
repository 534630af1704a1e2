import Foundation
import SweepSpec
import SweepWire
import TailNet
import TailSweepTestSupport
import Testing
import ZeroMQ

@testable import SweepRuntime

// The coordinator loop with its real ZeroMQ ROUTER, and a raw DEALER playing the worker: the
// paths that only the socket layer can show.

/// Runs a coordinator loop on its own thread until it returns.
final class LoopThread: @unchecked Sendable {
  let loop: CoordinatorLoop
  let done = DispatchSemaphore(value: 0)
  var summary: CoordinatorSummary?
  var error: (any Error)?

  init(_ loop: CoordinatorLoop) {
    self.loop = loop
    let t = Thread { [self] in
      do { summary = try self.loop.run() } catch { self.error = error }
      done.signal()
    }
    t.start()
  }

  func wait(seconds: Double) -> Bool { done.wait(timeout: .now() + seconds) == .success }
}

/// The next message the dealer receives within `seconds`, decoded, skipping heartbeats.
func next(_ s: ZMQSocket, within seconds: Double = 10) throws -> WireMessage? {
  let end = Date().addingTimeInterval(seconds)
  while Date() < end {
    let ev = try poll([(s, .readable)], timeoutMs: 100)
    guard ev[0].contains(.readable), let frames = try s.receive(dontWait: true) else { continue }
    let m = try WireCodec.decode(frames)
    if case .heartbeat = m { continue }
    return m
  }
  return nil
}

@Test func oversizedResultOverZeroMQEndsTheAttemptWithTheRealReason() throws {
  let trial = try #require(sampleTrials(1).first)
  var settings = SchedulerSettings(
    heartbeatInterval: 0.2, liveness: 25, maxAttempts: 3, trialTimeout: 60)
  settings.datasetHashes = ["synthetic": simulatedDataHash]
  var options = CoordinatorOptions(endpoints: ["tcp://127.0.0.1:*"], scheduler: settings)
  options.progress = .none
  let loop = try CoordinatorLoop(options: options, logger: quietLogger())
  let endpoint = try #require(try loop.bind().first)
  let ledger = InMemoryLedger()
  loop.load(trials: [trial], ledger: ledger)
  let running = LoopThread(loop)

  let ctx = try ZMQContext()
  let dealer = try ZMQSocket(context: ctx, type: .dealer)
  try dealer.setRoutingID(Array("big-worker".utf8))
  try dealer.connect(endpoint)
  let hello = ReadyBody(
    fresh: true, host: "h", pid: 1, state: WorkerState(credits: 1, running: []))
  try dealer.send(WireCodec.encode(.ready(hello)))
  guard case .assign(let first)? = try next(dealer) else {
    Issue.record("no assignment")
    return
  }
  // A result body of about 5 MiB (40 bytes per point): over the 4 MiB limit, under the
  // socket's hard cap.
  var result = simulatedResult(trial.config)
  let point = result.training.history[0]
  result.training.history = Array(repeating: point, count: 120_000)
  let frames = WireCodec.encode(.result(ResultBody(lease: first.lease, result: result, error: nil)))
  #expect(frames[2].count > wireMaxResultBody)
  try dealer.send(frames)
  guard case .reject(let refusal)? = try next(dealer) else {
    Issue.record("no refusal")
    return
  }
  #expect(refusal.code == .tooLarge)
  #expect(refusal.lease == first.lease)
  // The attempt ends at once with the real reason (not hours later as a wall-time timeout),
  // and the trial is handed out again.
  let state = WorkerState(credits: 1, running: [], epoch: first.epoch, seen: first.seq)
  try dealer.send(WireCodec.encode(.heartbeat(state)))
  guard case .assign(let second)? = try next(dealer) else {
    Issue.record("no second assignment")
    return
  }
  #expect(second.lease.attempt == 2)
  try dealer.send(
    WireCodec.encode(
      .result(ResultBody(lease: second.lease, result: simulatedResult(trial.config), error: nil))))
  #expect(running.wait(seconds: 20))
  #expect(running.error == nil)
  #expect(ledger.attempts[first.lease]?.outcome == .failed)
  #expect(ledger.results[trial.id]?.lease == second.lease)
  #expect(running.summary?.committed == 1)
}

@Test func routingIDsNoWorkerHasAreIgnored() {
  #expect(CoordinatorLoop.sender(of: [Array("w1".utf8), [3]]) == WorkerID("w1"))
  #expect(CoordinatorLoop.sender(of: [[0, 1, 2, 3, 4], [3]]) == nil)  // libzmq's own
  #expect(CoordinatorLoop.sender(of: [[3], [1], [2]]) == nil)  // a version frame taken as id
  #expect(CoordinatorLoop.sender(of: [[], [3]]) == nil)
  #expect(CoordinatorLoop.sender(of: []) == nil)
}
