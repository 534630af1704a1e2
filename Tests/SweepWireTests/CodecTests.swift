import Foundation
import SweepSpec
import TailNet
import Testing

@testable import SweepWire

private let v = wireProtocolVersion

private func decodes(_ m: WireMessage) -> Bool {
  (try? WireCodec.decode(WireCodec.encode(m))) == m
}

private func refused(_ m: WireMessage) -> Bool {
  do {
    _ = try WireCodec.decode(WireCodec.encode(m))
    return false
  } catch {
    if case .malformedBody(m.kind, _) = error { return true }
    return false
  }
}

@Test func everyKindRoundTrips() throws {
  let l = Lease(trial: tid(5), attempt: 2)
  let messages: [WireMessage] = [
    .ready(ready(1, running: [l], slots: 2, seen: 3)),
    .assign(AssignBody(lease: l, config: sampleConfig, timeLimit: 60, epoch: 42, seq: 7)),
    .heartbeat(nil), .heartbeat(state(1, running: [l], seen: 7, epoch: 42)),
    .progress(ProgressBody(lease: l, iteration: 10, maxIterations: 100, trainAccuracy: 0.5)),
    .result(ResultBody(lease: l, result: nil, error: "no data")),
    .result(resultBody(tid(5), 2)), .ack(l),
    .reject(RejectBody(code: .unknownWorker, message: "register")),
    .reject(RejectBody(code: .invalidResult, message: "nan", lease: l)),
    .shutdown(ShutdownBody(reason: "done")), .shutdown(ShutdownBody(reason: "disk", hold: true)),
    .cancel(l),
  ]
  #expect(Set(messages.map(\.kind)) == Set(MessageKind.allCases))
  for m in messages {
    let frames = WireCodec.encode(m)
    #expect(frames.count == 3)
    #expect(frames[0] == [wireProtocolVersion])
    #expect(frames[1] == [m.kind.rawValue])
    #expect(try WireCodec.decode(frames) == m)
  }
}

@Test func heartbeatWithAndWithoutStateRoundTrips() throws {
  let bare = WireCodec.encode(.heartbeat(nil))
  #expect(bare[2].isEmpty)
  #expect(try WireCodec.decode(bare) == .heartbeat(nil))
  let st = WorkerState(
    credits: 3, running: [Lease(trial: tid(1), attempt: 1), Lease(trial: tid(2), attempt: 9)],
    epoch: UInt64.max, seen: 123)
  let full = WireCodec.encode(.heartbeat(st))
  #expect(!full[2].isEmpty)
  #expect(try WireCodec.decode(full) == .heartbeat(st))
  // Out-of-range state in a heartbeat is refused like in a ready.
  #expect(refused(.heartbeat(WorkerState(credits: 65, running: []))))
  #expect(refused(.heartbeat(WorkerState(credits: 1, running: [], seen: -1))))
}

@Test func readyBoundsAreChecked() {
  func body(
    slots: Int = 1, host: String = "h", credits: Int = 1, running: [Lease] = [], seen: Int = 0
  ) -> WireMessage {
    .ready(
      ReadyBody(
        fresh: true, host: host, pid: 1, slots: slots,
        state: WorkerState(credits: credits, running: running, seen: seen)))
  }
  #expect(decodes(body(slots: 1)) && decodes(body(slots: 64)))
  #expect(refused(body(slots: 0)) && refused(body(slots: 65)))
  #expect(decodes(body(credits: 0)) && decodes(body(credits: 64)))
  #expect(refused(body(credits: -1)) && refused(body(credits: 65)))
  #expect(decodes(body(host: String(repeating: "h", count: 255))))
  #expect(refused(body(host: String(repeating: "h", count: 256))))
  let many = (1...65).map { Lease(trial: tid($0), attempt: 1) }
  #expect(decodes(body(running: Array(many.prefix(64)))))
  #expect(refused(body(running: many)))
  #expect(refused(body(running: [Lease(trial: tid(1), attempt: 0)])))
  #expect(refused(body(seen: -1)))
}

@Test func assignBoundsAreChecked() {
  func body(attempt: Int = 1, timeLimit: Double = 60, seq: Int = 1) -> WireMessage {
    .assign(
      AssignBody(
        lease: Lease(trial: tid(1), attempt: attempt), config: sampleConfig,
        timeLimit: timeLimit, epoch: 1, seq: seq))
  }
  #expect(decodes(body()))
  #expect(decodes(body(attempt: 1_000_000)))
  #expect(refused(body(attempt: 0)) && refused(body(attempt: 1_000_001)))
  for limit in [0, -1, Double.infinity, Double.nan] {
    #expect(refused(body(timeLimit: limit)), "time limit \(limit)")
  }
  #expect(refused(body(seq: 0)))
}

