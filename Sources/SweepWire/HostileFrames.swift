import SweepSpec
import TailNet

/// The messages of a hostile (or badly broken) peer, as `tailsweep chaos` floods a coordinator
/// with them: a seeded, deterministic stream of frame lists (without a routing id) mixing
/// random bytes, valid headers with random bodies, registrations and state reports with random
/// leases, and mutated copies of genuine results for the sweep's real trials (another seed or
/// width, another trial's lease, a wrong data-set hash, non-finite numbers, flipped bytes,
/// random attempt numbers), oversized bodies and replays.
///
/// It never forges a result that an honest worker could have sent: every `result` it makes
/// fails at least one check (config hashing to the lease's trial, the data-set hash, finite
/// and in-range numbers, or decoding). A result with the right config, the right data hash and
/// made-up numbers is indistinguishable from honest work by design: only authentication (an
/// `ipc://` endpoint in a 0700 folder, or a CURVE allow-list) keeps such a peer out.
public struct HostileFrames: Sendable {
  /// What a message of the flood is.
  public enum Kind: String, CaseIterable, Sendable, Comparable {
    case randomBytes = "random bytes (1-3 frames)"
    case randomBody = "valid version and kind, random body"
    case ready = "ready with a random state (registers the peer)"
    case stateReport = "heartbeat, progress or error result with random leases"
    case wrongConfig = "result of a real trial, config of another seed or width"
    case foreignLease = "result of a real trial under another real trial's lease"
    case wrongData = "result of a real trial, wrong data-set hash"
    case nonFinite = "result of a real trial with a non-finite number"
    case flippedBytes = "result with a wrong config and flipped bytes"
    case oversized = "oversized body (result over 4 MiB, ready over 64 KiB)"
    case replay = "replay of an earlier message"

    public static func < (a: Kind, b: Kind) -> Bool {
      allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
  }

  /// A real trial of the sweep and a genuine result of it (to mutate).
  public struct Trial: Sendable {
    /// The trial id.
    public var id: TrialID
    /// A genuine result of it (its config hashes to `id`).
    public var result: TrialResult
    /// Creates a trial entry.
    public init(id: TrialID, result: TrialResult) {
      self.id = id
      self.result = result
    }
  }

  let trials: [Trial]
  var state: UInt64
  /// One in this many messages is oversized (0: none).
  let oversizedEvery: Int
  var count = 0
  var recent: [[[UInt8]]] = []

  /// A stream seeded by `seed` over `trials` (at least one, with genuine results).
  public init(seed: UInt64, trials: [Trial], oversizedEvery: Int = 1000) {
    self.trials = trials
    self.state = seed &+ 0x5DEE_CE66_D1CE_4E5B
    self.oversizedEvery = oversizedEvery
  }

  mutating func next64() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  mutating func below(_ n: Int) -> Int { Int(next64() % UInt64(max(1, n))) }
  mutating func bytes(_ n: Int) -> [UInt8] {
    (0..<n).map { _ in UInt8(truncatingIfNeeded: next64()) }
  }

  /// Attempt numbers as a broken peer sends them: out of range, small (the leases an honest
  /// worker may hold), or anything.
  mutating func attempt() -> Int {
    switch below(6) {
    case 0: return [0, -1, Int.max, Int.min, 1_000_001][below(5)]
    case 1, 2: return 1 + below(8)
    default: return 1 + below(1_000_000)
    }
  }

  mutating func trial() -> Trial { trials[below(trials.count)] }

  /// The next message: its kind and its frames.
  public mutating func next() -> (kind: Kind, frames: [[UInt8]]) {
    count += 1
    var kind: Kind
    if oversizedEvery > 0 && count % oversizedEvery == 0 {
      kind = .oversized
    } else {
      // Weights out of 100.
      let r = below(100)
      switch r {
      case ..<14: kind = .randomBytes
      case ..<28: kind = .randomBody
      case ..<33: kind = .ready
      case ..<41: kind = .stateReport
      case ..<53: kind = .wrongConfig
      case ..<62: kind = .foreignLease
      case ..<74: kind = .wrongData
      case ..<86: kind = .nonFinite
      case ..<94: kind = .flippedBytes
      default: kind = recent.isEmpty ? .randomBytes : .replay
      }
    }
    var frames = make(kind)
    if kind != .replay && !isHarmless(frames) {
      // Never a result an honest worker could have sent (see the type's comment).
      kind = .randomBytes
      frames = make(.randomBytes)
    }
    if kind != .replay {
      recent.append(frames)
      if recent.count > 64 { recent.removeFirst() }
    }
    return (kind, frames)
  }

  func header(_ kind: MessageKind) -> [[UInt8]] { [[wireProtocolVersion], [kind.rawValue]] }

