import ArgumentParser
import Foundation
import SweepRuntime
import SweepSpec
import TailNet

/// Flags shared by the distributed commands: heartbeat timing and logging.
struct WireTimingOptions: ParsableArguments {
  @Option(help: "Application heartbeat interval in milliseconds (both ways).")
  var heartbeatMs: Int = 1000
  @Option(
    help: "Missed heartbeats before a peer is presumed dead (deadline = liveness × interval).")
  var liveness: Int = 3
  @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
  var logLevel: String = "notice"

  func validate() throws {
    guard heartbeatMs >= 10 else { throw ValidationError("--heartbeat-ms must be ≥ 10") }
    guard liveness >= 1 else { throw ValidationError("--liveness must be ≥ 1") }
    guard LogLevel(rawValue: logLevel) != nil else {
      throw ValidationError("--log-level: unknown level '\(logLevel)'")
    }
  }
  var interval: Double { Double(heartbeatMs) / 1000 }
  var level: LogLevel { LogLevel(rawValue: logLevel) ?? .notice }
}

extension SweepRerunPolicy: ExpressibleByArgument {}
extension ProgressStyle: ExpressibleByArgument {}

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a sweep with local worker processes.",
    discussion: """
      The coordinator runs in this process (it alone writes results/<sweep>/sweep.sqlite) and \
      serves N worker processes over ZeroMQ. Ctrl-C stops cleanly; running the same command again \
      resumes. --null-trials answers every trial at once without training (to measure dispatch \
      overhead); those results go to results/<sweep>/null-trials.sqlite.
      """)

  @Argument(help: "The sweep file.") var sweep: String
  @Option(help: "Worker processes (default: one per core).") var workers: Int?
  @Option(help: "Results folder.") var results: String = "results"
  @Option(help: "Which finished trials to run again.") var rerun: SweepRerunPolicy = .none
  @Flag(help: "Workers return a marked empty result at once (dispatch benchmark).") var nullTrials =
    false
  @Option(
    help: ArgumentHelp(
      "Null trials take this many milliseconds (testing aid).", visibility: .hidden))
  var nullTrialMs: Int = 0
  @Option(
    help: """
      Endpoint the coordinator binds (loopback only). Default: a private ipc:// socket in a new \
      directory of mode 0700, which no other user can connect to.
      """) var bind: String?
  @Option(help: "How to show progress.") var progress: ProgressStyle = .auto
  @Flag(help: "Print only the closing summary: no progress, resume note or report tables.")
  var quiet = false
  @Option(help: "Also serve the live web view on HOST:PORT (as `tailsweep serve`).")
  var http: String?
  @OptionGroup var httpOptions: HTTPOptions
  @OptionGroup var data: DataDirOption
  @OptionGroup var timing: WireTimingOptions

  func validate() throws {
    try httpOptions.validate(address: http)
    if let w = workers, w < 1 { throw ValidationError("--workers must be ≥ 1") }
    if let bind, !isLoopbackEndpoint(bind) {
      throw ValidationError(
        "--bind: 'run' serves local workers only; use 'tailsweep coordinator' for \(bind)")
    }
  }

  func run() throws {
    let logger = makeLogger(
      "tailsweep.run", level: quiet ? max(timing.level, .warning) : timing.level)
    var o = WireTimingOptions.serveOptions(
      sweep: sweep, results: results, endpoints: bind.map { [$0] } ?? [], rerun: rerun,
      nullTrials: nullTrials,
      progress: quiet ? .none : progress, data: data, timing: timing)
    o.quiet = quiet
    var local = LocalRunOptions(
      workers: workers ?? ProcessInfo.processInfo.activeProcessorCount, dataDirectory: data.url)
    local.workerLogLevel = timing.level
    local.nullTrialSeconds = Double(nullTrialMs) / 1000
    let live = try http.map {
      try httpOptions.start(
        folder: try liveFolder(sweep: sweep, results: results, nullTrials: nullTrials), address: $0)
    }
    defer { live?.stop() }
    let code = try runLocalSweep(o, local: local, logger: logger)
    if code != 0 { throw ExitCode(code) }
  }
}

