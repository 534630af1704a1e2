import Foundation
import SweepSpec
import TailNet

// Every message kind of the coordinator–worker protocol, its version and its codec live in
// this one file. The layout is documented in docs/protocol.md; keep the two in step.

/// The protocol version spoken by this build. A peer speaking another version is rejected with
/// `WireError.unsupportedVersion`, never guessed at.
public let wireProtocolVersion: UInt8 = 4

/// The largest body accepted for each kind (bytes). Results carry curves and can be large.
public let wireMaxResultBody = 4 << 20
/// The largest body accepted for any other kind (bytes).
public let wireMaxControlBody = 64 << 10

/// The kind byte, frame 1 of every message.
public enum MessageKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
  /// worker → coordinator: registration or a grant of free slots.
  case ready = 1
  /// coordinator → worker: run this trial under this lease.
  case assign = 2
  /// both ways: I am alive (application level, from the socket-owning thread); from a worker
  /// it carries the worker's state (free slots, leases held, last assignment seen).
  case heartbeat = 3
  /// worker → coordinator: a leased trial is advancing.
  case progress = 4
  /// worker → coordinator: a leased trial finished (result or error).
  case result = 5
  /// coordinator → worker: the result of this lease is durably handled; forget it.
  case ack = 6
  /// both ways: your message was refused (why, and what to do).
  case reject = 7
  /// coordinator → worker: stop and exit.
  case shutdown = 8
  /// coordinator → worker: abandon this lease (wall-time limit passed).
  case cancel = 9

  /// Lowercase name, as in the docs.
  public var description: String {
    switch self {
    case .ready: "ready"
    case .assign: "assign"
    case .heartbeat: "heartbeat"
    case .progress: "progress"
    case .result: "result"
    case .ack: "ack"
    case .reject: "reject"
    case .shutdown: "shutdown"
    case .cancel: "cancel"
    }
  }
}

/// One assignment of a trial: the trial and its attempt number (1, 2, …, unique per trial).
public struct Lease: Hashable, Codable, Sendable, CustomStringConvertible {
  /// The trial.
  public var trial: TrialID
  /// The attempt number of this assignment.
  public var attempt: Int
  /// Creates a lease value.
  public init(trial: TrialID, attempt: Int) {
    self.trial = trial
    self.attempt = attempt
  }
  /// `trial#attempt`.
  public var description: String { "\(trial.short)#\(attempt)" }
}

/// What a worker holds, sent with every `ready` and `heartbeat` so that the coordinator can
/// reconcile its leases and credits with the truth instead of counting deltas.
public struct WorkerState: Hashable, Codable, Sendable {
  /// Free slots now: `slots` minus the leases it holds (running or queued). 0…64.
  public var credits: Int
  /// Leases the worker holds (running or queued), in any coordinator epoch.
  public var running: [Lease]
  /// The coordinator epoch of `seen` (0: none seen yet).
  public var epoch: UInt64
  /// The highest assignment sequence number received from that epoch (0: none).
  public var seen: Int
  /// Creates a state report.
  public init(credits: Int, running: [Lease], epoch: UInt64 = 0, seen: Int = 0) {
    self.credits = credits
    self.running = running
    self.epoch = epoch
    self.seen = seen
  }
}

/// `ready`: a worker registers (`fresh`) or offers a freed slot after a result.
public struct ReadyBody: Hashable, Codable, Sendable {
  /// True on (re)registration; false for a grant after a result.
  public var fresh: Bool
  /// Host name of the worker (for the store's attempt rows).
  public var host: String
  /// Process id of the worker.
  public var pid: Int32
  /// Slots the worker declares (trials it runs at once). The coordinator never leases more
  /// than this many trials to it. 1…64.
  public var slots: Int
  /// Whether the worker runs null trials (dispatch benchmark). Must equal the coordinator's
  /// mode, else the worker is refused (`mode_mismatch`).
  public var nullTrials: Bool
  /// The worker's state.
  public var state: WorkerState
  /// Creates a ready body.
  public init(
    fresh: Bool, host: String, pid: Int32, slots: Int = 1, nullTrials: Bool = false,
    state: WorkerState
  ) {
    self.fresh = fresh
    self.host = host
    self.pid = pid
    self.slots = slots
    self.nullTrials = nullTrials
    self.state = state
  }
}