@Test func resultWithNonFiniteLossRoundTrips() throws {
  // Protocol 2: only a diverged run may carry non-finite losses (else the result is invalid).
  var r = sampleResult(.diverged)
  r.training.divergedAt = 150
  r.training.final?.trainLoss = .nan
  r.training.final?.testLoss = .infinity
  #expect(r.validationProblems().isEmpty)
  let frames = WireCodec.encode(.result(resultBody(tid(1), 1, r)))
  guard case .result(let b) = try WireCodec.decode(frames) else {
    Issue.record("not a result")
    return
  }
  #expect(b.result?.training.final?.trainLoss.isNaN == true)
  #expect(b.result?.training.final?.testLoss == .infinity)
  #expect(b.result?.training.final?.testAccuracy == 0.8)
}

@Test func otherProtocolVersionIsRejectedClearly() {
  for other: UInt8 in [1, wireProtocolVersion - 1, wireProtocolVersion + 1] {
    var frames = WireCodec.encode(.heartbeat(nil))
    frames[0] = [other]
    #expect(throws: WireError.unsupportedVersion(got: other, expected: wireProtocolVersion)) {
      try WireCodec.decode(frames)
    }
    // A lone version frame still gets the precise error.
    #expect(throws: WireError.unsupportedVersion(got: other, expected: wireProtocolVersion)) {
      try WireCodec.decode([[other]])
    }
  }
  let text = WireError.unsupportedVersion(got: 3, expected: 2).description
  #expect(text.contains("version 3 is not supported") && text.contains("speaks version 2"))
  #expect(WireError.unsupportedVersion(got: 3, expected: 2).rejectCode == .unsupportedVersion)
  #expect(WireError.badHeader.rejectCode == .malformed)
}

@Test func untrustedFramesGiveTypedErrors() {
  #expect(throws: WireError.frameCount(0)) { try WireCodec.decode([]) }
  #expect(throws: WireError.frameCount(2)) { try WireCodec.decode([[v], [3]]) }
  #expect(throws: WireError.badHeader) { try WireCodec.decode([[v, 0], [3], []]) }
  #expect(throws: WireError.unknownKind(200)) { try WireCodec.decode([[v], [200], []]) }
  let big = [UInt8](repeating: 32, count: wireMaxControlBody + 1)
  #expect(throws: WireError.bodyTooLarge(kind: .ready, size: big.count, limit: wireMaxControlBody))
  {
    try WireCodec.decode([[v], [MessageKind.ready.rawValue], big])
  }
  #expect(throws: WireError.self) {
    try WireCodec.decode([[v], [MessageKind.ready.rawValue], Array("{".utf8)])
  }
  #expect(throws: WireError.self) {
    try WireCodec.decode([[v], [MessageKind.heartbeat.rawValue], [1]])
  }
  // A bad trial id, an attempt of 0, too many credits, both result and error.
  let badID = #"{"trial":"xyz","attempt":1}"#
  #expect(throws: WireError.self) {
    try WireCodec.decode([[v], [MessageKind.ack.rawValue], Array(badID.utf8)])
  }
  let zero = #"{"trial":"\#(tid(1).hex)","attempt":0}"#
  #expect(throws: WireError.self) {
    try WireCodec.decode([[v], [MessageKind.ack.rawValue], Array(zero.utf8)])
  }
  #expect(refused(.ready(ready(1000, slots: 1))))
  var both = resultBody(tid(1), 1)
  both.error = "x"
  #expect(refused(.result(both)))
  #expect(refused(.result(resultBody(tid(1), 1, nil))))
}

@Test func randomGarbageNeverTraps() {
  var rng = SystemRandomNumberGenerator()
  for _ in 0..<500 {
    let n = Int.random(in: 0...4, using: &rng)
    var frames: [[UInt8]] = []
    for _ in 0..<n {
      frames.append(
        (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng)
        })
    }
    if n == 3, Bool.random(using: &rng) {
      frames[0] = [v]
      frames[1] = [UInt8.random(in: 1...9, using: &rng)]
    }
    _ = try? WireCodec.decode(frames)
    _ = WireCodec.foreignReject(frames)
    if let body = frames.last { _ = WireCodec.leaseHint(ofResultBody: body) }
  }
}

@Test func workerIDsPrintReadably() {
  #expect(WorkerID("host-12-ab").description == "host-12-ab")
  #expect(WorkerID(raw: [0, 1, 255]).description == "0x0001ff")
}

// MARK: Foreign rejects and lease hints