struct Coordinator: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Serve a sweep to remote workers over ZeroMQ.",
    discussion: """
      Binding anything but loopback (tcp://127.*, ipc://, inproc://) needs CURVE keys \
      (--keys DIR with public.key and secret.key from 'tailsweep keys generate', and --allow FILE \
      listing the workers' public keys, one per line), or an explicit --insecure.
      """)

  @Argument(help: "The sweep file.") var sweep: String
  @Option(help: "Endpoint to bind, e.g. tcp://*:5555 (repeatable).") var bind: [String] = []
  @Option(help: "Results folder.") var results: String = "results"
  @Option(help: "Which finished trials to run again.") var rerun: SweepRerunPolicy = .none
  @Option(help: "Folder with the coordinator's CURVE keypair.") var keys: String?
  @Option(help: "File of allowed worker public keys (Z85, one per line).") var allow: String?
  @Flag(help: "Accept unauthenticated, unencrypted workers on a non-loopback endpoint.")
  var insecure = false
  @Flag(help: "Null trials (dispatch benchmark): results go to null-trials.sqlite.")
  var nullTrials = false
  @Option(help: "How to show progress.") var progress: ProgressStyle = .auto
  @Option(help: "Also serve the live web view on HOST:PORT (as `tailsweep serve`).")
  var http: String?
  @OptionGroup var httpOptions: HTTPOptions
  @OptionGroup var data: DataDirOption
  @OptionGroup var timing: WireTimingOptions

  func validate() throws {
    try httpOptions.validate(address: http)
    if bind.isEmpty { throw ValidationError("give at least one --bind endpoint") }
    if (keys == nil) != (allow == nil) { throw ValidationError("--keys and --allow go together") }
  }

  func run() throws {
    let logger = makeLogger("tailsweep.coordinator", level: timing.level)
    if keys == nil && !insecure, let open = bind.first(where: { !isLoopbackEndpoint($0) }) {
      throw UsageError(RuntimeError.insecureEndpoint(open).description)
    }
    var o = WireTimingOptions.serveOptions(
      sweep: sweep, results: results, endpoints: bind, rerun: rerun, nullTrials: nullTrials,
      progress: progress, data: data, timing: timing)
    o.drainAfterFinish = true
    // Remote workers outlive a coordinator: one that still computes a lease of a killed
    // coordinator gets 10 s to come back and report it before the trial is handed out again.
    o.interruptedHold = 10
    // Remote workers read their own data folders: check what this host has.
    o.dataCheck = .skip
    if let k = keys, let a = allow {
      do {
        o.serverKeys = try KeyFiles.load(from: URL(fileURLWithPath: k))
        o.allowedKeys = try KeyFiles.loadAllowList(URL(fileURLWithPath: a))
      } catch { throw UsageError("\(error)") }
    }
    let live = try http.map {
      try httpOptions.start(
        folder: try liveFolder(sweep: sweep, results: results, nullTrials: nullTrials), address: $0)
    }
    defer { live?.stop() }
    let code = try serveSweep(o, logger: logger)
    if code != 0 { throw ExitCode(code) }
  }
}