  func resultFrames(_ lease: Lease, _ result: TrialResult) -> [[UInt8]] {
    // The encoder writes any attempt number; the decoder refuses those out of range.
    WireCodec.encode(.result(ResultBody(lease: lease, result: result, error: nil)))
  }

  mutating func wrongConfig(_ r: TrialResult) -> TrialResult {
    var r = r
    if below(2) == 0 {
      r.config.seed &+= UInt64(1 + below(1000))
    } else {
      r.config.width = r.config.width * 2 + below(3)
    }
    return r
  }

  mutating func make(_ kind: Kind) -> [[UInt8]] {
    switch kind {
    case .randomBytes:
      return (0..<(1 + below(3))).map { _ in bytes(below(300)) }
    case .randomBody:
      let k = MessageKind.allCases[below(MessageKind.allCases.count)]
      return header(k) + [bytes(below(600))]
    case .ready:
      let running = (0..<below(4)).map { _ in
        Lease(trial: trial().id, attempt: 1 + below(1_000_000))
      }
      let body = ReadyBody(
        fresh: below(4) != 0, host: "hostile", pid: Int32(below(65536)), slots: 1 + below(64),
        nullTrials: below(8) == 0,
        state: WorkerState(
          credits: below(65), running: running, epoch: next64(), seen: below(1000)))
      return WireCodec.encode(.ready(body))
    case .stateReport:
      let lease = Lease(trial: trial().id, attempt: attempt())
      switch below(3) {
      case 0:
        return WireCodec.encode(
          .result(ResultBody(lease: lease, result: nil, error: "hostile: no result")))
      case 1:
        let st = WorkerState(
          credits: below(65), running: [lease], epoch: next64(), seen: below(100))
        return WireCodec.encode(.heartbeat(st))
      default:
        break
      }
      return WireCodec.encode(
        .progress(
          ProgressBody(
            lease: lease, iteration: below(1000), maxIterations: below(1000),
            trainAccuracy: Double(below(100)) / 100)))
    case .wrongConfig:
      let t = trial()
      return resultFrames(Lease(trial: t.id, attempt: attempt()), wrongConfig(t.result))
    case .foreignLease:
      let a = trial()
      var b = trial()
      if trials.count > 1 { while b.id == a.id { b = trial() } }
      return resultFrames(Lease(trial: b.id, attempt: attempt()), a.result)
    case .wrongData:
      let t = trial()
      var r = t.result
      let hex = SHA256Digest.hexString(bytes(32))
      r.datasetHash = below(4) == 0 ? TrialResult.nullTrialDatasetHash : hex
      return resultFrames(Lease(trial: t.id, attempt: attempt()), r)
    case .nonFinite:
      let t = trial()
      var r = t.result
      let bad = [Double.nan, .infinity, -.infinity][below(3)]
      switch below(5) {
      case 0: r.training.wallSeconds = bad
      case 1: r.training.final?.testAccuracy = bad
      case 2: r.training.final?.trainLoss = bad
      case 3:
        if !r.training.history.isEmpty {
          r.training.history[below(r.training.history.count)].trainAccuracy = bad
        } else {
          r.training.wallSeconds = bad
        }
      default:
        if r.compression != nil {
          r.compression?.pruningRatio = bad
        } else {
          r.training.final?.testLoss = bad
        }
      }
      return resultFrames(Lease(trial: t.id, attempt: attempt()), r)
    case .flippedBytes:
      let t = trial()
      var frames = resultFrames(Lease(trial: t.id, attempt: attempt()), wrongConfig(t.result))
      for _ in 0..<(1 + below(4)) where !frames[2].isEmpty {
        frames[2][below(frames[2].count)] ^= UInt8(truncatingIfNeeded: 1 + below(255))
      }
      return frames
    case .oversized:
      if below(2) == 0 {
        // A result just over the limit whose first bytes are a real trial's lease.
        let t = trial()
        var body = Lease(trial: t.id, attempt: attempt()).wireBytes
        body += [UInt8](repeating: 0x41, count: wireMaxResultBody + 1 + below(1000) - body.count)
        return header(.result) + [body]
      }
      return header(.ready) + [[UInt8](repeating: 0x20, count: wireMaxControlBody + 1 + below(100))]
    case .replay:
      return recent[below(recent.count)]
    }
  }

  /// Whether `frames` cannot be taken for honest work: they do not decode to a `result`, or
  /// its result fails a check the coordinator makes (config of the lease's trial, the genuine
  /// data-set hash, valid numbers).
  public func isHarmless(_ frames: [[UInt8]]) -> Bool {
    guard case .result(let body)? = try? WireCodec.decode(frames), let r = body.result else {
      return true
    }
    guard let genuine = trials.first(where: { $0.id == body.lease.trial })?.result else {
      return true
    }
    return TrialID(config: r.config) != body.lease.trial || r.datasetHash != genuine.datasetHash
      || !r.validationProblems().isEmpty || r.isNullTrial
  }
}
