import Foundation
import Logging
import SweepSpec
import SweepWire
import Synchronization
import TailNet
import ZeroMQ

#if canImport(Glibc)
  import Glibc
#endif

/// Set by SIGINT/SIGTERM once `installStopSignals()` ran; loops poll it.
let stopRequested = Atomic<Int32>(0)

/// Makes SIGINT and SIGTERM request a clean stop (loops see `stopSignal` and shut down) instead
/// of killing the process; SIGPIPE is ignored.
public func installStopSignals() {
  signal(SIGINT) { sig in stopRequested.store(sig, ordering: .relaxed) }
  signal(SIGTERM) { sig in stopRequested.store(sig, ordering: .relaxed) }
  signal(SIGPIPE, SIG_IGN)
  // A parent may have started us with these signals blocked (the mask is inherited).
  var set = sigset_t()
  sigemptyset(&set)
  sigaddset(&set, SIGINT)
  sigaddset(&set, SIGTERM)
  pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

/// The signal that asked this process to stop, if any.
public var stopSignal: Int32? {
  let s = stopRequested.load(ordering: .relaxed)
  return s == 0 ? nil : s
}

// Time: `monotonicSeconds()` (TrialExecutor.swift) is the clock of the scheduler and timeouts.

/// Everything that can stop the distributed runtime, with what a person needs to act.
public enum RuntimeError: Error, CustomStringConvertible {
  /// A libzmq call failed.
  case zmq(ZMQError)
  /// An endpoint that is not loopback was given without keys and without `--insecure`.
  case insecureEndpoint(String)
  /// A key file or allow-list is missing or malformed.
  case badKeys(String)
  /// The peer speaks another protocol version.
  case protocolMismatch(String)
  /// A worker process could not be started.
  case spawnFailed(String)
  /// The store failed (disk, schema): the run stops; nothing half-written stays.
  case store(String)
  /// Another coordinator holds the results folder's store (a usage error: exit status 2).
  case storeInUse(String)

  /// A sentence for the terminal.
  public var description: String {
    switch self {
    case .zmq(let e): "ZeroMQ: \(e)"
    case .insecureEndpoint(let ep):
      "refusing to bind \(ep) without CURVE keys: pass --keys DIR and --allow FILE, "
        + "or --insecure to accept any peer on the network"
    case .badKeys(let m): "keys: \(m)"
    case .protocolMismatch(let m): "protocol: \(m)"
    case .spawnFailed(let m): "cannot start a worker: \(m)"
    case .store(let m): "store: \(m)"
    case .storeInUse(let m): m
    }
  }
}

/// Whether `endpoint` is reachable only from this machine (tcp://127.*, tcp://localhost,
/// tcp://[::1], ipc://, inproc://).
public func isLoopbackEndpoint(_ endpoint: String) -> Bool {
  let e = endpoint.lowercased()
  return e.hasPrefix("ipc://") || e.hasPrefix("inproc://") || e.hasPrefix("tcp://127.")
    || e.hasPrefix("tcp://localhost:") || e.hasPrefix("tcp://[::1]:")
}

/// Null trials measure dispatch overhead: the worker answers at once without training. Their
/// results are marked by `datasetHash == nullTrialMarker`, zero iterations and no evaluation,
/// and `tailsweep run --null-trials` keeps them in `null-trials.sqlite`, never in
/// `sweep.sqlite`.
public let nullTrialMarker = TrialResult.nullTrialDatasetHash

/// The well-formed, clearly marked result of a null trial.
public func nullTrialResult(_ config: TrialConfig) -> TrialResult {
  TrialResult(
    config: config,
    training: TrainingSummary(
      stopReason: .maxIterations, iterations: 0, wallSeconds: 0, final: nil, history: []),
    compression: nil, datasetHash: nullTrialMarker)
}

/// This machine's short host name.
func hostName() -> String {
  var buf = [CChar](repeating: 0, count: 256)
  if gethostname(&buf, buf.count) == 0 {
    return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
  return "unknown"
}

/// A logger writing to standard error at `level`.
public func makeLogger(_ label: String, level: Logger.Level) -> Logger {
  var l = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
  l.logLevel = level
  return l
}

/// Log levels (swift-log's), for command-line tools that import only SweepRuntime.
public typealias LogLevel = Logger.Level
/// CURVE keypair type (ZeroMQ's), for command-line tools that import only SweepRuntime.
public typealias CurveKeys = CurveKeyPair

/// Records how long each phase of a run took (for `tailsweep bench dispatch`): wall seconds,
/// and CPU seconds of the calling thread (the coordinator's loop runs on it).
public final class PhaseClock: Sendable {
  struct State {
    var mark = 0.0
    var cpuMark = 0.0
    var laps: [(String, Double, Double)] = []
    var summary: CoordinatorSummary?
  }
  let state = Mutex(State())
  /// A clock with no laps.
  public init() {}
  /// CPU seconds (user + system) of the calling thread.
  public static func threadCPUSeconds() -> Double {
    var u = rusage()
    getrusage(1, &u)  // RUSAGE_THREAD (not imported by Glibc)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6
      + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
  }
  /// Starts timing the first phase.
  public func start() {
    let cpu = Self.threadCPUSeconds()
    state.withLock {
      $0.mark = monotonicSeconds()
      $0.cpuMark = cpu
    }
  }
  /// Ends the current phase as `name` and starts the next.
  public func lap(_ name: String) {
    let now = monotonicSeconds()
    let cpu = Self.threadCPUSeconds()
    state.withLock {
      $0.laps.append((name, now - $0.mark, cpu - $0.cpuMark))
      $0.mark = now
      $0.cpuMark = cpu
    }
  }
  /// The phases so far, in order: name, wall seconds, CPU seconds of the thread.
  public var laps: [(name: String, seconds: Double, cpu: Double)] {
    state.withLock { $0.laps.map { (name: $0.0, seconds: $0.1, cpu: $0.2) } }
  }
  /// The coordinator's summary of the run, once it ended.
  public var summary: CoordinatorSummary? {
    get { state.withLock { $0.summary } }
    set { state.withLock { $0.summary = newValue } }
  }
}

/// The tag that ties a worker's routing id to its CURVE public key (Z85): `~` and the first 16
/// hex digits (64 bits) of the SHA-256 of the key's 32 bytes; nil for a text that is not a key.
/// Under CURVE a worker's routing id is `<its id><tag>` and the coordinator takes a message as a
/// worker's only when the routing id ends with the sender's own tag (`ZAPAllowList`
/// `routingIDSuffix`): whoever connects first, no allowed key can speak for another's worker.
/// Finding another key with the same tag takes about 2^64 key generations.
public func curveRoutingTag(publicKey: String) -> String? {
  guard let raw = try? Z85.decodeKey(publicKey) else { return nil }
  return "~" + SHA256Digest.hexString(SHA256Digest.bytes(raw).prefix(8))
}