struct Worker: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Connect to a coordinator and run trials.",
    discussion: """
      Asks the coordinator for one trial at a time, trains it on a separate thread with one \
      OpenBLAS thread (run one worker per core; --threads to change) and keeps each result until \
      the coordinator acknowledges it. Exits on shutdown, or when the coordinator stayed silent \
      for --coordinator-timeout seconds. Connecting to anything but loopback (tcp://127.*, ipc://, \
      inproc://) needs CURVE (--server-key and --keys), or an explicit --insecure.
      """)

  @Option(help: "Coordinator endpoint, e.g. tcp://host:5555.") var connect: String
  // Unconditional: a Z85 key may start with '-'.
  @Option(
    parsing: .unconditional,
    help: "Coordinator public key (40 Z85 characters, or a file holding it).")
  var serverKey: String?
  @Option(help: "Folder with this worker's CURVE keypair (with --server-key).") var keys: String?
  @Flag(help: "Connect to a non-loopback coordinator without CURVE (unauthenticated, unencrypted).")
  var insecure = false
  @Option(
    help:
      "Identity shown to the coordinator (default host-pid-random); with CURVE keys the key's tag (~ and 16 hex digits) is appended."
  ) var id: String?
  @Option(help: "Exit after the coordinator was silent this many seconds.") var coordinatorTimeout:
    Double = 600
  @Flag(help: "Return a marked empty result at once (dispatch benchmark).") var nullTrials = false
  @Option(
    help: ArgumentHelp(
      "Null trials take this many milliseconds (testing aid).", visibility: .hidden))
  var nullTrialMs: Int = 0
  @Flag(help: "Exit when the parent process is gone (local supervision).") var exitWithParent =
    false
  @Option(help: "OpenBLAS threads of this worker; 1 suits one worker per core.")
  var threads: Int = 1
  @Option(
    help: ArgumentHelp(
      "Trials this worker runs at once, 1–64; 1 suits one worker per core.",
      discussion: "With --null-trials: how many assignments it holds at once."))
  var slots: Int = 1
  @OptionGroup var data: DataDirOption
  @OptionGroup var timing: WireTimingOptions

  func validate() throws {
    if threads < 1 { throw ValidationError("--threads must be ≥ 1") }
    if !(1...64).contains(slots) { throw ValidationError("--slots must be in 1…64") }
    if (serverKey == nil) != (keys == nil) {
      throw ValidationError("--server-key and --keys go together")
    }
    if id.map({ $0.utf8.count < 2 || $0.utf8.count > 200 }) == true {
      throw ValidationError("--id: 2–200 bytes")
    }
  }

  func run() throws {
    if serverKey == nil && !insecure && !isLoopbackEndpoint(connect) {
      throw UsageError(
        "refusing to connect to \(connect) in plain text: pass --server-key KEY|FILE and "
          + "--keys DIR for CURVE, or --insecure to talk to it unauthenticated and unencrypted")
    }
    let logger = makeLogger("tailsweep.worker", level: timing.level)
    BLASThreads.set(threads)
    var o = WorkerOptions(endpoint: connect, dataDirectory: data.url)
    o.id = id
    o.heartbeatInterval = timing.interval
    o.liveness = timing.liveness
    o.coordinatorTimeout = coordinatorTimeout
    o.nullTrials = nullTrials
    o.slots = slots
    o.nullTrialSeconds = Double(nullTrialMs) / 1000
    o.exitWithParent = exitWithParent
    if let s = serverKey, let k = keys {
      do {
        o.serverKey = try KeyFiles.keyArgument(s)
        o.keys = try KeyFiles.load(from: URL(fileURLWithPath: k))
      } catch { throw UsageError("\(error)") }
    }
    let code = try runWorker(o, logger: logger)
    if code != 0 { throw ExitCode(code) }
  }
}

struct Keys: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "CURVE key management.", subcommands: [GenerateKeys.self])
}

struct GenerateKeys: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "generate",
    abstract: "Write a CURVE keypair (Z85) as DIR/public.key and DIR/secret.key (mode 0600).")
  @Option(help: "Output folder.") var out: String

  func run() throws {
    let keys: CurveKeys
    do { keys = try KeyFiles.generate(into: URL(fileURLWithPath: out)) } catch {
      throw UsageError("\(error)")
    }
    print(keys.publicKey)
  }
}

extension WireTimingOptions {
  /// The coordinator options both `run` and `coordinator` build from their shared flags.
  static func serveOptions(
    sweep: String, results: String, endpoints: [String], rerun: SweepRerunPolicy,
    nullTrials: Bool, progress: ProgressStyle, data: DataDirOption, timing: WireTimingOptions
  ) -> SweepServeOptions {
    var o = SweepServeOptions(
      sweepPath: sweep, resultsDirectory: URL(fileURLWithPath: results), endpoints: endpoints)
    o.rerun = rerun
    o.nullTrials = nullTrials
    o.heartbeatInterval = timing.interval
    o.liveness = timing.liveness
    o.progress = progress
    o.dataDirectory = data.url
    return o
  }
}

/// The results folder of `sweep` under `results` (where its store is or will be), for `--http`.
/// With null trials, its `null-trials.sqlite`.
func liveFolder(sweep: String, results: String, nullTrials: Bool = false) throws -> String {
  let s = try SweepLoader.load(path: sweep)
  let folder = URL(fileURLWithPath: results).appendingPathComponent(s.name)
  return nullTrials ? folder.appendingPathComponent("null-trials.sqlite").path : folder.path
}
