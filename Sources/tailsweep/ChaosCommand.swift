import ArgumentParser
import Foundation
import SweepRuntime
import SweepSpec
import SweepStore
import TailMath
import TailNet

#if canImport(Glibc)
  import Glibc
#endif

/// `tailsweep chaos`: a real sweep with real processes under faults from a seeded schedule, then
/// the invariants: the same results as an undisturbed run, nothing lost or duplicated, a clean
/// store, every acknowledged result stored.
struct Chaos: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a sweep under injected faults and check that nothing is lost.",
    discussion: """
      First runs the sweep undisturbed (`tailsweep run`), then again with a coordinator \
      (`tailsweep coordinator`) and --workers worker processes on loopback TCP while faults are \
      injected from a schedule seeded by --seed: worker SIGKILLs (each replaced), worker \
      SIGSTOP beyond the liveness deadline then SIGCONT, coordinator SIGKILLs (some right \
      after a durable commit and before its acks, through TAILSWEEP_CRASH_AFTER_COMMITS) each \
      followed by a restart, TCP connection resets (`ss -K`), the store held locked by another \
      process longer than the busy timeout, and (as root) the results folder on a small tmpfs \
      that fills up, then is enlarged. As root, the coordinator and each worker run on their own \
      host made of a network namespace (cluster/netns/hosts.sh, CURVE over a private subnet), \
      and worker hosts are partitioned (link down) for less and for more than the deadline, \
      then healed; --no-hosts keeps everything on loopback. Then checks, field for field (timing aside), that the results equal the \
      undisturbed run's, that none is lost or duplicated, that the store verifies, and that \
      every result a worker logged as acknowledged is stored. A hostile peer (`chaos-peer`, \
      with an allowed CURVE key on namespace hosts) floods the coordinator with --flood-frames \
      random and mutated messages in --flood-seconds while the sweep runs; the coordinator \
      must stay up and commit none of them. For every coordinator SIGKILL, the leases open in \
      the store at the kill are followed: kept (committed from that lease's worker), or rerun \
      (a new lease after the restart), which is an invariant failure unless the assignment \
      never reached the worker or the worker was killed, frozen or cut off first. Prints a \
      table; exits 1 if an invariant fails. --only FAULT (repeatable) injects only those \
      faults. With --duration, repeats rounds (new seeds) until that many seconds passed (the \
      soak profile).
      """)

  @Option(help: "Sweep file (default: a built-in sweep of 60 small synthetic trials).")
  var sweep: String?
  @Option(help: "Seed of the fault schedule.") var seed: UInt64 = 1
  @Option(help: "Worker processes.") var workers: Int = 2
  @Option(help: "Soak: repeat rounds until this many seconds passed.") var duration: Double?
  @Option(help: "Hostile peer flood: messages it sends (0 turns the flood off).")
  var floodFrames: Int = 5000
  @Option(help: "Hostile peer flood: seconds it sends them in.") var floodSeconds: Double = 1
  @Option(
    help: ArgumentHelp(
      "Inject only these faults (repeatable): "
        + ChaosRound.Fault.allCases.map(\.name).joined(separator: ", ") + ".",
      valueName: "fault"))
  var only: [String] = []
  @Option(help: "Keep the run folders here (default: a temporary folder, removed).")
  var keep: String?
  @Flag(
    inversion: .prefixedNo,
    help: "As root, run on namespace hosts and inject partitions (otherwise loopback only).")
  var hosts = true
  @Option(help: "The namespace hosts script (default: cluster/netns/hosts.sh of the repository).")
  var hostsScript: String?
  @OptionGroup var data: DataDirOption

  func validate() throws {
    if !(1...16).contains(workers) { throw ValidationError("--workers must be in 1…16") }
    if let d = duration, d <= 0 { throw ValidationError("--duration must be > 0") }
    if floodFrames < 0 { throw ValidationError("--flood-frames must be ≥ 0") }
    for name in only where ChaosRound.Fault(name: name) == nil {
      throw ValidationError(
        "--only \(name): not a fault (\(ChaosRound.Fault.allCases.map(\.name).joined(separator: ", ")))"
      )
    }
    if !(floodSeconds > 0 && floodSeconds <= 60) {
      throw ValidationError("--flood-seconds must be in (0, 60]")
    }
  }

  /// cluster/netns/hosts.sh: given, or found above the executable (a build inside the
  /// repository) or in the current folder.
  func findHostsScript() -> String? {
    if let hostsScript { return hostsScript }
    var dir = URL(fileURLWithPath: LocalSupervisor.currentExecutable()).deletingLastPathComponent()
    for _ in 0..<6 {
      let candidate = dir.appendingPathComponent("cluster/netns/hosts.sh").path
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
      dir = dir.deletingLastPathComponent()
    }
    let here = FileManager.default.currentDirectoryPath + "/cluster/netns/hosts.sh"
    return FileManager.default.isExecutableFile(atPath: here) ? here : nil
  }

  func run() throws {
    let start = monotonicSeconds()
    // Namespace hosts: root only, and the script must be there.
    var hostsSkipped: String?
    var script: String?
    if !hosts {
      hostsSkipped = "--no-hosts"
    } else if getuid() != 0 {
      hostsSkipped = "needs root"
    } else if let found = findHostsScript() {
      script = found
    } else {
      hostsSkipped = "cluster/netns/hosts.sh not found (--hosts-script)"
    }
    var totals = ChaosRound.Outcome()
    var round = 0
    repeat {
      let base: URL
      if let keep {
        base = URL(fileURLWithPath: keep).appendingPathComponent("round-\(round)")
      } else {
        base = FileManager.default.temporaryDirectory.appendingPathComponent(
          "tailsweep-chaos-\(UUID().uuidString.prefix(8))")
      }
      try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
      defer { if keep == nil { try? FileManager.default.removeItem(at: base) } }
      var r = ChaosRound(
        folder: base, sweepPath: sweep, seed: seed &+ UInt64(round), workers: workers,
        dataDirectory: data.url, hostsScript: script)
      if let why = hostsSkipped {
        r.skippedHosts = why
      }
      r.floodFrames = floodFrames
      r.floodSeconds = floodSeconds
      r.only = Set(only.compactMap(ChaosRound.Fault.init(name:)))
      let outcome = try r.run()
      totals.add(outcome)
      round += 1
      // Unbuffered: a soak runs for long, each round shows as it ends.
      FileHandle.standardOutput.write(
        Data("round \(round) (seed \(seed &+ UInt64(round - 1))): \(outcome.summaryLine)\n".utf8))
    } while duration.map { monotonicSeconds() - start < $0 } ?? false
    print(totals.table(rounds: round, seconds: monotonicSeconds() - start))
    var options = " --seed \(seed) --workers \(workers)"
    if let d = duration { options += " --duration \(Int(d))" }
    if let s = sweep { options += " --sweep \(s)" }
    if !hosts { options += " --no-hosts" }
    if floodFrames != 5000 { options += " --flood-frames \(floodFrames)" }
    if floodSeconds != 1 { options += " --flood-seconds \(floodSeconds)" }
    for o in only { options += " --only \(o)" }
    print(
      "reproduce: swift build -c release -Xswiftc -target-cpu -Xswiftc haswell && "
        + ".build/release/tailsweep chaos" + options)
    if !totals.clean { throw ExitCode(1) }
  }
}

