import Foundation
import Logging
import SweepSpec
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

/// CURVE key files: `DIR/public.key` and `DIR/secret.key`, Z85 text (40 characters) each.
public enum KeyFiles {
  /// Writes a fresh keypair into `directory` (secret file mode 0600); returns it.
  public static func generate(into directory: URL) throws -> CurveKeyPair {
    let keys = try CurveKeyPair.generate()
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let secret = directory.appendingPathComponent("secret.key")
    let pub = directory.appendingPathComponent("public.key")
    if FileManager.default.fileExists(atPath: secret.path) {
      throw RuntimeError.badKeys("\(secret.path) exists; refusing to overwrite a key")
    }
    guard
      FileManager.default.createFile(
        atPath: secret.path, contents: Data((keys.secretKey + "\n").utf8),
        attributes: [.posixPermissions: 0o600])
    else { throw RuntimeError.badKeys("cannot write \(secret.path)") }
    try Data((keys.publicKey + "\n").utf8).write(to: pub)
    return keys
  }

  /// Reads the keypair of `directory`.
  public static func load(from directory: URL) throws -> CurveKeyPair {
    let pub = try readKey(directory.appendingPathComponent("public.key"))
    let sec = try readKey(directory.appendingPathComponent("secret.key"))
    do { return try CurveKeyPair(publicKey: pub, secretKey: sec) } catch {
      throw RuntimeError.badKeys("\(directory.path): \(error)")
    }
  }

  /// A key given on the command line: 40 Z85 characters, or a file holding them.
  public static func keyArgument(_ text: String) throws -> String {
    if text.utf8.count == 40, (try? Z85.decodeKey(text)) != nil { return text }
    return try readKey(URL(fileURLWithPath: text))
  }

  /// Reads one key from a file (first non-comment line).
  static func readKey(_ url: URL) throws -> String {
    guard let text = try? String(contentsOf: url, encoding: .utf8) else {
      throw RuntimeError.badKeys("cannot read \(url.path)")
    }
    let keys = try parseKeyList(text, source: url.path)
    guard let first = keys.first else { throw RuntimeError.badKeys("\(url.path): no key") }
    return first
  }

  /// An allow-list: one Z85 public key per line (optionally followed by blanks and a comment);
  /// other lines starting with `#` are comments.
  public static func loadAllowList(_ url: URL) throws -> Set<String> {
    guard let text = try? String(contentsOf: url, encoding: .utf8) else {
      throw RuntimeError.badKeys("cannot read allow-list \(url.path)")
    }
    return Set(try parseKeyList(text, source: url.path))
  }

  static func parseKeyList(_ text: String, source: String) throws -> [String] {
    // '#' is a Z85 character (a key may even start with it): a line whose first word is a
    // valid key is a key (a comment may follow after blanks); otherwise a line starting with
    // '#' is a comment.
    var keys: [String] = []
    for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = raw.trimmingCharacters(in: .whitespaces)
      if line.isEmpty { continue }
      let word = String(line.prefix { $0 != " " && $0 != "\t" })
      if word.utf8.count == 40, (try? Z85.decodeKey(word)) != nil {
        keys.append(word)
      } else if !line.hasPrefix("#") {
        throw RuntimeError.badKeys("\(source):\(n + 1): not a 40-character Z85 key")
      }
    }
    return keys
  }

}

/// Null trials measure dispatch overhead: the worker answers at once without training. Their
/// results are marked by `datasetHash == nullTrialMarker`, zero iterations and no evaluation,
/// and `tailsweep run --null-trials` keeps them in `null-trials.sqlite`, never in
/// `sweep.sqlite`.
public let nullTrialMarker = "null-trial"

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
