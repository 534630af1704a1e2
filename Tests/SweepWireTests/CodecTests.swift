import Foundation
import SweepSpec
import Testing

@testable import SweepWire

@Test func everyKindRoundTrips() throws {
  let l = Lease(trial: tid(5), attempt: 2)
  let messages: [WireMessage] = [
    .ready(ready(1, running: [l])),
    .assign(AssignBody(lease: l, config: sampleConfig, timeLimit: 60)),
    .heartbeat,
    .progress(ProgressBody(lease: l, iteration: 10, maxIterations: 100, trainAccuracy: 0.5)),
    .result(ResultBody(lease: l, result: nil, error: "no data")), .ack(l),
    .reject(RejectBody(code: .unknownWorker, message: "register")),
    .shutdown(ShutdownBody(reason: "done")), .cancel(l),
  ]
  #expect(Set(messages.map(\.kind)) == Set(MessageKind.allCases))
  for m in messages {
    let frames = WireCodec.encode(m)
    #expect(frames.count == 3)
    #expect(frames[0] == [wireProtocolVersion])
    #expect(try WireCodec.decode(frames) == m)
  }
}

@Test func resultWithNonFiniteLossRoundTrips() throws {
  let frames = WireCodec.encode(.result(resultBody(tid(1), 1)))
  guard case .result(let b) = try WireCodec.decode(frames) else {
    Issue.record("not a result")
    return
  }
  #expect(b.result?.training.final?.trainLoss.isNaN == true)
  #expect(b.result?.training.final?.testAccuracy == 0.8)
}

@Test func otherProtocolVersionIsRejectedClearly() {
  var frames = WireCodec.encode(.heartbeat)
  frames[0] = [2]
  #expect(throws: WireError.unsupportedVersion(got: 2, expected: wireProtocolVersion)) {
    try WireCodec.decode(frames)
  }
  let text = WireError.unsupportedVersion(got: 2, expected: 1).description
  #expect(text.contains("version 2 is not supported"))
  #expect(WireError.unsupportedVersion(got: 2, expected: 1).rejectCode == .unsupportedVersion)
}

@Test func untrustedFramesGiveTypedErrors() {
  #expect(throws: WireError.frameCount(0)) { try WireCodec.decode([]) }
  #expect(throws: WireError.frameCount(2)) { try WireCodec.decode([[1], [3]]) }
  #expect(throws: WireError.badHeader) { try WireCodec.decode([[1, 0], [3], []]) }
  #expect(throws: WireError.unknownKind(200)) { try WireCodec.decode([[1], [200], []]) }
  let big = [UInt8](repeating: 32, count: wireMaxControlBody + 1)
  #expect(throws: WireError.bodyTooLarge(kind: .ready, size: big.count, limit: wireMaxControlBody))
  {
    try WireCodec.decode([[1], [MessageKind.ready.rawValue], big])
  }
  #expect(throws: WireError.self) {
    try WireCodec.decode([[1], [MessageKind.ready.rawValue], Array("{".utf8)])
  }
  #expect(throws: WireError.self) {
    try WireCodec.decode([[1], [MessageKind.heartbeat.rawValue], [1]])
  }
  // A bad trial id, an attempt of 0, too many credits, both result and error.
  let badID = #"{"trial":"xyz","attempt":1}"#
  #expect(throws: WireError.self) {
    try WireCodec.decode([[1], [MessageKind.ack.rawValue], Array(badID.utf8)])
  }
  let zero = #"{"trial":"\#(tid(1).hex)","attempt":0}"#
  #expect(throws: WireError.self) {
    try WireCodec.decode([[1], [MessageKind.ack.rawValue], Array(zero.utf8)])
  }
  let credits = #"{"credits":1000,"fresh":true,"host":"h","pid":1,"running":[]}"#
  #expect(throws: WireError.self) {
    try WireCodec.decode([[1], [MessageKind.ready.rawValue], Array(credits.utf8)])
  }
  var both = resultBody(tid(1), 1)
  both.error = "x"
  #expect(throws: WireError.self) { try WireCodec.decode(WireCodec.encode(.result(both))) }
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
      frames[0] = [1]
      frames[1] = [UInt8.random(in: 1...9, using: &rng)]
    }
    _ = try? WireCodec.decode(frames)
  }
}

@Test func workerIDsPrintReadably() {
  #expect(WorkerID("host-12-ab").description == "host-12-ab")
  #expect(WorkerID(raw: [0, 1, 255]).description == "0x0001ff")
}