/// A child process with its output in a log file.
final class ChaosChild {
  let process = Process()
  let log: URL
  /// Runs this executable with `arguments`; with a `host`, on that namespace host through
  /// `script exec HOST` (which execs, so the PID is the tailsweep process's).
  init(
    _ arguments: [String], log: URL, environment: [String: String] = [:],
    host: (script: String, name: String)? = nil
  ) throws {
    self.log = log
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    let exe = LocalSupervisor.currentExecutable()
    if let host {
      process.executableURL = URL(fileURLWithPath: host.script)
      process.arguments = ["exec", host.name, exe] + arguments
    } else {
      process.executableURL = URL(fileURLWithPath: exe)
      process.arguments = arguments
    }
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let handle = try FileHandle(forWritingTo: log)
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
  }
  var pid: pid_t { process.processIdentifier }
  var running: Bool { process.isRunning }
  func signal(_ s: Int32) { if running { kill(pid, s) } }
  func stop() {
    signal(SIGCONT)
    signal(SIGKILL)
    process.waitUntilExit()
  }
}

/// One round: the undisturbed reference run, the run under faults, the checks.
struct ChaosRound {
  enum Fault: String, CaseIterable {
    case workerKill = "worker SIGKILL"
    case workerStop = "worker SIGSTOP beyond the deadline, then SIGCONT"
    case coordinatorKill = "coordinator SIGKILL, restart"
    case coordinatorKillAfterCommit = "coordinator SIGKILL between commit and ack, restart"
    case tcpReset = "TCP connection reset (ss -K)"
    case storeLocked = "store locked by another process beyond the busy timeout"
    case diskFull = "results tmpfs full, then enlarged"
    case partitionShort = "worker host cut off for less than the deadline, then healed"
    case partitionLong = "worker host cut off beyond the deadline, then healed"
    case hostileFlood = "hostile peer flood"

    /// The short name (`--only`).
    var name: String {
      switch self {
      case .workerKill: "worker-kill"
      case .workerStop: "worker-stop"
      case .coordinatorKill: "coordinator-kill"
      case .coordinatorKillAfterCommit: "coordinator-kill-after-commit"
      case .tcpReset: "tcp-reset"
      case .storeLocked: "store-locked"
      case .diskFull: "disk-full"
      case .partitionShort: "partition-short"
      case .partitionLong: "partition-long"
      case .hostileFlood: "flood"
      }
    }
    init?(name: String) {
      guard let f = Self.allCases.first(where: { $0.name == name }) else { return nil }
      self = f
    }
  }

  struct Outcome {
    var faults: [Fault: Int] = [:]
    var skipped: [Fault: String] = [:]
    var trials = 0
    var lost = 0
    var duplicated = 0
    var mismatched = 0
    var wastedAttempts = 0
    var ackedMissing = 0
    var ackedSeen = 0
    var verifyProblems: [String] = []
    var referenceSeconds = 0.0
    var chaosSeconds = 0.0
    /// How coordinator processes ended, by cause.
    var coordinatorEnds: [String: Int] = [:]
    /// Coordinator processes that ended while no fault explains it (must be 0).
    var unexplainedExits = 0
    /// Hostile peer flood: messages configured and sent, by kind and routing id.
    var floodConfigured = 0
    var floodSent = 0
    var floodByKind: [String: Int] = [:]
    var floodSentAs: [String: Int] = [:]
    /// What the coordinator sent back to the hostile peer, by kind (rejects by code).
    var floodAnswers: [String: Int] = [:]
    /// Coordinator log lines about the hostile peer's messages, by message.
    var floodLogged: [String: Int] = [:]
    /// Honest results committed while the flood ran (its sending and listening time).
    var floodHonestCommits = 0
    /// Why a part of the round could not be checked (the flood did not run or report, the
    /// store could not be read after a kill); each fails the round.
    var problems: [String] = []
    /// Leases open in the store at coordinator kills, by what became of them.
    var inFlight: [InFlightLease.Fate: Int] = [:]
    /// One line per lease in flight at a kill.
    var inFlightDetails: [String] = []
    var inFlightTotal: Int { inFlight.values.reduce(0, +) }
    var inFlightReruns: Int { inFlight.filter { $0.key.isRerun }.map(\.value).reduce(0, +) }

