import Foundation
import Logging
import SweepReport
import SweepSpec
import SweepStore
import SweepWire
import TailNet
import ZeroMQ

/// The store as the coordinator's ledger.
final class StoreLedger: CoordinatorLedger {
  let store: SweepStore
  init(store: SweepStore) { self.store = store }

  func started(_ lease: Lease, worker: String, host: String) throws {
    try store.attemptStarted(
      trial: lease.trial, attempt: lease.attempt, worker: worker, host: host, at: Date())
  }
  func ended(_ lease: Lease, outcome: AttemptOutcome, error: String?) throws {
    try store.attemptEnded(
      trial: lease.trial, attempt: lease.attempt, outcome: outcome, error: error, at: Date())
  }
  func commit(_ lease: Lease, worker: String, host: String, result: TrialResult) throws -> Bool {
    try store.commit(
      trial: lease.trial, attempt: lease.attempt, worker: worker, host: host, result: result,
      at: Date()) == .committed
  }
  func failed(_ trial: TrialID, error: String) throws {
    try store.markFailed(trial: trial, error: error)
  }
  func inBatch(_ body: () throws -> Void) throws {
    try store.batch(body)
  }
  func progress(_ entries: [AttemptProgress]) throws {
    try store.recordProgress(entries)
  }
  func workers(_ entries: [WorkerLiveness]) throws {
    try store.recordWorkers(entries)
  }
}

/// Options shared by `tailsweep run` and `tailsweep coordinator`.
public struct SweepServeOptions: Sendable {
  /// The sweep file.
  public var sweepPath: String
  /// Results folder: the store is `<results>/<sweep name>/sweep.sqlite`.
  public var resultsDirectory: URL
  /// Which finished trials to run again.
  public var rerun: RerunPolicy = .none
  /// Null trials (dispatch benchmark): results go to `null-trials.sqlite` instead.
  public var nullTrials = false
  /// Heartbeat interval, seconds.
  public var heartbeatInterval: Double = 1
  /// Missed heartbeats before a peer is presumed dead.
  public var liveness: Int = 3
  /// Endpoints to bind.
  public var endpoints: [String]
  /// CURVE server keys and allow-list (nil: none).
  public var serverKeys: CurveKeyPair?
  /// Allowed worker keys.
  public var allowedKeys: Set<String> = []
  /// Live progress output.
  public var progress: ProgressStyle = .auto
  /// Data folder, when this host has one: its data-set hashes go into the provenance.
  public var dataDirectory: URL?
  /// Answer late workers with `shutdown` for a moment after the sweep (remote workers).
  public var drainAfterFinish = false
  /// Seconds a trial whose lease was running when the previous coordinator of this store
  /// stopped is held for that lease's worker (0: not held; local workers of `run` die with
  /// their coordinator). `SchedulerSettings.interruptedHold`.
  public var interruptedHold = 0.0
  /// Where the run records how long each phase took (benchmarks); nil: nowhere.
  public var phases: PhaseClock?
  /// Check every trial against `dataDirectory` before anything starts (`PreDispatchCheck`):
  /// `.fail` when a data set is missing (local workers), `.skip` to check only the data sets
  /// present on this host (remote workers); nil: no check (null trials).
  public var dataCheck: PreDispatchCheck.Missing? = .fail
  /// Print only the closing summary (no resume note, no report tables).
  public var quiet = false
  /// Print nothing after the run, and write no report (benchmarks that print their own
  /// table; the store keeps every result).
  public var silent = false
  /// Creates options.
  public init(sweepPath: String, resultsDirectory: URL, endpoints: [String]) {
    self.sweepPath = sweepPath
    self.resultsDirectory = resultsDirectory
    self.endpoints = endpoints
  }
}

