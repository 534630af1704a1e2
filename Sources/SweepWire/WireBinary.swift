import Foundation
import SweepSpec
import TailNet

// The hot bodies written and read by hand: exactly the bytes of the Codable form of
// BinaryCoding.swift (the layout docs/protocol.md describes), without Codable's generic
// containers, existentials and metadata look-ups, which were the largest share of the
// coordinator's and the null worker's CPU per trial. `WireBinaryTests` checks byte equality
// with the Codable form for every hot type, and that both decoders accept and refuse the same
// seeded mutations of each body. The Codable form stays as that reference.

/// Appends the lean binary form of values.
struct WireWriter {
  var bytes: [UInt8] = []

  init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

  @inline(__always) mutating func fixed<I: FixedWidthInteger>(_ v: I) {
    withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
  }
  @inline(__always) mutating func int(_ v: Int) { fixed(Int64(v)) }
  @inline(__always) mutating func double(_ v: Double) { fixed(v.bitPattern) }
  @inline(__always) mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
  mutating func string(_ s: String) {
    var s = s
    s.withUTF8 { u in
      fixed(UInt32(truncatingIfNeeded: u.count))
      bytes.append(contentsOf: u)
    }
  }
  mutating func optional<T>(_ v: T?, _ write: (inout WireWriter, T) -> Void) {
    guard let v else {
      bytes.append(0)
      return
    }
    bytes.append(1)
    write(&self, v)
  }
  mutating func value<T: WireBinary>(_ v: T) { v.write(to: &self) }
  mutating func array<T: WireBinary>(_ a: [T]) {
    fixed(UInt32(truncatingIfNeeded: a.count))
    for e in a { e.write(to: &self) }
  }
}

/// Reads the lean binary form from untrusted bytes: every read is bounds-checked and throws
/// `DecodingError` (never traps).
struct WireReader {
  let bytes: [UInt8]
  var offset = 0

  init(_ bytes: [UInt8]) { self.bytes = bytes }

  var remaining: Int { bytes.count - offset }

  func fail(_ what: String) -> DecodingError {
    .dataCorrupted(.init(codingPath: [], debugDescription: "\(what) at byte \(offset)"))
  }

  @inline(__always) mutating func fixed<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
    let n = MemoryLayout<I>.size
    guard remaining >= n else { throw fail("truncated \(I.self)") }
    var v: I = 0
    let at = offset
    bytes.withUnsafeBytes { b in
      withUnsafeMutableBytes(of: &v) {
        $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[at..<at + n]))
      }
    }
    offset += n
    return I(littleEndian: v)
  }
  @inline(__always) mutating func int() throws -> Int { Int(try fixed(Int64.self)) }
  @inline(__always) mutating func double() throws -> Double {
    Double(bitPattern: try fixed(UInt64.self))
  }
  mutating func bool() throws -> Bool {
    switch try fixed(UInt8.self) {
    case 0: return false
    case 1: return true
    default: throw fail("bad Bool")
    }
  }
  mutating func string() throws -> String {
    let n = Int(try fixed(UInt32.self))
    guard n <= remaining else { throw fail("string longer than the message") }
    let at = offset
    let text = bytes.withUnsafeBufferPointer { b in
      String(validating: UnsafeBufferPointer(rebasing: b[at..<at + n]), as: UTF8.self)
    }
    guard let text else { throw fail("invalid UTF-8") }
    offset += n
    return text
  }
  mutating func optional<T>(_ read: (inout WireReader) throws -> T) throws -> T? {
    try bool() ? read(&self) : nil
  }
  mutating func value<T: WireBinary>(_ type: T.Type) throws -> T { try T(wire: &self) }
  mutating func array<T: WireBinary>(_ type: T.Type) throws -> [T] {
    let n = Int(try fixed(UInt32.self))
    // Every element takes at least one byte: a count beyond the bytes left is a lie.
    guard n <= remaining else { throw fail("array count \(n) too large") }
    var out: [T] = []
    out.reserveCapacity(n)
    for _ in 0..<n { out.append(try T(wire: &self)) }
    return out
  }
  func raw<T: RawRepresentable>(_ type: T.Type, _ raw: T.RawValue) throws -> T {
    guard let v = T(rawValue: raw) else { throw fail("bad \(T.self) \(raw)") }
    return v
  }
}