/// `assign`: run `config` under `lease`.
public struct AssignBody: Hashable, Codable, Sendable {
  /// The lease.
  public var lease: Lease
  /// The trial's full configuration.
  public var config: TrialConfig
  /// Wall-time limit in seconds; the worker cancels the trial past it.
  public var timeLimit: Double
  /// The coordinator's run (a random number per coordinator process).
  public var epoch: UInt64
  /// Sequence number of this assignment within the epoch (1, 2, …): the worker reports the
  /// highest it has seen, so the coordinator can tell assignments in flight from lost ones.
  public var seq: Int
  /// Creates an assignment.
  public init(lease: Lease, config: TrialConfig, timeLimit: Double, epoch: UInt64, seq: Int) {
    self.lease = lease
    self.config = config
    self.timeLimit = timeLimit
    self.epoch = epoch
    self.seq = seq
  }
}

/// `progress`: how far a leased trial is.
public struct ProgressBody: Hashable, Codable, Sendable {
  /// The lease.
  public var lease: Lease
  /// Iterations done.
  public var iteration: Int
  /// Iteration cap.
  public var maxIterations: Int
  /// Train accuracy at the last evaluation, if any.
  public var trainAccuracy: Double?
  /// Creates a progress report.
  public init(lease: Lease, iteration: Int, maxIterations: Int, trainAccuracy: Double?) {
    self.lease = lease
    self.iteration = iteration
    self.maxIterations = maxIterations
    self.trainAccuracy = trainAccuracy
  }
}

/// `result`: the end of a leased trial: exactly one of `result` and `error` is set.
public struct ResultBody: Hashable, Codable, Sendable {
  /// The lease.
  public var lease: Lease
  /// The trial's result (training may have diverged or been cancelled: still a result).
  public var result: TrialResult?
  /// Why the trial could not produce a result (an infrastructure problem, e.g. missing data).
  public var error: String?
  /// Creates a result body.
  public init(lease: Lease, result: TrialResult?, error: String?) {
    self.lease = lease
    self.result = result
    self.error = error
  }
}

/// Why a message was refused.
public enum RejectCode: String, Hashable, Codable, Sendable {
  /// The peer speaks another protocol version: fatal, upgrade one side.
  case unsupportedVersion = "unsupported_version"
  /// The frames could not be decoded.
  case malformed
  /// The coordinator does not know this worker (restarted, or declared it dead): send a fresh
  /// `ready` and resend unacknowledged results.
  case unknownWorker = "unknown_worker"
  /// The result (of `lease`) is not a possible measurement (non-finite or out-of-range
  /// numbers): it is dropped and the attempt ends as failed. The worker forgets the result.
  case invalidResult = "invalid_result"
  /// The result (of `lease`) is not for the leased work (its config does not hash to the
  /// trial id): dropped, the attempt ends as failed. The worker forgets the result.
  case wrongWork = "wrong_work"
  /// The worker's data set differs from the coordinator's (hashes differ): fatal for the
  /// worker, which exits with the message.
  case wrongData = "wrong_data"
  /// Null-trial mode differs between worker and coordinator: fatal for the worker.
  case modeMismatch = "mode_mismatch"
  /// The result (of `lease`) was larger than the wire limit: the attempt ends as failed.
  case tooLarge = "too_large"

  /// Whether a worker receiving this code must exit (it can never be served).
  public var isFatal: Bool {
    switch self {
    case .unsupportedVersion, .wrongData, .modeMismatch: true
    default: false
    }
  }
}

/// `reject`: a refusal with a code and a human sentence.
public struct RejectBody: Hashable, Codable, Sendable {
  /// What went wrong.
  public var code: RejectCode
  /// A sentence for logs.
  public var message: String
  /// The lease whose result was refused, when the refusal is about one result.
  public var lease: Lease?
  /// Creates a rejection.
  public init(code: RejectCode, message: String, lease: Lease? = nil) {
    self.code = code
    self.message = message
    self.lease = lease
  }
}