/// A coordinator ready to serve one sweep: sweep loaded, store open, trials chosen.
public final class PreparedSweep {
  /// The sweep file, loaded; its `name` is the name it is recorded under (`small@2` for a
  /// second definition under the name `small`).
  public let sweep: Sweep
  /// The store (single writer: this process).
  public let store: SweepStore
  /// Store id of the sweep.
  public let sweepID: Int64
  /// Path of the store file.
  public let storePath: String
  /// The coordinator loop (bound by `prepareSweep`).
  public let loop: CoordinatorLoop
  /// Print only the closing summary.
  public var quiet = false
  /// Print nothing after the run and write no report (`SweepServeOptions.silent`).
  public var silent = false

  init(sweep: Sweep, store: SweepStore, sweepID: Int64, storePath: String, loop: CoordinatorLoop) {
    self.sweep = sweep
    self.store = store
    self.sweepID = sweepID
    self.storePath = storePath
    self.loop = loop
  }
}

/// Loads the sweep, binds the coordinator's ROUTER, then opens (or resumes) its store — taking
/// the store's writer lock, so a second coordinator on the same results folder stops before it
/// changes anything — and picks the trials to run.
public func prepareSweep(_ o: SweepServeOptions, logger: Logger) throws -> PreparedSweep {
  o.phases?.start()
  var check: PreDispatchCheck?
  if let mode = o.dataCheck, !o.nullTrials, let dir = o.dataDirectory {
    check = PreDispatchCheck(dataDirectory: dir, missing: mode)
  }
  let sweep = try SweepLoader.load(path: o.sweepPath, check: check?.trialCheck)
  for name in (check?.unchecked ?? []).sorted() {
    logger.warning(
      "data set not in this host's data folder: not checked before dispatch; workers need it",
      metadata: ["dataset": "\(name)", "data": "\(o.dataDirectory?.path ?? "-")"])
  }
  o.phases?.lap("plan")
  var settings = SchedulerSettings(
    heartbeatInterval: o.heartbeatInterval, liveness: o.liveness,
    maxAttempts: sweep.settings.retries + 1, trialTimeout: sweep.settings.trialTimeout)
  settings.nullTrials = o.nullTrials
  settings.epoch = UInt64.random(in: 1...UInt64.max)
  let hashes = datasetHashes(sweep, dataDirectory: o.dataDirectory)
  settings.datasetHashes = o.nullTrials ? [:] : hashes
  settings.interruptedHold = o.interruptedHold
  var options = CoordinatorOptions(endpoints: o.endpoints, scheduler: settings)
  options.serverKeys = o.serverKeys
  options.allowedKeys = o.allowedKeys
  options.progress = o.progress
  options.drainAfterFinish = o.drainAfterFinish
  var log = logger
  log[metadataKey: "sweep"] = .string(sweep.name)
  let loop = try CoordinatorLoop(options: options, logger: log)
  let bound = try loop.bind()

  let folder = o.resultsDirectory.appendingPathComponent(sweep.name)
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  let storePath = folder.appendingPathComponent(
    o.nullTrials ? SweepStore.nullTrialsFileName : "sweep.sqlite"
  ).path
  let store: SweepStore
  do {
    store = try SweepStore(path: storePath, allowNullResults: o.nullTrials)
  } catch let e as StoreError {
    if case .locked = e { throw RuntimeError.storeInUse(e.description) }
    throw e
  }
  let provenance = Provenance(
    toolVersion: "\(tailSweepVersion) (wire protocol \(wireProtocolVersion), "
      + "trial semantics \(trialSemanticsVersion))",
    gitCommit: gitCommit(near: URL(fileURLWithPath: o.sweepPath).deletingLastPathComponent()),
    host: hostName(),
    datasetHashes: hashes,
    blas: "\(BLASThreads.configuration); 1 thread per worker process")
  let definition = try chooseDefinition(store: store, sweep: sweep)
  if let note = definition.note { print(note) }
  let sweepID = try store.beginSweep(
    name: definition.name, description: sweep.description, path: sweep.path, text: sweep.text,
    trials: sweep.trials, provenance: provenance)
  try store.recordDefinition(
    sweepID: sweepID, family: sweep.name, version: definition.version,
    hash: sweep.definitionHash)
  let toRun = try store.trialsToRun(sweepID: sweepID, rerun: o.rerun)
  // Leases a coordinator's stop interrupted (this start's recovery, or an earlier one's, if
  // nothing replaced them since): their workers may still compute them and come back.
  var interrupted: [TrialID: InterruptedLease] = [:]
  if o.interruptedHold > 0 {
    for a in try store.interruptedAttempts(sweepID: sweepID) where !a.worker.isEmpty {
      interrupted[a.trial] = InterruptedLease(
        lease: Lease(trial: a.trial, attempt: a.attempt), worker: WorkerID(a.worker))
    }
  }
  if !o.quiet, let note = try resumeNote(store: store, sweepID: sweepID, toRun: toRun.count) {
    print(note)
  }
  let previous = try store.highestAttempts(sweepID: sweepID)
  let trials = toRun.map {
    CoordinatorTrial(
      id: $0.id, config: $0.config, cost: $0.relativeCost, previousAttempts: previous[$0.id] ?? 0,
      interrupted: interrupted[$0.id])
  }
  let waiting = trials.count { $0.interrupted != nil }
  if waiting > 0 {
    log.info(
      "trials in flight when the previous coordinator stopped wait for their workers",
      metadata: ["trials": "\(waiting)", "hold": "\(o.interruptedHold) s"])
  }
  loop.load(trials: trials, ledger: StoreLedger(store: store))
  o.phases?.lap("store setup")
  log.info(
    "coordinator listening",
    metadata: [
      "endpoints": "\(bound.joined(separator: " "))", "trials": "\(trials.count)",
      "store": "\(storePath)",
    ])
  var recorded = sweep
  recorded.name = definition.name
  let prepared = PreparedSweep(
    sweep: recorded, store: store, sweepID: sweepID, storePath: storePath, loop: loop)
  prepared.quiet = o.quiet
  prepared.silent = o.silent
  return prepared
}