    var clean: Bool {
      lost == 0 && duplicated == 0 && mismatched == 0 && ackedMissing == 0
        && verifyProblems.isEmpty && unexplainedExits == 0 && problems.isEmpty
        && (inFlight[.rerunLiveWorker] ?? 0) == 0
    }

    var summaryLine: String {
      "\(faults.values.reduce(0, +)) faults, \(trials) trials, lost \(lost), duplicated "
        + "\(duplicated), mismatched \(mismatched), acknowledged but missing \(ackedMissing), "
        + "verify problems \(verifyProblems.count), hostile messages \(floodSent), "
        + "in flight at coordinator kills \(inFlightTotal) (kept \(inFlight[.kept] ?? 0), "
        + "rerun \(inFlightReruns), of a live worker \(inFlight[.rerunLiveWorker] ?? 0)), "
        + String(format: "%.1f s against %.1f s undisturbed", chaosSeconds, referenceSeconds)
    }

    mutating func add(_ o: Outcome) {
      for (k, v) in o.faults { faults[k, default: 0] += v }
      for (k, v) in o.skipped { skipped[k] = v }
      trials += o.trials
      lost += o.lost
      duplicated += o.duplicated
      mismatched += o.mismatched
      wastedAttempts += o.wastedAttempts
      ackedMissing += o.ackedMissing
      ackedSeen += o.ackedSeen
      verifyProblems += o.verifyProblems
      referenceSeconds += o.referenceSeconds
      chaosSeconds += o.chaosSeconds
      for (k, v) in o.coordinatorEnds { coordinatorEnds[k, default: 0] += v }
      unexplainedExits += o.unexplainedExits
      floodConfigured += o.floodConfigured
      floodSent += o.floodSent
      for (k, v) in o.floodByKind { floodByKind[k, default: 0] += v }
      for (k, v) in o.floodSentAs { floodSentAs[k, default: 0] += v }
      for (k, v) in o.floodAnswers { floodAnswers[k, default: 0] += v }
      for (k, v) in o.floodLogged { floodLogged[k, default: 0] += v }
      floodHonestCommits += o.floodHonestCommits
      problems += o.problems
      for (k, v) in o.inFlight { inFlight[k, default: 0] += v }
      inFlightDetails += o.inFlightDetails
    }

    func table(rounds: Int, seconds: Double) -> String {
      var lines = ["| fault | injected |", "| --- | --- |"]
      for f in Fault.allCases {
        let n = faults[f] ?? 0
        lines.append("| \(f.rawValue) | \(skipped[f].map { "0 (\($0))" } ?? String(n)) |")
      }
      lines += [
        "", "| check | value |", "| --- | --- |",
        "| rounds | \(rounds) |",
        "| trials | \(trials) |",
        "| lost | \(lost) |",
        "| duplicated (result rows or committed attempts beyond one per trial) | \(duplicated) |",
        "| mismatched (field for field, timing aside) | \(mismatched) |",
        "| results workers logged as acknowledged | \(ackedSeen) |",
        "| acknowledged to a worker but not stored | \(ackedMissing) |",
        "| store verify() problems | \(verifyProblems.count) |",
        "| wasted attempts (attempts beyond one per trial) | \(wastedAttempts) |",
        String(
          format: "| wall time under faults / undisturbed | %.1f s / %.1f s (%.2f×) |",
          chaosSeconds, referenceSeconds, referenceSeconds > 0 ? chaosSeconds / referenceSeconds : 0
        ),
        String(format: "| total time | %.0f s |", seconds),
        "| coordinator exits no fault explains | \(unexplainedExits) |",
        "| hostile messages sent / configured | \(floodSent) / \(floodConfigured) |",
        "| hostile messages the coordinator logged as dropped or refused | "
          + "\(floodLogged.values.reduce(0, +)) |",
        "| answers the hostile peer received | \(floodAnswers.values.reduce(0, +)) |",
        "| honest results committed while the flood ran | \(floodHonestCommits) |",
        "| trials in flight at coordinator kills | \(inFlightTotal) |",
      ]
      for f in InFlightLease.Fate.allCases {
        lines.append("| in flight at a kill: \(f.rawValue) | \(inFlight[f] ?? 0) |")
      }
      // A two-column table of counts by key, in key order.
      func counts(_ title: String, _ column: String, _ values: [String: Int]) {
        lines += ["", "| \(title) | \(column) |", "| --- | --- |"]
        for (k, v) in values.sorted(by: { $0.key < $1.key }) { lines.append("| \(k) | \(v) |") }
      }
      counts("coordinator process ended by", "count", coordinatorEnds)
      if floodSent > 0 {
        counts("hostile message kind", "sent", floodByKind)
        counts("hostile messages sent under", "count", floodSentAs)
        counts("coordinator log line about hostile messages", "count", floodLogged)
        counts("answer the hostile peer received", "count", floodAnswers)
      }
      lines.append(
        "trials in flight at coordinator kills: \(inFlightTotal), kept \(inFlight[.kept] ?? 0), "
          + "rerun \(inFlightReruns) (of a live worker: \(inFlight[.rerunLiveWorker] ?? 0))")
      for p in problems.prefix(5) { lines.append("problem: \(p)") }
      for d in inFlightDetails.suffix(40) { lines.append("in flight: \(d)") }
      for p in verifyProblems.prefix(5) { lines.append("verify: \(p)") }
      return lines.joined(separator: "\n")
    }
  }