/// `shutdown`: stop, with a reason for the log.
public struct ShutdownBody: Hashable, Codable, Sendable {
  /// Why.
  public var reason: String
  /// True when the coordinator stops because it cannot store results (disk full, read-only,
  /// locked): the worker stops computing but keeps its unacknowledged results and waits for
  /// a coordinator (up to its coordinator timeout) to hand them to. False: exit now.
  public var hold: Bool
  /// Creates a shutdown body.
  public init(reason: String, hold: Bool = false) {
    self.reason = reason
    self.hold = hold
  }
}

/// A decoded protocol message (without the ROUTER's identity frame).
public enum WireMessage: Hashable, Sendable {
  /// worker → coordinator: registration or slots granted back.
  case ready(ReadyBody)
  /// coordinator → worker: a lease on a trial.
  case assign(AssignBody)
  /// both ways: alive; from a worker with its state (nil from the coordinator).
  case heartbeat(WorkerState?)
  /// worker → coordinator: a leased trial advances.
  case progress(ProgressBody)
  /// worker → coordinator: the end of a lease (result or error).
  case result(ResultBody)
  /// coordinator → worker: the result of this lease is handled; forget it.
  case ack(Lease)
  /// coordinator → worker: a message was refused.
  case reject(RejectBody)
  /// coordinator → worker: stop.
  case shutdown(ShutdownBody)
  /// coordinator → worker: abandon this lease.
  case cancel(Lease)

  /// The kind byte of this message.
  public var kind: MessageKind {
    switch self {
    case .ready: .ready
    case .assign: .assign
    case .heartbeat: .heartbeat
    case .progress: .progress
    case .result: .result
    case .ack: .ack
    case .reject: .reject
    case .shutdown: .shutdown
    case .cancel: .cancel
    }
  }
}

/// Why untrusted frames were not accepted. The loops log it and drop the message.
public enum WireError: Error, Hashable, Sendable, CustomStringConvertible {
  /// Not the 3 frames [version][kind][body].
  case frameCount(Int)
  /// Frame 0 or 1 is not exactly one byte.
  case badHeader
  /// The peer speaks another protocol version.
  case unsupportedVersion(got: UInt8, expected: UInt8)
  /// The kind byte is not a known kind.
  case unknownKind(UInt8)
  /// The body is larger than the kind allows.
  case bodyTooLarge(kind: MessageKind, size: Int, limit: Int)
  /// The body is not valid for the kind (JSON or value checks).
  case malformedBody(kind: MessageKind, detail: String)

  /// A sentence for logs and `reject` messages.
  public var description: String {
    switch self {
    case .frameCount(let n): "expected 3 frames [version][kind][body], got \(n)"
    case .badHeader: "version and kind frames must be one byte each"
    case .unsupportedVersion(let got, let expected):
      "protocol version \(got) is not supported (this build speaks version \(expected)); "
        + "run the same tailsweep version on coordinator and workers"
    case .unknownKind(let k): "unknown message kind \(k)"
    case .bodyTooLarge(let kind, let size, let limit):
      "\(kind) body of \(size) bytes exceeds the limit of \(limit)"
    case .malformedBody(let kind, let detail): "malformed \(kind) body: \(detail)"
    }
  }

  /// The reject code to answer with.
  public var rejectCode: RejectCode {
    if case .unsupportedVersion = self { return .unsupportedVersion }
    return .malformed
  }
}