/// The name under which `sweep` is recorded in `store`: its own name for the first definition,
/// the stored version whose definition hash matches, or `name@N` for a new definition under a
/// name the store already has (another η, more seeds, another file taking the name). `note`
/// tells the person when the definition is not the one last run under that name.
public func chooseDefinition(store: SweepStore, sweep: Sweep) throws -> (
  name: String, version: Int, note: String?
) {
  let hash = sweep.definitionHash
  let family = try store.sweeps().filter { $0.family == sweep.name }
  guard let current = family.first(where: \.isCurrent) ?? family.last else {
    return (sweep.name, 1, nil)
  }
  var hashes: [Int64: String] = [:]
  for info in family {
    hashes[info.id] =
      try info.definitionHash
      ?? Sweep.definitionHash(trialIDs: store.linkedTrialIDs(sweepID: info.id))
  }
  let currentHash = hashes[current.id] ?? "?"
  let otherFile =
    !current.path.isEmpty && current.path != sweep.path ? ", from \(current.path)" : ""
  if let same = family.first(where: { hashes[$0.id] == hash }) {
    if same.id == current.id {
      let note =
        otherFile.isEmpty
        ? nil
        : "sweep \(sweep.name): \(sweep.path) has the same definition (hash \(hash)) as the "
          + "one last run\(otherFile): resuming it"
      return (same.name, same.version, note)
    }
    return (
      same.name, same.version,
      "sweep \(sweep.name): this definition is \(same.name) again (hash \(hash)); it replaces "
        + "\(current.name) as the current one (status, report and export show it by default)"
    )
  }
  let version = (family.map(\.version).max() ?? 1) + 1
  let name = "\(sweep.name)@\(version)"
  let note =
    "sweep \(sweep.name): the definition changed since \(current.name) "
    + "(\(current.trialCount) trials, hash \(currentHash)\(otherFile)); this one "
    + "(\(sweep.trials.count) trials, hash \(hash)) is recorded as \(name). Trials in both share "
    + "their results; status, report and export show \(name) by default "
    + "(--sweep \(current.name) for the earlier one)."
  return (name, version, note)
}

