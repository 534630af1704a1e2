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
      every result a worker logged as acknowledged is stored. Prints a table; exits 1 if an \
      invariant fails. With --duration, repeats rounds (new seeds) until that many seconds \
      passed (the soak profile).
      """)

  @Option(help: "Sweep file (default: a built-in sweep of 60 small synthetic trials).")
  var sweep: String?
  @Option(help: "Seed of the fault schedule.") var seed: UInt64 = 1
  @Option(help: "Worker processes.") var workers: Int = 2
  @Option(help: "Soak: repeat rounds until this many seconds passed.") var duration: Double?
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
      let outcome = try r.run()
      totals.add(outcome)
      round += 1
      // Unbuffered: a soak runs for long, each round shows as it ends.
      FileHandle.standardOutput.write(
        Data("round \(round) (seed \(seed &+ UInt64(round - 1))): \(outcome.summaryLine)\n".utf8))
    } while duration.map { monotonicSeconds() - start < $0 } ?? false
    print(totals.table(rounds: round, seconds: monotonicSeconds() - start))
    print(
      "reproduce: swift build -c release -Xswiftc -target-cpu -Xswiftc haswell && "
        + ".build/release/tailsweep chaos --seed \(seed) --workers \(workers)"
        + (duration.map { " --duration \(Int($0))" } ?? "") + (sweep.map { " --sweep \($0)" } ?? "")
        + (hosts ? "" : " --no-hosts")
    )
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

    var clean: Bool {
      lost == 0 && duplicated == 0 && mismatched == 0 && ackedMissing == 0
        && verifyProblems.isEmpty
    }

    var summaryLine: String {
      "\(faults.values.reduce(0, +)) faults, \(trials) trials, lost \(lost), duplicated "
        + "\(duplicated), mismatched \(mismatched), acknowledged but missing \(ackedMissing), "
        + "verify problems \(verifyProblems.count), "
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
        "", "| coordinator process ended by | count |", "| --- | --- |",
      ]
      for (k, v) in coordinatorEnds.sorted(by: { $0.key < $1.key }) {
        lines.append("| \(k) | \(v) |")
      }
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

  init(
    folder: URL, sweepPath: String?, seed: UInt64, workers: Int, dataDirectory: URL,
    hostsScript: String? = nil
  ) {
    self.folder = folder
    self.sweepPath = sweepPath
    self.random = SplitMix64(seed: seed &+ 0x9E37_79B9_7F4A_7C15)
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
      for who in ["coordinator", "worker"] {
        let g = try ChaosChild(
          ["keys", "generate", "--out", keys.appendingPathComponent(who).path],
          log: logs.appendingPathComponent("keys-\(who).log"))
        g.process.waitUntilExit()
        guard g.process.terminationStatus == 0 else {
          throw RuntimeFailure("keys generate failed; see \(g.log.path)")
        }
      }
      let allow = keys.appendingPathComponent("allowed-workers")
      try FileManager.default.copyItem(
        at: keys.appendingPathComponent("worker/public.key"), to: allow)
      secure.coordinator = [
        "--keys", keys.appendingPathComponent("coordinator").path, "--allow", allow.path,
      ]
      secure.worker = [
        "--server-key", keys.appendingPathComponent("coordinator/public.key").path,
        "--keys", keys.appendingPathComponent("worker").path,
      ]
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
    func startCoordinator(crashAfter: Int? = nil) throws -> ChaosChild {
      coordinatorStarts += 1
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
    func startWorker(_ slot: Int) throws -> ChaosChild {
      generation += 1
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
    if hostsScript != nil {
      plan += [.partitionShort, .partitionShort, .partitionLong, .partitionLong]
    } else {
      outcome.skipped[.partitionShort] = skippedHosts ?? "no namespace hosts"
      outcome.skipped[.partitionLong] = skippedHosts ?? "no namespace hosts"
    }
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
        } else {
          let text = (try? String(contentsOf: coordinator.log, encoding: .utf8)) ?? ""
          let cause =
            text.contains("disk") && text.contains("full")
            ? "the store failing: disk full"
            : text.contains("lock")
              ? "the store failing: locked"
              : "another error"
          outcome.coordinatorEnds["\(cause) (status \(status))", default: 0] += 1
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
      guard now >= nextFault, !plan.isEmpty, FileManager.default.fileExists(atPath: storePath)
      else { continue }
      nextFault = now + spacing * (0.5 + random.unit())
      let fault = plan.removeLast()
      switch fault {
      case .workerKill:
        let slot = random.below(workerCount)
        workers[slot].stop()
        stopped.removeAll { $0.0 == slot }
        workers[slot] = try startWorker(slot)
      case .workerStop:
        let slot = random.below(workerCount)
        guard !stopped.contains(where: { $0.0 == slot }) else {
          plan.insert(fault, at: 0)
          continue
        }
        workers[slot].signal(SIGSTOP)
        stopped.append((slot, now))
      case .coordinatorKill:
        coordinator.stop()
        outcome.coordinatorEnds["SIGKILL from the runner", default: 0] += 1
        coordinator = try startCoordinator()
      case .coordinatorKillAfterCommit:
        // Restart it with the hook: it kills itself after 1–3 durable batches, before their
        // acks leave.
        coordinator.stop()
        outcome.coordinatorEnds["SIGKILL from the runner", default: 0] += 1
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
    return outcome
  }
}

extension SplitMix64 {
  /// Uniform in 0..<n (n ≥ 1; modulo bias is negligible for the small n of a fault schedule).
  fileprivate mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
  /// Uniform in [0, 1).
  fileprivate mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
