import SweepSpec
import TailMath
import TailNet
import Testing

@testable import SweepWire

// The hand-written codec of the hot bodies (WireBinary.swift) against the Codable form it
// replaces (BinaryCoding.swift), which stays the reference: the same bytes for the same value,
// and the same verdict (and value) on the same untrusted bytes.

/// SplitMix64 with a fixed seed: the same values on every run.
private struct Draw {
  var mix: SplitMix64
  init(state: UInt64) { mix = SplitMix64(seed: state) }
  mutating func next() -> UInt64 { mix.next() }
  mutating func coin() -> Bool { next() & 1 == 1 }
  mutating func int() -> Int { Int(truncatingIfNeeded: next()) >> Int(next() % 60) }
  mutating func double() -> Double {
    switch next() % 8 {
    case 0: return .nan
    case 1: return -.infinity
    case 2: return -0.0
    default: return Double(bitPattern: next())
    }
  }
  mutating func string() -> String {
    let pieces = ["", "a", "synthetic", "ucr/ItalyPowerDemand", "é✗", "\u{0}", "𝔸b"]
    return (0..<Int(next() % 3)).map { _ in pieces[Int(next() % UInt64(pieces.count))] }.joined()
  }
  mutating func maybe<T>(_ make: (inout Draw) -> T) -> T? { coin() ? make(&self) : nil }
  mutating func list<T>(_ make: (inout Draw) -> T) -> [T] {
    (0..<Int(next() % 4)).map { _ in make(&self) }
  }
  mutating func id() -> TrialID {
    TrialID(hex: (0..<4).map { _ in String(format: "%016llx", next()) }.joined())!
  }
}

private func randomConfig(_ d: inout Draw) -> TrialConfig {
  let spec = DatasetSpec(
    name: d.string(), trainLimit: d.maybe { $0.int() }, testLimit: d.maybe { $0.int() },
    binarize: d.maybe { $0.string() }, resplit: d.maybe { $0.int() },
    dataSeed: d.maybe { $0.next() }, inputs: d.maybe { $0.int() }, classes: d.maybe { $0.int() },
    trainSize: d.maybe { $0.int() }, testSize: d.maybe { $0.int() },
    teacherWidth: d.maybe { $0.int() })
  return TrialConfig(
    dataset: spec, width: d.int(), depth: d.int(), eta: d.double(), batchSize: d.int(),
    alpha: d.double(), sigma: d.double(),
    noiseType: NoiseType.allCases[Int(d.next() % 4)], targetAccuracy: d.double(),
    maxIterations: d.int(), evalEvery: d.int(), budget: d.double(), seed: d.next(),
    model: d.maybe { ModelKind.allCases[Int($0.next() % 2)] }, channels: d.maybe { $0.double() })
}

private func randomPoint(_ d: inout Draw) -> EvalPoint {
  EvalPoint(
    iteration: d.int(), trainLoss: d.double(), trainAccuracy: d.double(), testLoss: d.double(),
    testAccuracy: d.double())
}

private func randomTail(_ d: inout Draw) -> TailIndexEstimate {
  TailIndexEstimate(
    hill: d.maybe { $0.double() }, hillK: d.int(), other: d.maybe { $0.double() },
    otherName: d.string())
}

private func randomResult(_ d: inout Draw) -> TrialResult {
  let stops: [StopReason] = [.reachedTarget, .maxIterations, .diverged, .cancelled]
  let training = TrainingSummary(
    stopReason: stops[Int(d.next() % 4)], iterations: d.int(), divergedAt: d.maybe { $0.int() },
    wallSeconds: d.double(), final: d.maybe(randomPoint), history: d.list(randomPoint))
  let compression = d.maybe { d in
    CompressionReport(
      budget: d.double(), pruningRatio: d.double(),
      layers: d.list { d in
        LayerCompression(
          rows: d.int(), columns: d.int(), prunedRows: d.int(), squaredRelativeError: d.double(),
          errorCurve: d.list { ErrorCurvePoint(kept: $0.double(), relativeError: $0.double()) },
          tailIndexNorms: randomTail(&d), tailIndexEntries: randomTail(&d))
      }, unpruned: randomPoint(&d), pruned: randomPoint(&d),
      fixedRatioCurve: d.list {
        FixedRatioPoint(pruned: $0.double(), testAccuracy: $0.double(), testLoss: $0.double())
      })
  }
  return TrialResult(
    config: randomConfig(&d), training: training, compression: compression,
    datasetHash: d.maybe { $0.string() })
}

private func randomLease(_ d: inout Draw) -> Lease { Lease(trial: d.id(), attempt: d.int()) }

/// Bytes compared, since NaN payloads make `==` on the values useless.
private func same<T: WireBinary & Codable>(_ v: T) throws -> Bool {
  try v.wireBytes == binaryEncode(v)
}

@Test func handWrittenBytesEqualTheCodableForm() throws {
  var d = Draw(state: 0x12D)
  for _ in 0..<300 {
    let l = randomLease(&d)
    #expect(try same(l))
    #expect(
      try same(
        WorkerState(credits: d.int(), running: d.list(randomLease), epoch: d.next(), seen: d.int()))
    )
    #expect(
      try same(
        AssignBody(
          lease: l, config: randomConfig(&d), timeLimit: d.double(), epoch: d.next(),
          seq: d.int())))
    #expect(
      try same(
        ProgressBody(
          lease: l, iteration: d.int(), maxIterations: d.int(),
          trainAccuracy: d.maybe { $0.double() })))
    #expect(
      try same(
        ResultBody(lease: l, result: d.maybe(randomResult), error: d.maybe { $0.string() })))
  }
}

/// What each decoder makes of `bytes`: the re-encoded value, or nil when it refuses them.
private func verdicts<T: WireBinary & Codable>(_ type: T.Type, _ bytes: [UInt8]) -> (
  hand: [UInt8]?, codable: [UInt8]?
) {
  let hand = (try? T(wireBytes: bytes))?.wireBytes
  let codable = (try? binaryDecode(T.self, from: bytes)).flatMap { try? binaryEncode($0) }
  return (hand, codable)
}

@Test func bothDecodersAgreeOnMutatedAndTruncatedBodies() throws {
  var d = Draw(state: 0xB0D1E5)
  func check<T: WireBinary & Codable>(_ v: T) {
    let body = v.wireBytes
    #expect(verdicts(T.self, body).hand == body)
    for n in [0, 1, body.count / 2, max(0, body.count - 1)] {
      let (hand, codable) = verdicts(T.self, Array(body.prefix(n)))
      #expect(hand == codable)
    }
    for _ in 0..<200 where !body.isEmpty {
      var b = body
      for _ in 0..<(1 + Int(d.next() % 3)) {
        b[Int(d.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: d.next())
      }
      let (hand, codable) = verdicts(T.self, b)
      #expect(hand == codable)
    }
  }
  for _ in 0..<20 {
    let l = randomLease(&d)
    check(l)
    check(WorkerState(credits: 3, running: [l, randomLease(&d)], epoch: d.next(), seen: 4))
    check(
      AssignBody(lease: l, config: randomConfig(&d), timeLimit: 60, epoch: d.next(), seq: 2))
    check(ProgressBody(lease: l, iteration: 5, maxIterations: 9, trainAccuracy: 0.5))
    check(ResultBody(lease: l, result: randomResult(&d), error: nil))
    check(ResultBody(lease: l, result: nil, error: "boom"))
  }
}