/// A type with a hand-written lean binary form (the same bytes as its Codable form).
protocol WireBinary {
  func write(to w: inout WireWriter)
  init(wire r: inout WireReader) throws
}

extension WireBinary {
  /// The lean binary bytes.
  var wireBytes: [UInt8] {
    var w = WireWriter()
    write(to: &w)
    return w.bytes
  }

  /// Decodes from `bytes`; all of them must be used.
  init(wireBytes bytes: [UInt8]) throws {
    var r = WireReader(bytes)
    self = try Self(wire: &r)
    guard r.offset == bytes.count else {
      throw DecodingError.dataCorrupted(
        .init(codingPath: [], debugDescription: "\(bytes.count - r.offset) bytes left over"))
    }
  }
}

// MARK: Protocol types

extension TrialID: WireBinary {
  func write(to w: inout WireWriter) { w.string(hex) }
  init(wire r: inout WireReader) throws {
    let s = try r.string()
    guard let id = TrialID(hex: s) else { throw r.fail("not a trial id: \(s)") }
    self = id
  }
}

extension Lease: WireBinary {
  func write(to w: inout WireWriter) {
    trial.write(to: &w)
    w.int(attempt)
  }
  init(wire r: inout WireReader) throws {
    self.init(trial: try TrialID(wire: &r), attempt: try r.int())
  }
}

extension WorkerState: WireBinary {
  func write(to w: inout WireWriter) {
    w.int(credits)
    w.array(running)
    w.fixed(epoch)
    w.int(seen)
  }
  init(wire r: inout WireReader) throws {
    let credits = try r.int()
    let running = try r.array(Lease.self)
    self.init(
      credits: credits, running: running, epoch: try r.fixed(UInt64.self), seen: try r.int())
  }
}

extension AssignBody: WireBinary {
  func write(to w: inout WireWriter) {
    lease.write(to: &w)
    config.write(to: &w)
    w.double(timeLimit)
    w.fixed(epoch)
    w.int(seq)
  }
  init(wire r: inout WireReader) throws {
    let lease = try Lease(wire: &r)
    let config = try TrialConfig(wire: &r)
    let timeLimit = try r.double()
    self.init(
      lease: lease, config: config, timeLimit: timeLimit, epoch: try r.fixed(UInt64.self),
      seq: try r.int())
  }
}

extension ProgressBody: WireBinary {
  func write(to w: inout WireWriter) {
    lease.write(to: &w)
    w.int(iteration)
    w.int(maxIterations)
    w.optional(trainAccuracy) { $0.double($1) }
  }
  init(wire r: inout WireReader) throws {
    let lease = try Lease(wire: &r)
    let iteration = try r.int()
    let maxIterations = try r.int()
    self.init(
      lease: lease, iteration: iteration, maxIterations: maxIterations,
      trainAccuracy: try r.optional { try $0.double() })
  }
}

extension ResultBody: WireBinary {
  func write(to w: inout WireWriter) {
    lease.write(to: &w)
    w.optional(result) { $0.value($1) }
    w.optional(error) { $0.string($1) }
  }
  init(wire r: inout WireReader) throws {
    let lease = try Lease(wire: &r)
    let result = try r.optional { try TrialResult(wire: &$0) }
    self.init(lease: lease, result: result, error: try r.optional { try $0.string() })
  }
}

// MARK: Trial types (TailNet)