  let folder: URL
  let sweepPath: String?
  /// The schedule's randomness (the same stream as SplitMix64 offset by one step).
  var random: SplitMix64
  let workerCount: Int
  let dataDirectory: URL
  let heartbeatMs = 250
  let liveness = 4
  var deadline: Double { Double(heartbeatMs * liveness) / 1000 }
  /// cluster/netns/hosts.sh when the round runs on namespace hosts (else loopback).
  let hostsScript: String?
  /// Why partitions are not injected (no hosts), for the table.
  var skippedHosts: String?
  /// The seed of the round (the hostile peer's messages derive from it).
  let seed: UInt64
  /// Hostile peer flood: messages (0: no flood) and seconds.
  var floodFrames = 5000
  var floodSeconds = 1.0
  /// Only these faults (empty: all).
  var only: Set<Fault> = []

  init(
    folder: URL, sweepPath: String?, seed: UInt64, workers: Int, dataDirectory: URL,
    hostsScript: String? = nil
  ) {
    self.folder = folder
    self.sweepPath = sweepPath
    self.random = SplitMix64(seed: seed &+ 0x9E37_79B9_7F4A_7C15)
    self.seed = seed
    self.workerCount = workers
    self.dataDirectory = dataDirectory
    self.hostsScript = hostsScript
  }

  static let builtInSweep = """
    # tailsweep chaos: 60 small synthetic trials (bit-reproducible), about 0.7 s each in a
    # debug build, 0.03 s in a release build (pass a heavier --sweep for release soaks).
    description: "chaos: synthetic trials under faults"
    dataset: {name: synthetic, inputs: 50, classes: 5, trainSize: 2000, testSize: 500, teacherWidth: 10}
    train: {eta: 0.05, batchSize: 32, maxIterations: 400, evalEvery: 100, targetAccuracy: 1.0, noiseType: 1, sigma: 0.003}
    grid: {width: [64, 96, 128]}
    seeds: 20
    run: {retries: 100, trialTimeout: 600}
    """