/// What a resumed run skips: trials with a result, and failed trials it does not retry; nil
/// when nothing is skipped (a new sweep).
func resumeNote(store: SweepStore, sweepID: Int64, toRun: Int) throws -> String? {
  let status = try store.status(sweepID: sweepID)
  let finished = status.count(.done) + status.count(.diverged)
  let failed = status.count(.failed)
  guard finished + failed > 0 else { return nil }
  var parts: [String] = []
  if finished > 0 {
    parts.append("\(finished) of \(status.total) trials already have results and are skipped")
  }
  if failed > 0 {
    parts.append(
      "\(failed) failed earlier and \(failed == 1 ? "is" : "are") not retried "
        + "(--rerun failed retries them)")
  }
  return "resuming: " + parts.joined(separator: "; ") + "; \(toRun) to run"
}

/// The exit status of a coordinator run: 0 done; 1 some trials failed; 4 the store could not
/// take writes (disk full, read-only, locked); 6 no local worker could be kept running;
/// 130 interrupted.
func exitStatus(_ summary: CoordinatorSummary) -> Int32 {
  if summary.storeFailure != nil { return 4 }
  if summary.workersExhausted != nil { return 6 }
  if summary.interrupted { return 130 }
  return summary.failed > 0 ? 1 : 0
}

/// What the person is told when a run stops early; nil for a normal end.
func stopMessage(_ summary: CoordinatorSummary, storePath: String) -> String? {
  if let why = summary.storeFailure {
    // `why` names the store and the cause (StoreError.unavailable's description).
    return "stopped: \(why). No result was acknowledged before it was durable, and workers "
      + "keep their unacknowledged results for the next coordinator."
  }
  if let why = summary.workersExhausted { return "stopped: \(why)" }
  return nil
}

/// The release of this build (also in the store's provenance).
public let tailSweepVersion = "0.1.0"

/// The commit of the git checkout around `folder`, if any (best effort, for provenance).
func gitCommit(near folder: URL) -> String? {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  p.arguments = ["git", "-C", folder.path, "rev-parse", "HEAD"]
  let out = Pipe()
  p.standardOutput = out
  p.standardError = FileHandle.nullDevice
  do { try p.run() } catch { return nil }
  let data = out.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  guard p.terminationStatus == 0 else { return nil }
  let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  return text.isEmpty ? nil : text
}

/// SHA-256 of the source files of each data set the sweep uses, as this host's data folder
/// has them (workers report their own hash with every result too).
func datasetHashes(_ sweep: Sweep, dataDirectory: URL?) -> [String: String] {
  guard let dir = dataDirectory else { return [:] }
  let names = Set(sweep.trials.map(\.config.dataset.name))
  var out: [String: String] = [:]
  for info in DataCatalog(directory: dir).available() where names.contains(info.name) {
    if let h = info.sha256 { out[info.name] = h }
  }
  return out
}