extension DatasetSpec: WireBinary {
  func write(to w: inout WireWriter) {
    w.string(name)
    w.optional(trainLimit) { $0.int($1) }
    w.optional(testLimit) { $0.int($1) }
    w.optional(binarize) { $0.string($1) }
    w.optional(resplit) { $0.int($1) }
    w.optional(dataSeed) { $0.fixed($1) }
    w.optional(inputs) { $0.int($1) }
    w.optional(classes) { $0.int($1) }
    w.optional(trainSize) { $0.int($1) }
    w.optional(testSize) { $0.int($1) }
    w.optional(teacherWidth) { $0.int($1) }
  }
  init(wire r: inout WireReader) throws {
    let name = try r.string()
    let trainLimit = try r.optional { try $0.int() }
    let testLimit = try r.optional { try $0.int() }
    let binarize = try r.optional { try $0.string() }
    let resplit = try r.optional { try $0.int() }
    let dataSeed = try r.optional { try $0.fixed(UInt64.self) }
    let inputs = try r.optional { try $0.int() }
    let classes = try r.optional { try $0.int() }
    let trainSize = try r.optional { try $0.int() }
    let testSize = try r.optional { try $0.int() }
    self.init(
      name: name, trainLimit: trainLimit, testLimit: testLimit, binarize: binarize,
      resplit: resplit, dataSeed: dataSeed, inputs: inputs, classes: classes,
      trainSize: trainSize, testSize: testSize, teacherWidth: try r.optional { try $0.int() })
  }
}

extension TrialConfig: WireBinary {
  func write(to w: inout WireWriter) {
    dataset.write(to: &w)
    w.int(width)
    w.int(depth)
    w.double(eta)
    w.int(batchSize)
    w.double(alpha)
    w.double(sigma)
    w.int(noiseType.rawValue)
    w.double(targetAccuracy)
    w.int(maxIterations)
    w.int(evalEvery)
    w.double(budget)
    w.fixed(seed)
    w.optional(model) { $0.string($1.rawValue) }
    w.optional(channels) { $0.double($1) }
  }
  init(wire r: inout WireReader) throws {
    let dataset = try DatasetSpec(wire: &r)
    let width = try r.int()
    let depth = try r.int()
    let eta = try r.double()
    let batchSize = try r.int()
    let alpha = try r.double()
    let sigma = try r.double()
    let noiseRaw = try r.int()
    let noiseType = try r.raw(NoiseType.self, noiseRaw)
    let targetAccuracy = try r.double()
    let maxIterations = try r.int()
    let evalEvery = try r.int()
    let budget = try r.double()
    let seed = try r.fixed(UInt64.self)
    let model = try r.optional { r -> ModelKind in
      let raw = try r.string()
      return try r.raw(ModelKind.self, raw)
    }
    self.init(
      dataset: dataset, width: width, depth: depth, eta: eta, batchSize: batchSize,
      alpha: alpha, sigma: sigma, noiseType: noiseType, targetAccuracy: targetAccuracy,
      maxIterations: maxIterations, evalEvery: evalEvery, budget: budget, seed: seed,
      model: model, channels: try r.optional { try $0.double() })
  }
}

extension EvalPoint: WireBinary {
  func write(to w: inout WireWriter) {
    w.int(iteration)
    w.double(trainLoss)
    w.double(trainAccuracy)
    w.double(testLoss)
    w.double(testAccuracy)
  }
  init(wire r: inout WireReader) throws {
    let iteration = try r.int()
    let trainLoss = try r.double()
    let trainAccuracy = try r.double()
    let testLoss = try r.double()
    self.init(
      iteration: iteration, trainLoss: trainLoss, trainAccuracy: trainAccuracy,
      testLoss: testLoss, testAccuracy: try r.double())
  }
}