@Test func rejectOfAnotherVersionIsReadable() throws {
  let body = RejectBody(
    code: .unsupportedVersion, message: "speak version 3", lease: Lease(trial: tid(1), attempt: 1))
  for other: UInt8 in [1, wireProtocolVersion - 1, wireProtocolVersion + 1] {
    let frames = WireCodec.encodeReject(body, version: other)
    #expect(frames[0] == [other])
    let foreign = try #require(WireCodec.foreignReject(frames))
    #expect(foreign.version == other)
    #expect(foreign.body.code == .unsupportedVersion)
    #expect(foreign.body.message == "speak version 3")
  }
  // Our own version is not foreign; other kinds and unreadable bodies are not rejects.
  #expect(WireCodec.foreignReject(WireCodec.encode(.reject(body))) == nil)
  #expect(WireCodec.foreignReject([[1], [MessageKind.heartbeat.rawValue], []]) == nil)
  #expect(WireCodec.foreignReject([[1], [MessageKind.reject.rawValue], Array("x".utf8)]) == nil)
  #expect(WireCodec.foreignReject([[1], [MessageKind.reject.rawValue]]) == nil)
  let huge =
    #"{"code":"malformed","message":""# + String(repeating: "m", count: wireMaxControlBody)
    + #""}"#
  #expect(WireCodec.foreignReject([[1], [MessageKind.reject.rawValue], Array(huge.utf8)]) == nil)
  // An unknown code reads as malformed; a long message is cut to 1000 characters.
  let future = #"{"code":"future_code","message":""# + String(repeating: "m", count: 5000) + #""}"#
  let f = try #require(
    WireCodec.foreignReject([[9], [MessageKind.reject.rawValue], Array(future.utf8)]))
  #expect(f.body.code == .malformed)
  #expect(f.body.message.count == 1000)
}

@Test func leaseHintReadsTheLeaseOfAResultBody() throws {
  let l = Lease(trial: rid(1), attempt: 12)
  let body = WireCodec.encode(.result(ResultBody(lease: l, result: sampleResult(), error: nil)))[2]
  #expect(WireCodec.leaseHint(ofResultBody: body) == l)
  #expect(WireCodec.leaseHint(ofResultBody: Array(body.prefix(200))) == l)
  // A body over the limit, as the coordinator sees it: undecodable, but the lease is readable.
  var r = sampleResult(config: config(1, maxIterations: 1_000_000))
  r.training.iterations = 1_000_000
  r.training.history = (0..<120_000).map {
    EvalPoint(
      iteration: $0, trainLoss: 0.123456789, trainAccuracy: 0.987654321, testLoss: 0.123456789,
      testAccuracy: 0.987654321)
  }
  let frames = WireCodec.encode(.result(ResultBody(lease: l, result: r, error: nil)))
  #expect(frames[2].count > wireMaxResultBody)
  #expect(
    throws: WireError.bodyTooLarge(kind: .result, size: frames[2].count, limit: wireMaxResultBody)
  ) {
    try WireCodec.decode(frames)
  }
  #expect(WireCodec.leaseHint(ofResultBody: frames[2]) == l)
}

@Test func leaseHintOfGarbageIsNil() {
  #expect(WireCodec.leaseHint(ofResultBody: []) == nil)
  #expect(WireCodec.leaseHint(ofResultBody: Array("garbage".utf8)) == nil)
  #expect(WireCodec.leaseHint(ofResultBody: (0..<255).map { UInt8($0) }) == nil)
  // The lease is the body's first field: [64 as 4 bytes][64 hex digits][attempt, 8 bytes].
  func lease(_ hex: String, _ attempt: Int64) -> [UInt8] {
    var b = withUnsafeBytes(of: UInt32(hex.utf8.count).littleEndian) { Array($0) }
    b += Array(hex.utf8)
    b += withUnsafeBytes(of: attempt.littleEndian) { Array($0) }
    return b
  }
  #expect(
    WireCodec.leaseHint(ofResultBody: lease(tid(1).hex, 3)) == Lease(trial: tid(1), attempt: 3))
  #expect(WireCodec.leaseHint(ofResultBody: lease(tid(1).hex, 0)) == nil)
  #expect(WireCodec.leaseHint(ofResultBody: lease(tid(1).hex, -1)) == nil)
  #expect(WireCodec.leaseHint(ofResultBody: lease(String(repeating: "z", count: 64), 1)) == nil)
  #expect(WireCodec.leaseHint(ofResultBody: lease("abc", 1)) == nil)
  #expect(WireCodec.leaseHint(ofResultBody: Array(lease(tid(1).hex, 1).prefix(70))) == nil)
}