  /// Runs a shell command; returns its exit status.
  @discardableResult
  func shell(_ command: String) -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return -1 }
    p.waitUntilExit()
    return p.terminationStatus
  }

  /// The results of a store's only sweep, by trial, with timing zeroed.
  func results(_ storePath: String) throws -> (
    rows: [TrialRow], byID: [TrialID: TrialResult], problems: [String], duplicated: Int
  ) {
    let store = try SweepStore(readOnlyPath: storePath)
    defer { try? store.close() }
    let rows = try store.rows(sweepID: nil)
    var out: [TrialID: TrialResult] = [:]
    for row in rows {
      if var r = row.result {
        r.training.wallSeconds = 0
        out[row.id] = r
      }
    }
    let duplicated = try store.commitCounts().values.reduce(0) {
      $0 + max(0, $1.results - 1) + max(0, $1.committed - 1)
    }
    return (rows, out, try store.verify(), duplicated)
  }

  mutating func run() throws -> Outcome {
    var outcome = Outcome()
    let sweepFile: URL
    if let sweepPath {
      sweepFile = URL(fileURLWithPath: sweepPath)
    } else {
      sweepFile = folder.appendingPathComponent("chaos.yaml")
      try Data(Self.builtInSweep.utf8).write(to: sweepFile)
    }
    let name = sweepFile.deletingPathExtension().lastPathComponent

    // 1. Undisturbed.
    let refFolder = folder.appendingPathComponent("undisturbed")
    let t0 = monotonicSeconds()
    let ref = try ChaosChild(
      [
        "run", sweepFile.path, "--results", refFolder.path, "--workers", "\(workerCount)",
        "--progress", "none", "--data", dataDirectory.path,
      ], log: folder.appendingPathComponent("undisturbed.log"))
    ref.process.waitUntilExit()
    outcome.referenceSeconds = monotonicSeconds() - t0
    guard ref.process.terminationStatus == 0 else {
      throw RuntimeFailure(
        "the undisturbed run failed with status \(ref.process.terminationStatus); see "
          + ref.log.path)
    }
    let reference = try results(refFolder.appendingPathComponent("\(name)/sweep.sqlite").path)

    // 2. Under faults.
    let chaosFolder = folder.appendingPathComponent("chaos")
    try FileManager.default.createDirectory(at: chaosFolder, withIntermediateDirectories: true)
    let tmpfs =
      getuid() == 0 && shell("mount -t tmpfs -o size=64m tmpfs '\(chaosFolder.path)'") == 0
    defer { if tmpfs { shell("umount -l '\(chaosFolder.path)'") } }
    let storePath = chaosFolder.appendingPathComponent("\(name)/sweep.sqlite").path
    let logs = folder.appendingPathComponent("logs")
    try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)

    // Namespace hosts (as root): the coordinator on `coordinator`, worker slot k on w(k+1),
    // CURVE over a private subnet; a prefix of this round only.
    let hostsEnv = [
      "TSW_PREFIX": "c\(String(UInt16.random(in: 0x1000...0xffff), radix: 16))-",
      "TSW_SUBNET": "10.231.11",
    ]
    func hosts(_ args: [String]) -> Int32 {
      guard let hostsScript else { return -1 }
      let p = Process()
      p.executableURL = URL(fileURLWithPath: hostsScript)
      p.arguments = args
      p.environment = ProcessInfo.processInfo.environment.merging(hostsEnv) { $1 }
      p.standardOutput = FileHandle.nullDevice
      p.standardError = FileHandle.nullDevice
      do { try p.run() } catch { return -1 }
      p.waitUntilExit()
      return p.terminationStatus
    }
    var secure: (coordinator: [String], worker: [String]) = ([], [])
    var hostileKeys: [String] = []
    // Under CURVE a worker's routing id carries its key's tag (`curveRoutingTag`); all chaos
    // workers share one key.
    var workerTag = ""
    let port: Int
    let endpoint: String
    if let hostsScript {
      guard hosts(["up", "\(workerCount)"]) == 0 else {
        throw RuntimeFailure(
          "\(hostsScript) up \(workerCount) failed (prefix \(hostsEnv["TSW_PREFIX"]!))")
      }
      port = 5555
      endpoint = "tcp://10.231.11.10:\(port)"
      let keys = folder.appendingPathComponent("keys")
      for who in ["coordinator", "worker", "hostile"] {
        let g = try ChaosChild(
          ["keys", "generate", "--out", keys.appendingPathComponent(who).path],
          log: logs.appendingPathComponent("keys-\(who).log"))
        g.process.waitUntilExit()
        guard g.process.terminationStatus == 0 else {
          throw RuntimeFailure("keys generate failed; see \(g.log.path)")
        }
      }
      // The hostile peer's key is allowed too: an insider with a bad implementation.
      let allow = keys.appendingPathComponent("allowed-workers")
      var allowed = ""
      for who in ["worker", "hostile"] {
        allowed += try String(
          contentsOf: keys.appendingPathComponent("\(who)/public.key"), encoding: .utf8)
        if !allowed.hasSuffix("\n") { allowed += "\n" }
      }
      try Data(allowed.utf8).write(to: allow)
      hostileKeys = [
        "--server-key", keys.appendingPathComponent("coordinator/public.key").path,
        "--keys", keys.appendingPathComponent("hostile").path,
      ]
      secure.coordinator = [
        "--keys", keys.appendingPathComponent("coordinator").path, "--allow", allow.path,
      ]
      secure.worker = [
        "--server-key", keys.appendingPathComponent("coordinator/public.key").path,
        "--keys", keys.appendingPathComponent("worker").path,
      ]
      let workerKey = try String(
        contentsOf: keys.appendingPathComponent("worker/public.key"), encoding: .utf8)
      workerTag =
        curveRoutingTag(publicKey: workerKey.trimmingCharacters(in: .whitespacesAndNewlines))
        ?? ""
    } else {
      port = try freeLoopbackPort()
      endpoint = "tcp://127.0.0.1:\(port)"
    }
    // Runs after the processes' own teardown (declared first): kills what is left by PID.
    defer { if hostsScript != nil { _ = hosts(["down"]) } }
    let script = hostsScript
    func host(_ name: String) -> (script: String, name: String)? { script.map { ($0, name) } }
    var coordinatorStarts = 0
    var hooked = false
    var coordinatorStartedAt = 0.0
    func startCoordinator(crashAfter: Int? = nil) throws -> ChaosChild {
      coordinatorStarts += 1
      coordinatorStartedAt = monotonicSeconds()
      hooked = crashAfter != nil
      return try ChaosChild(
        [
          "coordinator", sweepFile.path, "--bind", endpoint, "--results", chaosFolder.path,
          "--progress", "none", "--heartbeat-ms", "\(heartbeatMs)", "--liveness", "\(liveness)",
          "--data", dataDirectory.path, "--log-level", "info",
        ] + secure.coordinator,
        log: logs.appendingPathComponent("coordinator-\(coordinatorStarts).log"),
        environment: (crashAfter.map { ["TAILSWEEP_CRASH_AFTER_COMMITS": "\($0)"] } ?? [:])
          .merging(hostsEnv) { $1 },
        host: host("coordinator"))
    }
    var generation = 0
    // Routing ids: of each slot's current worker, and when the runner killed, froze or cut off
    // each worker (for the in-flight audit).
    var workerIDs: [Int: String] = [:]
    var disabled: [String: [ClosedRange<Date>]] = [:]
    /// The worker of `slot` is killed (for good), or frozen or cut off for `seconds`.
    func disable(_ slot: Int, for seconds: Double? = nil) {
      guard let id = workerIDs[slot] else { return }
      let now = Date()
      disabled[id, default: []].append(
        now...(seconds.map { now.addingTimeInterval($0) } ?? .distantFuture))
    }
    func startWorker(_ slot: Int) throws -> ChaosChild {
      generation += 1
      workerIDs[slot] = "chaos-\(slot)-\(generation)" + workerTag
      return try ChaosChild(
        [
          "worker", "--connect", endpoint, "--id", "chaos-\(slot)-\(generation)",
          "--heartbeat-ms", "\(heartbeatMs)", "--liveness", "\(liveness)",
          "--coordinator-timeout", "300", "--data", dataDirectory.path, "--log-level", "debug",
        ] + secure.worker, log: logs.appendingPathComponent("worker-\(slot)-\(generation).log"),
        environment: hostsEnv, host: host("w\(slot + 1)"))
    }

    // The schedule: a shuffled list of faults, spread so that they fit in about the
    // undisturbed run's time (one every 0.25–2 s, jittered).
    var plan: [Fault] =
      Array(repeating: .workerKill, count: 22) + Array(repeating: .workerStop, count: 3)
      + Array(repeating: .coordinatorKill, count: 2)
      + Array(repeating: .coordinatorKillAfterCommit, count: 2)
      + Array(repeating: .tcpReset, count: 3) + [.storeLocked]
    if tmpfs { plan.append(.diskFull) } else { outcome.skipped[.diskFull] = "needs root" }
    if floodFrames == 0 { outcome.skipped[.hostileFlood] = "--flood-frames 0" }
    if hostsScript != nil {
      plan += [.partitionShort, .partitionShort, .partitionLong, .partitionLong]
    } else {
      outcome.skipped[.partitionShort] = skippedHosts ?? "no namespace hosts"
      outcome.skipped[.partitionLong] = skippedHosts ?? "no namespace hosts"
    }
    if !only.isEmpty {
      plan.removeAll { !only.contains($0) }
      for f in Fault.allCases where !only.contains(f) { outcome.skipped[f] = "not in --only" }
    }
    let flooding = floodFrames > 0 && (only.isEmpty || only.contains(.hostileFlood))
    for i in plan.indices.reversed() where i > 0 { plan.swapAt(i, random.below(i + 1)) }
    let spacing = max(0.25, min(2.0, outcome.referenceSeconds / Double(plan.count + 4)))
    // The first fault waits until the store exists.
    let t1 = monotonicSeconds()
    var coordinator = try startCoordinator()
    var workers = try (0..<workerCount).map { try startWorker($0) }
    defer {
      coordinator.stop()
      for w in workers { w.stop() }
    }
    var nextFault = monotonicSeconds() + 1
    // Leases open in the store right after each coordinator kill (nothing writes until the
    // restart): the leases in flight at that kill.
    var inFlight: [InFlightLease] = []
    func recordInFlight() {
      let at = Date()
      // No store yet: nothing was leased.
      guard FileManager.default.fileExists(atPath: storePath) else { return }
      do {
        let open: [AttemptRecord]
        do {
          let s = try SweepStore(readOnlyPath: storePath)
          defer { try? s.close() }
          open = try s.openAttempts(sweepID: nil)
        } catch {
          // On a full tmpfs a reader cannot create the WAL index: read a copy (store and WAL)
          // in the round's folder instead, opened as its writer.
          let copy = folder.appendingPathComponent("store-copy-\(inFlight.count)")
          try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
          defer { try? FileManager.default.removeItem(at: copy) }
          for suffix in ["", "-wal"]
          where FileManager.default.fileExists(atPath: storePath + suffix) {
            try FileManager.default.copyItem(
              atPath: storePath + suffix,
              toPath: copy.appendingPathComponent("sweep.sqlite" + suffix).path)
          }
          let s = try SweepStore(path: copy.appendingPathComponent("sweep.sqlite").path)
          defer { try? s.close() }
          open = try s.openAttempts(sweepID: nil)
        }
        for a in open
        where !inFlight.contains(where: {
          $0.trial == a.trial && $0.attempt == a.attempt && $0.worker == a.worker
        }) {
          inFlight.append(
            InFlightLease(trial: a.trial, attempt: a.attempt, worker: a.worker, killedAt: at))
        }
      } catch {
        outcome.problems.append("could not read the store after a kill: \(error)")
      }
    }
    // The hostile peer: once, at about a third of the undisturbed run's time.
    let floodAt = t1 + max(2, 0.3 * outcome.referenceSeconds)
    var flood: ChaosChild?
    var floodWindow: (Date, Date)?
    var stopped: [(Int, Double)] = []
    // Worker slots whose host is cut off, and when the link comes back.
    var cuts: [Int: Double] = [:]
    var lockHolder: Process?
    var filler: URL?
    var done = false
    while !done {
      usleep(50_000)
      let now = monotonicSeconds()
      if now - t1 > 1800 { throw RuntimeFailure("the sweep under faults did not finish in 30 min") }
      // Resume stopped workers after twice the deadline.
      stopped.removeAll { slot, since in
        guard now - since > 2 * deadline else { return false }
        workers[slot].signal(SIGCONT)
        return true
      }
      for (slot, healAt) in cuts where now >= healAt {
        _ = hosts(["heal", "w\(slot + 1)"])
        cuts[slot] = nil
      }
      // Replace workers that exited on their own.
      for i in workers.indices where !workers[i].running {
        disable(i)
        workers[i] = try startWorker(i)
      }
      if !coordinator.running {
        let status = coordinator.process.terminationStatus
        let reason = coordinator.process.terminationReason
        if reason == .exit && status == 0 {
          outcome.coordinatorEnds["finishing the sweep (status 0)", default: 0] += 1
          done = true
          break
        }
        if reason == .uncaughtSignal {
          let cause =
            hooked
            ? "killing itself between a durable commit and its acks (SIGKILL)"
            : "signal \(status)"
          outcome.coordinatorEnds[cause, default: 0] += 1
          if !hooked { outcome.unexplainedExits += 1 }
          recordInFlight()
        } else {
          let text = (try? String(contentsOf: coordinator.log, encoding: .utf8)) ?? ""
          let cause =
            text.contains("disk") && text.contains("full")
            ? "the store failing: disk full"
            : text.contains("lock")
              ? "the store failing: locked"
              : "another error"
          outcome.coordinatorEnds["\(cause) (status \(status))", default: 0] += 1
          if cause == "another error" { outcome.unexplainedExits += 1 }
        }
        // Killed (by us or by its own crash hook) or stopped by the store (status 4): fix the
        // cause and resume.
        if let holder = lockHolder {
          holder.waitUntilExit()
          lockHolder = nil
        }
        if let f = filler {
          try? FileManager.default.removeItem(at: f)
          shell("mount -o remount,size=128m '\(chaosFolder.path)'")
          filler = nil
        }
        coordinator = try startCoordinator()
        continue
      }
      // The flood starts in a quiet moment (no store fault, no cut or frozen worker, a
      // coordinator not armed to kill itself and up for two deadlines, so that its workers
      // have registered), and other faults wait until the hostile peer is done: what happens
      // meanwhile is the flood's doing. (A peer that presents a worker's routing id to a
      // coordinator before that worker does keeps it for that coordinator's life: a known
      // limit, docs/reliability.md.)
      if flooding, flood == nil, now >= floodAt,
        FileManager.default.fileExists(atPath: storePath), lockHolder == nil, filler == nil,
        !hooked, cuts.isEmpty, stopped.isEmpty, now - coordinatorStartedAt > 2 * deadline
      {
        // Other faults wait until the flood is sent. On namespace hosts it comes from the
        // coordinator's host with an allowed key, also under two honest workers' routing ids
        // (the current worker of slot 0, and one the runner killed, if any).
        var impostors: [String] = []
        if script != nil {
          if let id = workerIDs[0] { impostors.append(id) }
          if let dead = disabled.keys.sorted().last { impostors.append(dead) }
        }
        flood = try ChaosChild(
          [
            "chaos-peer", "--connect", endpoint, "--store",
            refFolder.appendingPathComponent("\(name)/sweep.sqlite").path,
            "--frames", "\(floodFrames)", "--seconds", "\(floodSeconds)", "--seed", "\(seed)",
          ] + hostileKeys + impostors.flatMap { ["--impersonate", $0] },
          log: logs.appendingPathComponent("hostile-peer.log"), environment: hostsEnv,
          host: host("coordinator"))
        floodWindow = (Date(), Date().addingTimeInterval(floodSeconds + 2.5))
        outcome.faults[.hostileFlood, default: 0] += 1
        continue
      }
      if let f = flood, f.running { continue }
      // Due and waiting for its quiet moment: no new fault meanwhile (frozen workers wake,
      // cuts heal, the lock is released, an armed coordinator kills itself), so it comes.
      if flooding && flood == nil && now >= floodAt { continue }
      guard now >= nextFault, !plan.isEmpty, FileManager.default.fileExists(atPath: storePath)
      else { continue }
      nextFault = now + spacing * (0.5 + random.unit())
      let fault = plan.removeLast()
      switch fault {
      case .workerKill:
        let slot = random.below(workerCount)
        disable(slot)
        workers[slot].stop()
        stopped.removeAll { $0.0 == slot }
        workers[slot] = try startWorker(slot)
      case .workerStop:
        let slot = random.below(workerCount)
        guard !stopped.contains(where: { $0.0 == slot }) else {
          plan.insert(fault, at: 0)
          continue
        }
        // Until SIGCONT (after 2 deadlines, at the loop's 50 ms pace).
        disable(slot, for: 2 * deadline + 0.2)
        workers[slot].signal(SIGSTOP)
        stopped.append((slot, now))
      case .coordinatorKill:
        coordinator.stop()
        outcome.coordinatorEnds["SIGKILL from the runner", default: 0] += 1
        recordInFlight()
        coordinator = try startCoordinator()
      case .coordinatorKillAfterCommit:
        // Restart it with the hook: it kills itself after 1–3 durable batches, before their
        // acks leave.
        coordinator.stop()
        outcome.coordinatorEnds["SIGKILL from the runner", default: 0] += 1
        recordInFlight()
        coordinator = try startCoordinator(crashAfter: 1 + random.below(3))
      case .tcpReset:
        if hostsScript != nil {
          // The coordinator's side of every connection, inside its host.
          _ = hosts(["exec", "coordinator", "ss", "-K", "sport", "=", ":\(port)"])
        } else {
          shell("ss -K dst 127.0.0.1 dport = :\(port)")
        }
      case .partitionShort, .partitionLong:
        let free = (0..<workerCount).filter { cuts[$0] == nil }
        guard !free.isEmpty else {
          plan.insert(fault, at: 0)
          continue
        }
        let slot = free[random.below(free.count)]
        guard hosts(["cut", "w\(slot + 1)"]) == 0 else {
          throw RuntimeFailure("could not cut host w\(slot + 1) off")
        }
        if fault == .partitionLong { disable(slot, for: 3 * deadline + 0.2) }
        cuts[slot] = now + (fault == .partitionShort ? 0.4 : 3) * deadline
      case .storeLocked:
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [
          "python3", "-c",
          "import sqlite3, time, sys; c = sqlite3.connect(sys.argv[1], timeout=60, "
            + "isolation_level=None); c.execute('BEGIN EXCLUSIVE'); time.sleep(12); "
            + "c.execute('COMMIT')",
          storePath,
        ]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        lockHolder = p
      case .hostileFlood:
        break
      case .diskFull:
        let f = chaosFolder.appendingPathComponent("filler")
        shell("fallocate -l 60m '\(f.path)' || dd if=/dev/zero of='\(f.path)' bs=1M count=60")
        // Whatever space is left goes too.
        shell("dd if=/dev/zero of='\(f.path)' bs=64k oflag=append conv=notrunc 2>/dev/null")
        filler = f
      }
      outcome.faults[fault, default: 0] += 1
    }
    outcome.chaosSeconds = monotonicSeconds() - t1
    for slot in cuts.keys { _ = hosts(["heal", "w\(slot + 1)"]) }
    for w in workers { w.stop() }
    if flooding {
      outcome.floodConfigured = floodFrames
      if let f = flood {
        f.process.waitUntilExit()
        readFlood(log: f.log, logs: logs, into: &outcome)
      } else {
        outcome.problems.append("the sweep finished before the flood was due")
      }
    }

    // 3. Checks.
    let chaos = try results(storePath)
    outcome.trials = reference.rows.count
    outcome.verifyProblems = chaos.problems
    for row in reference.rows {
      guard let expected = reference.byID[row.id] else { continue }
      guard let got = chaos.byID[row.id] else {
        outcome.lost += 1
        continue
      }
      if got != expected { outcome.mismatched += 1 }
    }
    outcome.duplicated = chaos.duplicated
    outcome.wastedAttempts = chaos.rows.reduce(0) { $0 + max(0, $1.attempts - 1) }
    // Every result a worker logged as acknowledged is stored.
    var acked = Set<String>()
    for file in (try? FileManager.default.contentsOfDirectory(atPath: logs.path)) ?? []
    where file.hasPrefix("worker-") {
      let text = (try? String(contentsOf: logs.appendingPathComponent(file), encoding: .utf8)) ?? ""
      for line in text.split(separator: "\n") {
        guard let r = line.range(of: "result acknowledged: trial ") else { continue }
        acked.insert(String(line[r.upperBound...].prefix(64)))
      }
    }
    let stored = Set(chaos.byID.keys.map(\.hex))
    outcome.ackedSeen = acked.count
    outcome.ackedMissing = acked.subtracting(stored).count

    // The flood's window: honest results committed in it. The leases in flight at kills.
    let store = try SweepStore(readOnlyPath: storePath)
    defer { try? store.close() }
    if let (from, to) = floodWindow {
      outcome.floodHonestCommits = try store.trialTimes(sweepID: nil).values.count {
        guard let c = $0.committed else { return false }
        return c >= from && c <= to
      }
    }
    let attempts = Dictionary(
      grouping: try store.attempts().map(InFlightLease.Attempt.init), by: \.trial)
    let delivered = assignmentsReceived(logs: logs, tag: workerTag)
    let clock = DateFormatter()
    clock.dateFormat = "HH:mm:ss.SSS"
    for lease in inFlight {
      let rows = attempts[lease.trial] ?? []
      let fate = lease.fate(
        attempts: rows,
        delivered: delivered.contains("\(lease.worker) \(lease.trial.short) \(lease.attempt)"),
        workerDisabled: disabled[lease.worker] ?? [])
      outcome.inFlight[fate, default: 0] += 1
      // One line per lease: the kill, the lease, what followed.
      let later = rows.filter { ($0.startedAt ?? .distantPast) > lease.killedAt || !$0.leased }
        .map {
          "#\($0.attempt) \($0.worker)\($0.leased ? "" : " (adopted)")"
            + ($0.startedAt.map { " at \(clock.string(from: $0))" } ?? "")
            + ($0.committed ? " committed" : "")
        }
      outcome.inFlightDetails.append(
        "kill at \(clock.string(from: lease.killedAt)): \(lease.trial.short)#\(lease.attempt) on "
          + "\(lease.worker) -> \(fate.rawValue); then \(later.joined(separator: ", "))"
          + "; worker disabled at "
          + (disabled[lease.worker] ?? []).map {
            clock.string(from: $0.lowerBound)
              + ($0.upperBound == .distantFuture ? " (killed)" : " (for a while)")
          }.joined(separator: ", "))
    }
    return outcome
  }

  /// `WORKER TRIAL.short ATTEMPT` of every assignment a worker logged receiving ("trial
  /// assigned", debug), from the worker logs (`worker-SLOT-GEN.log` is worker `chaos-SLOT-GEN`).
  func assignmentsReceived(logs: URL, tag: String) -> Set<String> {
    var out = Set<String>()
    for file in (try? FileManager.default.contentsOfDirectory(atPath: logs.path)) ?? []
    where file.hasPrefix("worker-") && file.hasSuffix(".log") {
      let id = "chaos-" + file.dropFirst("worker-".count).dropLast(".log".count) + tag
      let text = (try? String(contentsOf: logs.appendingPathComponent(file), encoding: .utf8)) ?? ""
      for line in text.split(separator: "\n") where line.contains("trial assigned") {
        guard let t = Self.field(line, "trial.id="), let a = Self.field(line, "attempt=") else {
          continue
        }
        out.insert("\(id) \(t) \(a)")
      }
    }
    return out
  }

  /// The value after `key` in a log line, up to a blank (or the end).
  static func field(_ line: Substring, _ key: String) -> String? {
    guard let r = line.range(of: " " + key) ?? line.range(of: key) else { return nil }
    let rest = line[r.upperBound...]
    let value = rest.prefix { $0 != " " && $0 != "]" && $0 != "," }
    return value.isEmpty ? nil : String(value)
  }

  /// Reads the hostile peer's report (what it sent, what came back) and counts the
  /// coordinators' log lines about its messages.
  func readFlood(log: URL, logs: URL, into outcome: inout Outcome) {
    let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("chaos-peer: ") }),
      let report = try? JSONDecoder().decode(
        ChaosPeer.Report.self, from: Data(line.dropFirst("chaos-peer: ".count).utf8))
    else {
      outcome.problems.append("the hostile peer did not report; see \(log.path)")
      return
    }
    outcome.floodSent = report.sent
    outcome.floodByKind = report.sentByKind
    outcome.floodSentAs = report.sentAs
    outcome.floodAnswers = report.answers
    let impostors = Set(report.sentAs.keys.filter { $0 != "own routing id" })
    let messages = [
      "dropped undecodable message", "refused", "dropped message meant for a worker",
      "message refused: routing id of another key", "worker declared dead", "worker quarantined",
      "attempt ended without result",
    ]
    for file in (try? FileManager.default.contentsOfDirectory(atPath: logs.path)) ?? []
    where file.hasPrefix("coordinator-") {
      let text = (try? String(contentsOf: logs.appendingPathComponent(file), encoding: .utf8)) ?? ""
      for line in text.split(separator: "\n") {
        let aboutPeer =
          line.contains(report.routingID)
          || (line.contains("routing id of another key")
            && impostors.contains { line.contains("'\($0)'") })
        guard aboutPeer else { continue }
        let m = messages.first { line.contains($0) } ?? "other"
        outcome.floodLogged[m, default: 0] += 1
      }
    }
  }
}

extension SplitMix64 {
  /// Uniform in 0..<n (n ≥ 1; modulo bias is negligible for the small n of a fault schedule).
  fileprivate mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
  /// Uniform in [0, 1).
  fileprivate mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
