import SweepSpec
import TailNet
import TailSweepTestSupport
import Testing

@testable import SweepWire

// The lean binary encoding of the hot messages (BinaryCoding.swift).

/// A result with every optional part present: compression, curves, tail indices, errors.
private func fullResult() -> TrialResult {
  var r = sampleResult(config: config(3))
  r.training.divergedAt = 7
  r.training.history = (0..<5).map {
    EvalPoint(
      iteration: $0 * 10, trainLoss: 1 / Double($0 + 1), trainAccuracy: 0.5, testLoss: 0.25,
      testAccuracy: 0.125)
  }
  let tail = TailIndexEstimate(hill: 1.5, hillK: 10, other: nil, otherName: "pickands")
  let layer = LayerCompression(
    rows: 4, columns: 3, prunedRows: 1, squaredRelativeError: 0.01,
    errorCurve: [ErrorCurvePoint(kept: 0.5, relativeError: 0.1)], tailIndexNorms: tail,
    tailIndexEntries: TailIndexEstimate(hill: nil, hillK: 0, other: 1.9, otherName: "ml"))
  r.compression = CompressionReport(
    budget: 0.1, pruningRatio: 0.25, layers: [layer], unpruned: r.training.final!,
    pruned: r.training.final!,
    fixedRatioCurve: [FixedRatioPoint(pruned: 0.5, testAccuracy: 0.7, testLoss: 0.9)])
  r.datasetHash = String(repeating: "ab", count: 32)
  return r
}

private func hotMessages() -> [WireMessage] {
  let l = Lease(trial: rid(2), attempt: 3)
  return [
    .assign(AssignBody(lease: l, config: config(2), timeLimit: 60, epoch: 9, seq: 4)),
    .progress(ProgressBody(lease: l, iteration: 5, maxIterations: 10, trainAccuracy: nil)),
    .progress(ProgressBody(lease: l, iteration: 5, maxIterations: 10, trainAccuracy: 0.5)),
    .result(ResultBody(lease: l, result: fullResult(), error: nil)),
    .result(ResultBody(lease: l, result: nil, error: "boom ✗")),
    .ack(l), .cancel(l), .heartbeat(nil),
    .heartbeat(WorkerState(credits: 2, running: [l, Lease(trial: rid(4), attempt: 1)])),
  ]
}

@Test func hotMessagesRoundTripExactly() throws {
  for m in hotMessages() {
    let frames = WireCodec.encode(m)
    #expect(try WireCodec.decode(frames) == m)
  }
}

@Test func nonFiniteNumbersRoundTripBitForBit() throws {
  var r = fullResult()
  r.training.final?.trainLoss = .nan
  r.training.final?.testLoss = -.infinity
  r.training.wallSeconds = -0.0
  let frames = WireCodec.encode(
    .result(ResultBody(lease: Lease(trial: rid(1), attempt: 1), result: r, error: nil)))
  guard case .result(let b) = try WireCodec.decode(frames), let got = b.result else {
    Issue.record("not a result")
    return
  }
  #expect(got.training.final?.trainLoss.isNaN == true)
  #expect(got.training.final?.testLoss == -.infinity)
  #expect(got.training.wallSeconds.bitPattern == (-0.0).bitPattern)
}

/// Untrusted bytes never trap: every proper prefix of every hot message, and 2000 seeded
/// single-byte mutations of each, decode to an error or to some message, never a crash.
@Test func truncatedAndMutatedBodiesAreErrorsNotCrashes() {
  var random = SimRandom(state: 0x5EED)
  for m in hotMessages() {
    let frames = WireCodec.encode(m)
    let body = frames[2]
    for n in 0..<body.count {
      let cut = [frames[0], frames[1], Array(body.prefix(n))]
      // An empty heartbeat body is a valid heartbeat without state; every other prefix fails.
      if n == 0, m.kind == .heartbeat { continue }
      #expect(throws: WireError.self) { try WireCodec.decode(cut) }
    }
    guard !body.isEmpty else { continue }
    for _ in 0..<2000 {
      var b = body
      b[Int(random.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: random.next())
      _ = try? WireCodec.decode([frames[0], frames[1], b])
    }
  }
}

@Test func arrayCountsBeyondTheBodyAreRefused() {
  // A heartbeat whose `running` claims 2^32 - 1 leases in a body of 20 bytes.
  var body = withUnsafeBytes(of: Int64(1).littleEndian) { Array($0) }  // credits
  body += [0xFF, 0xFF, 0xFF, 0xFF]  // running: count
  body += [UInt8](repeating: 0, count: 8)
  #expect(throws: WireError.self) {
    try WireCodec.decode([[wireProtocolVersion], [MessageKind.heartbeat.rawValue], body])
  }
}

@Test func invalidUTF8IsRefused() {
  let l = Lease(trial: rid(2), attempt: 3)
  var body = WireCodec.encode(.result(ResultBody(lease: l, result: nil, error: "ab")))[2]
  // The error text is the last field: its two bytes become an invalid UTF-8 sequence.
  body[body.count - 2] = 0xC3
  body[body.count - 1] = 0x28
  #expect(throws: WireError.self) {
    try WireCodec.decode([[wireProtocolVersion], [MessageKind.result.rawValue], body])
  }
}

@Test func leftOverBytesAreRefused() {
  var frames = WireCodec.encode(.ack(Lease(trial: rid(2), attempt: 3)))
  frames[2].append(0)
  #expect(throws: WireError.self) { try WireCodec.decode(frames) }
}
