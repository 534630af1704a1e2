import Foundation
import SweepSpec
import TailNet
import Testing

@testable import SweepWire

// The worker's state machine, fed frames as they would arrive from the coordinator.

private func frames(_ m: WireMessage) -> [[UInt8]] { WireCodec.encode(m) }

private func isLog(_ a: WorkerAction) -> Bool { if case .log = a { true } else { false } }

@Test func workerRegistersWithItsState() {
  var m = WorkerMachine(settings: workerSettings(slots: 2))
  let out = m.start(now: 0)
  #expect(
    out == [
      .send(
        .ready(
          ReadyBody(
            fresh: true, host: "node1", pid: 7, slots: 2, nullTrials: false,
            state: WorkerState(credits: 2, running: [], epoch: 0, seen: 0))))
    ])
}

@Test func undecodableFramesAreNotContact() {
  let garbage: [[[UInt8]]] = [
    [], [[0xff]], [[wireProtocolVersion], [200], []],
    [[wireProtocolVersion], [MessageKind.assign.rawValue], Array("{".utf8)],
    [[wireProtocolVersion, 0], [MessageKind.heartbeat.rawValue], []],
    // Another version's heartbeat, and a reject of another version that cannot be read.
    [[1], [MessageKind.heartbeat.rawValue], []],
    [[1], [MessageKind.reject.rawValue], Array("not json".utf8)],
  ]
  var m = WorkerMachine(settings: workerSettings())  // deadline 3 s, timeout 10 s
  _ = m.start(now: 0)
  var reconnectedAt: [Double] = []
  var exitedAt: Double?
  var t = 0.5
  while t <= 12, exitedAt == nil {
    for g in garbage {
      let out = m.receive(g, now: t)
      #expect(out.allSatisfy(isLog), "garbage \(g) gave \(out)")
    }
    let out = m.tick(now: t)
    if out.reconnects {
      reconnectedAt.append(t)
      #expect(out.sentReadies.first?.fresh == true)
    }
    if out.exits == [.coordinatorGone] { exitedAt = t }
    t += 0.5
  }
  // Reconnects after the deadline (3 s), with backoff, and exits after the timeout (10 s),
  // although frames kept arriving.
  #expect(reconnectedAt.first == 3.5)
  #expect(reconnectedAt.count >= 2)
  #expect(exitedAt == 10.5)

  // A decodable message is contact: no reconnect.
  var n = WorkerMachine(settings: workerSettings())
  _ = n.start(now: 0)
  _ = n.receive(frames(.heartbeat(nil)), now: 3)
  #expect(!n.tick(now: 3.5).reconnects)
  #expect(n.tick(now: 6.5).reconnects)
}

@Test(arguments: [UInt8(1), wireProtocolVersion - 1, wireProtocolVersion + 1])
func rejectInAnotherProtocolVersionStopsTheWorker(version: UInt8) {
  var m = WorkerMachine(settings: workerSettings())
  _ = m.start(now: 0)
  let body = RejectBody(
    code: .unsupportedVersion,
    message: "protocol version \(wireProtocolVersion) is not supported")
  let out = m.receive(WireCodec.encodeReject(body, version: version), now: 1)
  #expect(out.exits.count == 1)
  guard case .refused(let why)? = out.exits.first else {
    Issue.record("not refused: \(out)")
    return
  }
  #expect(why.contains("speaks protocol version \(version)"))
  #expect(why.contains("speaks version \(wireProtocolVersion)"))
}

@Test(arguments: [RejectCode.wrongData, .modeMismatch, .unsupportedVersion])
func fatalRejectStopsTheWorker(code: RejectCode) {
  var m = WorkerMachine(settings: workerSettings())
  _ = m.start(now: 0)
  let out = m.receive(frames(.reject(RejectBody(code: code, message: "go away"))), now: 1)
  #expect(out.exits == [.refused("go away")])
}

@Test func nonFatalRejectsAndShutdown() {
  var m = WorkerMachine(settings: workerSettings())
  _ = m.start(now: 0)
  let malformed = m.receive(
    frames(.reject(RejectBody(code: .malformed, message: "bad frame"))), now: 1)
  #expect(malformed.exits.isEmpty)
  let stop = m.receive(frames(.shutdown(ShutdownBody(reason: "sweep finished"))), now: 2)
  #expect(stop.exits == [.shutdown])
}