/// Encodes and decodes messages: frames `[version: 1 byte][kind: 1 byte][body]`, the body
/// JSON (UTF-8, ISO-8601-free: only numbers, strings, bools) or empty for `heartbeat`.
public enum WireCodec {
  /// The frames of `message`.
  /// The frames of `message`. The messages of every trial (assign, progress, result, ack,
  /// cancel, heartbeat) use the lean binary encoding (BinaryCoding.swift); the rare ones
  /// (ready, reject, shutdown) stay JSON, readable in a capture and, for `reject`, by a peer
  /// of any version.
  public static func encode(_ message: WireMessage) -> [[UInt8]] {
    func json<T: Encodable>(_ v: T) -> [UInt8] {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      encoder.nonConformingFloatEncodingStrategy = .convertToString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
      // Encoding these plain structs cannot fail (non-finite floats are spelled out).
      return (try? encoder.encode(v)).map { Array($0) } ?? []
    }
    func binary<T: WireBinary>(_ v: T) -> [UInt8] {
      // Written by hand (WireBinary.swift): the bytes of the Codable form, cheaper.
      v.wireBytes
    }
    let body: [UInt8]
    switch message {
    case .ready(let b): body = json(b)
    case .assign(let b): body = binary(b)
    case .heartbeat(let state): body = state.map(binary) ?? []
    case .progress(let b): body = binary(b)
    case .result(let b): body = binary(b)
    case .ack(let l): body = binary(l)
    case .reject(let b): body = json(b)
    case .shutdown(let b): body = json(b)
    case .cancel(let l): body = binary(l)
    }
    return [[wireProtocolVersion], [message.kind.rawValue], body]
  }

  /// A `reject` framed with another protocol `version`: the coordinator answers a peer of
  /// another version in that peer's framing, so that it can read the refusal (every version
  /// frames `reject` as `[version][7][JSON {code, message}]`).
  public static func encodeReject(_ body: RejectBody, version: UInt8) -> [[UInt8]] {
    var frames = encode(.reject(body))
    frames[0] = [version]
    return frames
  }

  /// A `reject` from a peer of another protocol version, if `frames` are one: its version and
  /// body. Workers use it to exit on a version refusal whatever version the coordinator speaks.
  public static func foreignReject(_ frames: [[UInt8]]) -> (version: UInt8, body: RejectBody)? {
    guard frames.count == 3, frames[0].count == 1, frames[0][0] != wireProtocolVersion,
      frames[1] == [MessageKind.reject.rawValue], frames[2].count <= wireMaxControlBody
    else { return nil }
    struct Minimal: Decodable {
      var code: String
      var message: String?
    }
    guard let m = try? JSONDecoder().decode(Minimal.self, from: Data(frames[2])) else {
      return nil
    }
    let code = RejectCode(rawValue: m.code) ?? .malformed
    return (frames[0][0], RejectBody(code: code, message: String((m.message ?? "").prefix(1000))))
  }

  /// The lease of a `result` body too large to decode, read from its first bytes (the lease
  /// is the body's first field); nil when they are not a valid lease.
  public static func leaseHint(ofResultBody body: [UInt8]) -> Lease? {
    var reader = WireReader(Array(body.prefix(128)))
    guard let l = try? Lease(wire: &reader),
      (1...1_000_000).contains(l.attempt)
    else { return nil }
    return l
  }