/// The end of a run, after the coordinator stopped: prints the store's counts, writes the
/// report (tables, figures, index.html) and a CSV export into the results folder, and prints
/// the summary table.
public func finishRun(
  store: SweepStore, sweepID: Int64, sweep: Sweep, storePath: String, summary: CoordinatorSummary,
  logger: Logger, quiet: Bool = false
) throws {
  let status = try store.status(sweepID: sweepID)
  var parts: [String] = []
  for state in TrialState.allCases { parts.append("\(state.rawValue) \(status.count(state))") }
  let rate = summary.seconds > 0 ? Double(summary.committed) / summary.seconds : 0
  print(
    "sweep \(sweep.name): \(parts.joined(separator: ", ")) | this run: \(summary.committed) committed, "
      + "\(summary.duplicates) duplicates, \(summary.failed) failed in \(String(format: "%.2f", summary.seconds)) s "
      + "(\(String(format: "%.1f", rate)) results/s)")
  print("results: \(storePath)")
  let folder = URL(fileURLWithPath: storePath).deletingLastPathComponent()
  if storePath.hasSuffix("null-trials.sqlite") { return }
  let rows = try store.rows(sweepID: sweepID)
  if summary.interrupted {
    // No report of half-empty rows: say where the sweep stands and how to go on.
    let finished = status.count(.done) + status.count(.diverged)
    print(
      "interrupted: \(finished)/\(status.total) done; run the same command again to resume "
        + "(finished trials are kept)")
  }
  defer { if let hint = failureHint(rows, folder: folder) { print(hint) } }
  if summary.interrupted { return }
  do {
    let context = TrialExport.Context(
      sweep: sweep.name, times: try store.trialTimes(sweepID: sweepID))
    try Data(try TrialExport.render(rows, format: .csv, context: context).utf8).write(
      to: folder.appendingPathComponent("trials.csv"), options: .atomic)
    let report = try SweepReport.write(
      rows: rows, to: folder, title: "TailSweep report: \(sweep.name)")
    if !quiet { print(try SweepReport.renderTable(rows: rows)) }
    print("report: \(report.folder.appendingPathComponent("index.html").path)")
  } catch {
    // The results are safe in the store; the report can be made again with `tailsweep report`.
    logger.error(
      "report failed", metadata: ["error": "\(error)", "store": "\(storePath)"])
    print("report failed (\(error)); run 'tailsweep report \(folder.path)' to retry")
  }
}

/// For a sweep with failed trials: how many, the most common error, and how to retry them.
func failureHint(_ rows: [TrialRow], folder: URL) -> String? {
  let failed = rows.filter { $0.state == .failed }
  guard !failed.isEmpty else { return nil }
  var counts: [String: Int] = [:]
  for r in failed { counts[r.lastError ?? "no error recorded", default: 0] += 1 }
  let top = counts.max { a, b in a.value != b.value ? a.value < b.value : a.key > b.key }
  var text = "\(failed.count) trial\(failed.count == 1 ? "" : "s") failed"
  if let top { text += " (\(top.value == failed.count ? "all" : "\(top.value)"): \(top.key))" }
  return text + ". Fix the cause, then run the same command with --rerun failed to retry "
    + "\(failed.count == 1 ? "it" : "them") (tailsweep status \(folder.path) shows the counts)."
}

/// Options of `tailsweep run` beyond the coordinator's.
public struct LocalRunOptions: Sendable {
  /// Worker processes to start.
  public var workers: Int
  /// Data folder passed to the workers.
  public var dataDirectory: URL
  /// With null trials: seconds each takes (tests); 0 answers at once.
  public var nullTrialSeconds = 0.0
  /// Log level passed to the workers.
  public var workerLogLevel: Logger.Level = .warning
  /// Trials each worker runs at once (`tailsweep worker --slots`).
  public var slots = 1
  /// Creates options.
  public init(workers: Int, dataDirectory: URL) {
    self.workers = workers
    self.dataDirectory = dataDirectory
  }
}