@Test func oversizedResultIsReplacedByAnErrorResult() {
  var m = WorkerMachine(settings: workerSettings(maxResultBytes: 300))
  _ = m.start(now: 0)
  let l = lease(tid(1), 1)
  #expect(m.receive(assignFrames(l, seq: 1), now: 0.1).runs == [l])
  let out = m.finished(ResultBody(lease: l, result: sampleResult(), error: nil), now: 1)
  #expect(out.sentResults.count == 1)
  let sent = out.sentResults.first
  #expect(sent?.lease == l)
  #expect(sent?.result == nil)
  #expect(sent?.error?.contains("exceeds the wire limit of 300 bytes") == true)
  #expect(out.contains { if case .log(.error, _) = $0 { true } else { false } })
  // Still a valid body, kept until acknowledged, and the slot is offered again.
  if let sent { #expect((try? WireCodec.decode(frames(.result(sent)))) != nil) }
  #expect(m.unacknowledged == [l])
  // The freed slot goes back in a (binary) heartbeat with the state, not a JSON `ready`.
  #expect(out.sentReadies.isEmpty)
  #expect(out.sentStates.map(\.credits) == [1])
}

@Test func longHistoryIsCappedBeforeSending() throws {
  let c = config(5, maxIterations: 10_000)
  var r = sampleResult(config: c)
  r.training.iterations = 10_000
  r.training.history = (0..<2500).map {
    EvalPoint(
      iteration: $0 * 4, trainLoss: 0.5, trainAccuracy: 0.7, testLoss: 0.6, testAccuracy: 0.65)
  }
  #expect(!r.validationProblems().isEmpty)  // too many points as computed
  var m = WorkerMachine(settings: workerSettings())
  _ = m.start(now: 0)
  let l = lease(TrialID(config: c), 1)
  _ = m.receive(assignFrames(l, seq: 1, config: c), now: 0.1)
  let out = m.finished(ResultBody(lease: l, result: r, error: nil), now: 1)
  let sent = try #require(out.sentResults.first?.result)
  #expect(sent.training.history.count == TrialResult.maxHistoryPoints)
  #expect(sent.training.history.first == r.training.history.first)
  #expect(sent.training.history.last == r.training.history.last)
  #expect(sent.training.final == r.training.final)
  #expect(sent.validationProblems().isEmpty)
}

@Test func duplicateAssignIsIgnored() {
  var m = WorkerMachine(settings: workerSettings())
  _ = m.start(now: 0)
  let l = lease(tid(1), 1)
  #expect(m.receive(assignFrames(l, seq: 1), now: 0.1).runs == [l])
  // The coordinator resends an assignment it thinks unseen: ignored.
  #expect(m.receive(assignFrames(l, seq: 1), now: 1.1).isEmpty)
  #expect(m.runningLeases == [l])
  #expect(m.state == WorkerState(credits: 0, running: [l], epoch: 1, seen: 1))
  // Finished but unacknowledged, then acknowledged: still ignored.
  _ = m.finished(ResultBody(lease: l, result: sampleResult(), error: nil), now: 2)
  #expect(m.receive(assignFrames(l, seq: 1), now: 2.1).runs.isEmpty)
  _ = m.receive(frames(.ack(l)), now: 2.2)
  #expect(m.receive(assignFrames(l, seq: 1), now: 2.3).runs.isEmpty)
  #expect(m.runningLeases.isEmpty)
}

@Test func cancelOfAnUnknownLeaseIsAnsweredWithTheState() {
  var m = WorkerMachine(settings: workerSettings())
  _ = m.start(now: 0)
  let l = lease(tid(1), 1)
  _ = m.receive(assignFrames(l, seq: 4, epoch: 9), now: 0.1)
  let out = m.receive(frames(.cancel(lease(tid(2), 3))), now: 0.2)
  let expected = WorkerState(credits: 0, running: [l], epoch: 9, seen: 4)
  #expect(m.state == expected)
  #expect(out == [.send(.heartbeat(expected))])
  // A cancel of the running lease stops it.
  #expect(m.receive(frames(.cancel(l)), now: 0.3).cancels == [l])
}

@Test func ackForgetsAResultAndRegistrationResendsTheRest() {
  var m = WorkerMachine(settings: workerSettings(slots: 2))
  _ = m.start(now: 0)
  let l1 = lease(tid(1), 1)
  let l2 = lease(tid(2), 1)
  let l3 = lease(tid(3), 1)
  _ = m.receive(assignFrames(l1, seq: 1), now: 0.1)
  _ = m.receive(assignFrames(l2, seq: 2), now: 0.1)
  let r2 = ResultBody(lease: l2, result: sampleResult(), error: nil)
  _ = m.finished(ResultBody(lease: l1, result: sampleResult(), error: nil), now: 1)
  _ = m.finished(r2, now: 1.1)
  #expect(m.unacknowledged == [l1, l2])
  _ = m.receive(frames(.ack(l1)), now: 1.2)
  #expect(m.unacknowledged == [l2])
  // The coordinator no longer knows this worker: register again, resending l2 only.
  let unknown = frames(.reject(RejectBody(code: .unknownWorker, message: "who?")))
  let out = m.receive(unknown, now: 2)
  #expect(out.sentReadies.map(\.fresh) == [true])
  #expect(out.sentResults == [r2])
  let readyIndex = out.firstIndex { if case .send(.ready) = $0 { true } else { false } }
  let resultIndex = out.firstIndex { if case .send(.result) = $0 { true } else { false } }
  #expect(readyIndex != nil && resultIndex != nil && readyIndex! < resultIndex!)
  // Several rejects in flight: at most one registration per heartbeat interval.
  #expect(m.receive(unknown, now: 2.5).sent.isEmpty)
  // A reconnect after silence resends it too.
  #expect(!m.tick(now: 5.5).reconnects)  // last heard at 2.5: deadline not passed
  let again = m.tick(now: 6)
  #expect(again.reconnects)
  #expect(again.sentResults == [r2])
  // A refused result is forgotten.
  _ = m.receive(assignFrames(l3, seq: 3), now: 6.5)
  _ = m.finished(ResultBody(lease: l3, result: sampleResult(), error: nil), now: 7)
  #expect(m.unacknowledged == [l2, l3])
  let refusal = RejectBody(code: .invalidResult, message: "nan", lease: l3)
  _ = m.receive(frames(.reject(refusal)), now: 7.5)
  #expect(m.unacknowledged == [l2])
}

@Test func shutdownWithHoldCancelsTrialsAndKeepsResults() {
  var m = WorkerMachine(settings: workerSettings(slots: 2))
  _ = m.start(now: 0)
  let l1 = lease(tid(1), 1)
  let l2 = lease(tid(2), 1)
  _ = m.receive(assignFrames(l1, seq: 1), now: 0.1)
  _ = m.receive(assignFrames(l2, seq: 2), now: 0.1)
  _ = m.finished(ResultBody(lease: l1, result: sampleResult(), error: nil), now: 1)
  let out = m.receive(frames(.shutdown(ShutdownBody(reason: "disk full", hold: true))), now: 2)
  #expect(out.exits.isEmpty)
  #expect(out.cancels == [l2])
  #expect(m.unacknowledged == [l1])
  // The cancelled run comes back and is kept too.
  _ = m.finished(ResultBody(lease: l2, result: sampleResult(.cancelled), error: nil), now: 2.5)
  #expect(m.unacknowledged == [l1, l2])
  #expect(m.runningLeases.isEmpty)
  // It waits (reconnecting, resending) up to its coordinator timeout, then exits.
  let retry = m.tick(now: 6)
  #expect(retry.reconnects && retry.exits.isEmpty)
  #expect(retry.sentResults.map(\.lease) == [l1, l2])
  #expect(m.tick(now: 12.5).exits == [.coordinatorGone])
}

// Regression (WorkerMachine.fitted, fixed): an error text longer than the 16 KiB the codec
// accepts was sent as is; the coordinator could not decode it (malformed, no lease), so the
// worker never forgot it and the attempt ended as lost instead of failed.
@Test
func overlongErrorTextIsStillDecodable() {
  var m = WorkerMachine(settings: workerSettings())
  _ = m.start(now: 0)
  let l = lease(tid(1), 1)
  _ = m.receive(assignFrames(l, seq: 1), now: 0.1)
  let long = String(repeating: "missing file /data/x; ", count: 1000)
  let out = m.finished(ResultBody(lease: l, result: nil, error: long), now: 1)
  let sent = out.sentResults.first
  #expect(sent?.error != nil)
  if let sent { #expect(throws: Never.self) { try WireCodec.decode(frames(.result(sent))) } }
}

@Test func cancelOfAQueuedLeaseDropsItAndOffersTheSlot() {
  var m = WorkerMachine(settings: workerSettings())
  _ = m.start(now: 0)
  let running = lease(tid(1), 1)
  let queued = lease(tid(2), 1)
  #expect(m.receive(assignFrames(running, seq: 1), now: 0.1).runs == [running])
  // One slot: the second assignment waits in the queue.
  #expect(m.receive(assignFrames(queued, seq: 2), now: 0.2).runs.isEmpty)
  #expect(m.state.running == [running, queued])
  let out = m.receive(frames(.cancel(queued)), now: 0.3)
  #expect(out.cancels.isEmpty)  // nothing was computing it
  #expect(out.sentReadies.map(\.state.running) == [[running]])
  // When the running trial ends, the dropped one does not start.
  let done = m.finished(ResultBody(lease: running, result: sampleResult(), error: nil), now: 1)
  #expect(done.runs.isEmpty)
  #expect(m.state.credits == 1)
}