  /// Decodes untrusted frames (without a ROUTER identity frame). Never traps.
  public static func decode(_ frames: [[UInt8]]) throws(WireError) -> WireMessage {
    guard frames.count == 3 else {
      // A lone version frame from another protocol version still gets a precise error.
      if let v = frames.first, v.count == 1, v[0] != wireProtocolVersion {
        throw .unsupportedVersion(got: v[0], expected: wireProtocolVersion)
      }
      throw .frameCount(frames.count)
    }
    guard frames[0].count == 1, frames[1].count == 1 else { throw .badHeader }
    guard frames[0][0] == wireProtocolVersion else {
      throw .unsupportedVersion(got: frames[0][0], expected: wireProtocolVersion)
    }
    guard let kind = MessageKind(rawValue: frames[1][0]) else { throw .unknownKind(frames[1][0]) }
    let body = frames[2]
    let limit = kind == .result ? wireMaxResultBody : wireMaxControlBody
    guard body.count <= limit else {
      throw .bodyTooLarge(kind: kind, size: body.count, limit: limit)
    }

    func json<T: Decodable>(_ type: T.Type) throws(WireError) -> T {
      let decoder = JSONDecoder()
      decoder.nonConformingFloatDecodingStrategy = .convertFromString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
      do {
        return try decoder.decode(T.self, from: Data(body))
      } catch {
        throw .malformedBody(kind: kind, detail: Self.short(error))
      }
    }
    func binary<T: WireBinary>(_ type: T.Type) throws(WireError) -> T {
      do {
        return try T(wireBytes: body)
      } catch {
        throw .malformedBody(kind: kind, detail: Self.short(error))
      }
    }
    func require(_ ok: Bool, _ detail: String) throws(WireError) {
      if !ok { throw .malformedBody(kind: kind, detail: detail) }
    }
    func checkLease(_ l: Lease) throws(WireError) {
      try require(l.attempt >= 1 && l.attempt <= 1_000_000, "attempt \(l.attempt) out of range")
    }
    func checkState(_ st: WorkerState) throws(WireError) {
      try require((0...64).contains(st.credits), "credits \(st.credits) not in 0…64")
      try require(st.running.count <= 64, "too many running leases")
      try require(st.seen >= 0, "seen must be ≥ 0")
      for l in st.running { try checkLease(l) }
    }

    switch kind {
    case .heartbeat:
      if body.isEmpty { return .heartbeat(nil) }
      let st = try binary(WorkerState.self)
      try checkState(st)
      return .heartbeat(st)
    case .ready:
      let b = try json(ReadyBody.self)
      try require((1...64).contains(b.slots), "slots \(b.slots) not in 1…64")
      try require(b.host.utf8.count <= 255, "host name too long")
      try checkState(b.state)
      return .ready(b)
    case .assign:
      let b = try binary(AssignBody.self)
      try checkLease(b.lease)
      try require(b.timeLimit > 0 && b.timeLimit.isFinite, "time limit must be > 0")
      try require(b.seq >= 1, "seq must be ≥ 1")
      return .assign(b)
    case .progress:
      let b = try binary(ProgressBody.self)
      try checkLease(b.lease)
      try require(b.iteration >= 0 && b.maxIterations >= 0, "negative iteration")
      return .progress(b)
    case .result:
      let b = try binary(ResultBody.self)
      try checkLease(b.lease)
      try require((b.result == nil) != (b.error == nil), "exactly one of result and error")
      if let e = b.error { try require(e.utf8.count <= 16_384, "error text too long") }
      return .result(b)
    case .ack:
      let l = try binary(Lease.self)
      try checkLease(l)
      return .ack(l)
    case .cancel:
      let l = try binary(Lease.self)
      try checkLease(l)
      return .cancel(l)
    case .reject:
      let b = try json(RejectBody.self)
      try require(b.message.utf8.count <= 16_384, "message too long")
      if let l = b.lease { try checkLease(l) }
      return .reject(b)
    case .shutdown:
      let b = try json(ShutdownBody.self)
      try require(b.reason.utf8.count <= 16_384, "reason too long")
      return .shutdown(b)
    }
  }

  static func short(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, _): return "missing key '\(key.stringValue)'"
    case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c),
      DecodingError.dataCorrupted(let c):
      let path = c.codingPath.map(\.stringValue).joined(separator: ".")
      return path.isEmpty ? c.debugDescription : "\(path): \(c.debugDescription)"
    default: return "\(error)"
    }
  }
}

/// A worker as the coordinator knows it: the ROUTER identity frame (1–255 bytes).
public struct WorkerID: Hashable, Sendable, Comparable, CustomStringConvertible {
  /// The raw identity bytes.
  public var raw: [UInt8]
  /// Wraps identity bytes.
  public init(raw: [UInt8]) { self.raw = raw }
  /// A text identity (workers set a readable one: `host-pid-random`).
  public init(_ text: String) { self.raw = Array(text.utf8) }
  /// Readable form: the text if printable ASCII, else hex.
  public var description: String {
    if !raw.isEmpty, raw.allSatisfy({ $0 >= 0x21 && $0 < 0x7f }) {
      return String(decoding: raw, as: UTF8.self)
    }
    return "0x" + raw.map { String(format: "%02x", $0) }.joined()
  }
  /// Orders by description (for deterministic iteration in tests and logs).
  public static func < (a: WorkerID, b: WorkerID) -> Bool { a.description < b.description }
}