/// A private endpoint for local workers: an `ipc://` socket in a fresh directory of mode 0700,
/// so no other user of the machine can connect (nor see more than its path in `ps`).
func privateEndpoint() throws -> (endpoint: String, directory: String) {
  let base =
    ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
  var template = Array((base + "/tailsweep-XXXXXX").utf8CString)
  let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
  guard made != nil else {
    throw RuntimeError.spawnFailed(
      "cannot create a private directory in \(base): \(String(cString: strerror(errno)))")
  }
  let dir = String(
    decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  chmod(dir, 0o700)
  return ("ipc://\(dir)/coordinator.sock", dir)
}

/// `tailsweep run`: the coordinator in this process plus `workers` supervised local worker
/// processes. With no endpoints given, the workers connect over a private `ipc://` socket.
/// Returns the exit status (see `exitStatus`).
public func runLocalSweep(_ o: SweepServeOptions, local: LocalRunOptions, logger: Logger) throws
  -> Int32
{
  installStopSignals()
  var o = o
  var privateDirectory: String?
  if o.endpoints.isEmpty {
    let p = try privateEndpoint()
    o.endpoints = [p.endpoint]
    privateDirectory = p.directory
  }
  defer {
    if let d = privateDirectory { try? FileManager.default.removeItem(atPath: d) }
  }
  let prepared = try prepareSweep(o, logger: logger)
  guard let endpoint = prepared.loop.boundEndpoints.first else { return 1 }
  let hbMs = Int((o.heartbeatInterval * 1000).rounded())
  let supervisor = LocalSupervisor(
    executable: LocalSupervisor.currentExecutable(), count: local.workers,
    maxRestarts: 2 * local.workers + prepared.sweep.trials.count, logger: logger
  ) { id in
    var args = [
      "worker", "--connect", endpoint, "--id", id, "--data", local.dataDirectory.path,
      "--heartbeat-ms", "\(hbMs)", "--liveness", "\(o.liveness)", "--exit-with-parent",
      "--coordinator-timeout", "\(max(30, o.heartbeatInterval * Double(o.liveness) * 10))",
      "--log-level", local.workerLogLevel.rawValue,
    ]
    if o.nullTrials { args.append("--null-trials") }
    if local.slots != 1 { args += ["--slots", "\(local.slots)"] }
    if local.nullTrialSeconds > 0 {
      args += ["--null-trial-ms", "\(Int(local.nullTrialSeconds * 1000))"]
    }
    return args
  }
  // Nothing to run (a finished sweep run again): no workers to start.
  if prepared.loop.trialCount > 0 { try supervisor.start() }
  prepared.loop.poller = { supervisor.poll() }
  o.phases?.lap("worker start")
  let summary: CoordinatorSummary
  do {
    summary = try prepared.loop.run()
  } catch {
    supervisor.stop(grace: 0)
    throw error
  }
  o.phases?.lap("dispatch")
  o.phases?.summary = summary
  supervisor.stop(grace: 3)
  return try conclude(prepared, summary: summary, logger: logger)
}

/// Prints how the run ended (the report when the store is healthy); returns the exit status.
func conclude(_ prepared: PreparedSweep, summary: CoordinatorSummary, logger: Logger) throws
  -> Int32
{
  if let message = stopMessage(summary, storePath: prepared.storePath) {
    FileHandle.standardError.write(Data(("tailsweep: " + message + "\n").utf8))
  }
  if summary.storeFailure == nil && !prepared.silent {
    try finishRun(
      store: prepared.store, sweepID: prepared.sweepID, sweep: prepared.sweep,
      storePath: prepared.storePath, summary: summary, logger: logger, quiet: prepared.quiet)
  }
  try? prepared.store.close()
  return exitStatus(summary)
}

/// `tailsweep coordinator`: serves the sweep to remote workers until done or interrupted.
public func serveSweep(_ o: SweepServeOptions, logger: Logger) throws -> Int32 {
  installStopSignals()
  let prepared = try prepareSweep(o, logger: logger)
  let summary = try prepared.loop.run()
  return try conclude(prepared, summary: summary, logger: logger)
}

/// `tailsweep worker`: returns the exit status (0 shutdown or parent gone, 3 coordinator
/// gone, 5 refused by the coordinator, 130 interrupted).
public func runWorker(_ o: WorkerOptions, logger: Logger) throws -> Int32 {
  installStopSignals()
  let loop = try WorkerLoop(options: o, logger: logger)
  switch try loop.run() {
  case .shutdown, .parentGone: return 0
  case .coordinatorGone: return 3
  case .refused(let why):
    FileHandle.standardError.write(Data("tailsweep worker: refused: \(why)\n".utf8))
    return 5
  case .interrupted: return 130
  }
}

/// The store's rerun policy, for command-line tools that import only SweepRuntime.
public typealias SweepRerunPolicy = RerunPolicy