extension TrainingSummary: WireBinary {
  func write(to w: inout WireWriter) {
    w.string(stopReason.rawValue)
    w.int(iterations)
    w.optional(divergedAt) { $0.int($1) }
    w.double(wallSeconds)
    w.optional(final) { $0.value($1) }
    w.array(history)
  }
  init(wire r: inout WireReader) throws {
    let stopRaw = try r.string()
    let stopReason = try r.raw(StopReason.self, stopRaw)
    let iterations = try r.int()
    let divergedAt = try r.optional { try $0.int() }
    let wallSeconds = try r.double()
    let final = try r.optional { try EvalPoint(wire: &$0) }
    self.init(
      stopReason: stopReason, iterations: iterations, divergedAt: divergedAt,
      wallSeconds: wallSeconds, final: final, history: try r.array(EvalPoint.self))
  }
}

extension ErrorCurvePoint: WireBinary {
  func write(to w: inout WireWriter) {
    w.double(kept)
    w.double(relativeError)
  }
  init(wire r: inout WireReader) throws {
    let kept = try r.double()
    self.init(kept: kept, relativeError: try r.double())
  }
}

extension FixedRatioPoint: WireBinary {
  func write(to w: inout WireWriter) {
    w.double(pruned)
    w.double(testAccuracy)
    w.double(testLoss)
  }
  init(wire r: inout WireReader) throws {
    let pruned = try r.double()
    let testAccuracy = try r.double()
    self.init(pruned: pruned, testAccuracy: testAccuracy, testLoss: try r.double())
  }
}

extension TailIndexEstimate: WireBinary {
  func write(to w: inout WireWriter) {
    w.optional(hill) { $0.double($1) }
    w.int(hillK)
    w.optional(other) { $0.double($1) }
    w.string(otherName)
  }
  init(wire r: inout WireReader) throws {
    let hill = try r.optional { try $0.double() }
    let hillK = try r.int()
    let other = try r.optional { try $0.double() }
    self.init(hill: hill, hillK: hillK, other: other, otherName: try r.string())
  }
}

extension LayerCompression: WireBinary {
  func write(to w: inout WireWriter) {
    w.int(rows)
    w.int(columns)
    w.int(prunedRows)
    w.double(squaredRelativeError)
    w.array(errorCurve)
    tailIndexNorms.write(to: &w)
    tailIndexEntries.write(to: &w)
  }
  init(wire r: inout WireReader) throws {
    let rows = try r.int()
    let columns = try r.int()
    let prunedRows = try r.int()
    let squaredRelativeError = try r.double()
    let errorCurve = try r.array(ErrorCurvePoint.self)
    let norms = try TailIndexEstimate(wire: &r)
    self.init(
      rows: rows, columns: columns, prunedRows: prunedRows,
      squaredRelativeError: squaredRelativeError, errorCurve: errorCurve,
      tailIndexNorms: norms, tailIndexEntries: try TailIndexEstimate(wire: &r))
  }
}

extension CompressionReport: WireBinary {
  func write(to w: inout WireWriter) {
    w.double(budget)
    w.double(pruningRatio)
    w.array(layers)
    unpruned.write(to: &w)
    pruned.write(to: &w)
    w.array(fixedRatioCurve)
  }
  init(wire r: inout WireReader) throws {
    let budget = try r.double()
    let pruningRatio = try r.double()
    let layers = try r.array(LayerCompression.self)
    let unpruned = try EvalPoint(wire: &r)
    let pruned = try EvalPoint(wire: &r)
    self.init(
      budget: budget, pruningRatio: pruningRatio, layers: layers, unpruned: unpruned,
      pruned: pruned, fixedRatioCurve: try r.array(FixedRatioPoint.self))
  }
}

extension TrialResult: WireBinary {
  func write(to w: inout WireWriter) {
    config.write(to: &w)
    training.write(to: &w)
    w.optional(compression) { $0.value($1) }
    w.optional(datasetHash) { $0.string($1) }
  }
  init(wire r: inout WireReader) throws {
    let config = try TrialConfig(wire: &r)
    let training = try TrainingSummary(wire: &r)
    let compression = try r.optional { try CompressionReport(wire: &$0) }
    self.init(
      config: config, training: training, compression: compression,
      datasetHash: try r.optional { try $0.string() })
  }
}
