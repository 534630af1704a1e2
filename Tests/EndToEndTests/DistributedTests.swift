import Foundation
import SweepSpec
import SweepStore
import TailSweepTestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension BackgroundProcess {
  /// A `tailsweep` child process in `dir` with one BLAS thread, its output going to
  /// `dir/name.log` (readable while it runs); `executable` may be a program that runs
  /// `tailsweep` in turn (setpriv).
  convenience init(
    tailsweep args: [String], in dir: URL, name: String, environment: [String: String] = [:],
    executable: String = Binary.path
  ) throws {
    try self.init(
      executable, args, log: dir.appendingPathComponent("\(name).log"), in: dir,
      environment: ["OPENBLAS_NUM_THREADS": "1"].merging(environment) { $1 })
  }
}

/// Helpers of the distributed end-to-end tests.
enum Dist {
  /// A small real sweep: synthetic data (500 train / 200 test), widths 16–64. `slow: false`
  /// is a few hundred iterations (~0.1 s a trial); `slow: true` uses a tiny step size so that
  /// no trial stops early and runs 10000 iterations (0.4–1.2 s a trial in a debug build):
  /// the failure tests need a trial surely in flight when they kill or freeze a process.
  static func writeSweep(
    _ dir: URL, name: String, seeds: Int = 2, slow: Bool = true, timeout: Int = 120
  ) throws -> String {
    let eta = slow ? 0.0005 : 0.05
    let maxIterations = slow ? 10000 : 300
    let evalEvery = slow ? 2500 : 100
    let text = """
      # End-to-end test sweep: tiny synthetic trials (0.1–2 s each on 1 core, debug build).
      description: "distributed end-to-end test"
      name: \(name)
      dataset: {name: synthetic, trainSize: 500, testSize: 200}
      train:
        eta: \(eta)
        batchSize: 25
        sigma: 0.001
        alpha: 1.8
        targetAccuracy: 1.0
        maxIterations: \(maxIterations)
        evalEvery: \(evalEvery)
      grid:
        width: [16, 32, 64]
      seeds: \(seeds)
      run: {retries: 5, trialTimeout: \(timeout)}
      """
    let path = dir.appendingPathComponent("\(name).yaml").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  /// Heartbeats every 200 ms; a peer is dead after 5 missed (1 s): fast but not flaky on 2
  /// busy cores.
  static let fastTiming = ["--heartbeat-ms", "200", "--liveness", "5", "--log-level", "info"]

  /// How trials run in these tests: `TAILSWEEP_E2E_NULL_MS=N` switches to null trials of N ms
  /// (no training) while the real TrialExecutor is not available.
  static let trialMode: [String] = {
    if let ms = ProcessInfo.processInfo.environment["TAILSWEEP_E2E_NULL_MS"] {
      return ["--null-trials", "--null-trial-ms", ms]
    }
    return []
  }()

  static func openStore(_ dir: URL, _ name: String) throws -> SweepStore {
    let file = trialMode.isEmpty ? "sweep.sqlite" : "null-trials.sqlite"
    return try SweepStore(readOnlyPath: dir.appendingPathComponent("results/\(name)/\(file)").path)
  }

  /// Every trial has exactly one committed result.
  static func expectOneResultPerTrial(_ store: SweepStore, trials: Int) throws {
    let rows = try store.rows(sweepID: nil)
    #expect(rows.count == trials)
    #expect(rows.allSatisfy { $0.state == .done || $0.state == .diverged })
    #expect(rows.allSatisfy { $0.result != nil })
    let status = try store.status(sweepID: nil)
    #expect(status.workers.map(\.committed).reduce(0, +) == trials)
  }
}

@Suite(.serialized) struct DistributedTests {
  @Test func sweepWithTwoLocalWorkersCommitsOneResultPerTrial() throws {
    let dir = try TestFiles.temporaryDirectory()
    let sweep = try Dist.writeSweep(dir, name: "two-workers", slow: false)
    let out = try Binary.run(
      ["run", sweep, "--workers", "2", "--results", "results", "--progress", "plain"]
        + Dist.fastTiming + Dist.trialMode,
      in: dir)
    #expect(out.status == 0, "\(out.stderr)")
    #expect(out.stdout.contains("done 6/6"))
    try Dist.expectOneResultPerTrial(try Dist.openStore(dir, "two-workers"), trials: 6)
    // Local workers connect over a private ipc:// socket (no TCP port any local user could
    // reach), in a directory that is removed at the end.
    let endpoint = out.stderr.split(separator: " ").first { $0.hasPrefix("endpoints=ipc://") }
    #expect(endpoint != nil, "\(out.stderr)")
    if let e = endpoint {
      let socketPath = String(e.dropFirst("endpoints=ipc://".count))
      let folder = URL(fileURLWithPath: socketPath).deletingLastPathComponent().path
      #expect(folder.contains("tailsweep-"), "\(folder)")
      #expect(!FileManager.default.fileExists(atPath: folder), "\(folder) left behind")
    }
    // Run again: nothing left to do, nothing recomputed.
    let again = try Binary.run(
      ["run", sweep, "--workers", "2", "--progress", "none"] + Dist.fastTiming + Dist.trialMode,
      in: dir)
    #expect(again.status == 0, "\(again.stderr)")
    let status = try Dist.openStore(dir, "two-workers").status(sweepID: nil)
    #expect(status.workers.map(\.attempts).reduce(0, +) == 6)
  }

  /// Another local user cannot reach `run`'s workers' endpoint: it is an `ipc://` socket in a
  /// fresh 0700 folder, so a worker started as `nobody` against it never registers (checked
  /// over the whole run) and every trial is computed by the run's own workers.
  @Test(.enabled(if: ClusterSupport.isRoot, "needs root: starts a worker as nobody"))
  func anotherLocalUserCannotReachTheRunsPrivateEndpoint() throws {
    let dir = try TestFiles.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let sweep = try Dist.writeSweep(dir, name: "private")
    let run = try BackgroundProcess(
      tailsweep: ["run", sweep, "--workers", "1", "--progress", "none"] + Dist.fastTiming, in: dir,
      name: "run")
    defer { run.stop(grace: 0) }
    var endpoint = ""
    #expect(
      Processes.waitUntil(timeout: 30, interval: 0.05) {
        let word = run.output.split(whereSeparator: { $0 == " " || $0 == "\n" }).first {
          $0.hasPrefix("endpoints=ipc://")
        }
        endpoint = word.map { String($0.dropFirst("endpoints=".count)) } ?? ""
        return !endpoint.isEmpty
      }, "\(run.output)")
    let folder = URL(fileURLWithPath: String(endpoint.dropFirst("ipc://".count)))
      .deletingLastPathComponent().path
    let mode = try FileManager.default.attributesOfItem(atPath: folder)[.posixPermissions] as? Int
    #expect(mode == 0o700, "\(folder): mode \(String(mode ?? 0, radix: 8))")
    #expect(chmod(dir.path, 0o755) == 0)
    let intruder = try BackgroundProcess(
      tailsweep: [
        "--reuid=nobody", "--regid=nogroup", "--clear-groups", Binary.path, "worker", "--connect",
        endpoint, "--id", "intruder", "--coordinator-timeout", "60",
      ] + Dist.fastTiming, in: dir, name: "intruder", executable: "/usr/bin/setpriv")
    defer { intruder.stop(grace: 0) }
    #expect(run.wait(timeout: 120) == 0, "\(run.output)")
    let store = try Dist.openStore(dir, "private")
    try Dist.expectOneResultPerTrial(store, trials: 6)
    let workers = try store.status(sweepID: nil).workers.map(\.worker)
    #expect(!workers.contains("intruder") && !workers.isEmpty, "\(workers)")
    // It did try: libzmq retries the refused connect in the background.
    #expect(intruder.output.contains("worker connected"), "\(intruder.output)")
  }

  /// Starts a coordinator on a fresh port and returns it with its endpoint.
  func coordinator(
    _ dir: URL, _ sweep: String, port: Int, name: String = "coordinator", extra: [String] = []
  )
    throws -> BackgroundProcess
  {
    try BackgroundProcess(
      tailsweep: ["coordinator", sweep, "--bind", "tcp://127.0.0.1:\(port)", "--progress", "plain"]
        + Dist.fastTiming
        + Dist.trialMode + extra, in: dir, name: name)
  }

  func worker(_ dir: URL, port: Int, id: String, extra: [String] = []) throws -> BackgroundProcess {
    try BackgroundProcess(
      tailsweep: [
        "worker", "--connect", "tcp://127.0.0.1:\(port)", "--id", id, "--coordinator-timeout", "20",
      ]
        + Dist.fastTiming + Dist.trialMode + extra, in: dir, name: id)
  }

  /// The worker holding a lease now, per the store.
  func busy(_ dir: URL, _ name: String, worker: String) -> Bool {
    guard let store = try? Dist.openStore(dir, name), let s = try? store.status(sweepID: nil) else {
      return false
    }
    return s.workers.contains { $0.worker == worker && $0.running > 0 }
  }

  @Test func killedWorkerHasItsTrialRerunElsewhere() throws {
    let dir = try TestFiles.temporaryDirectory()
    let sweep = try Dist.writeSweep(dir, name: "sigkill")
    let port = try Processes.freePort()
    let c = try coordinator(dir, sweep, port: port)
    let a = try worker(dir, port: port, id: "victim")
    let b = try worker(dir, port: port, id: "survivor")
    defer { for p in [c, a, b] { p.stop(grace: 0) } }
    #expect(
      Processes.waitUntil(timeout: 30, interval: 0.05) { busy(dir, "sigkill", worker: "victim") })
    a.signal(SIGKILL)
    let status = c.wait(timeout: 90)
    #expect(status == 0, "\(c.output)")
    let store = try Dist.openStore(dir, "sigkill")
    try Dist.expectOneResultPerTrial(store, trials: 6)
    let victim = try store.status(sweepID: nil).workers.first { $0.worker == "victim" }
    #expect((victim?.failed ?? 0) >= 1)
    #expect(c.output.contains("worker declared dead"))
  }

  @Test func frozenWorkerIsReplacedAndItsLateResultIsKeptOrADuplicate() throws {
    let dir = try TestFiles.temporaryDirectory()
    let sweep = try Dist.writeSweep(dir, name: "sigstop", seeds: 3)
    let port = try Processes.freePort()
    let c = try coordinator(dir, sweep, port: port)
    let a = try worker(dir, port: port, id: "frozen")
    let b = try worker(dir, port: port, id: "steady")
    defer {
      a.signal(SIGCONT)
      for p in [c, a, b] { p.stop(grace: 0) }
    }
    #expect(
      Processes.waitUntil(timeout: 30, interval: 0.05) { busy(dir, "sigstop", worker: "frozen") })
    a.signal(SIGSTOP)
    // The coordinator notices the silence (1 s deadline) and hands the trial to `steady`.
    #expect(
      Processes.waitUntil(timeout: 20, interval: 0.05) { c.output.contains("worker declared dead") }
    )
    a.signal(SIGCONT)
    #expect(c.wait(timeout: 90) == 0, "\(c.output)")
    let store = try Dist.openStore(dir, "sigstop")
    try Dist.expectOneResultPerTrial(store, trials: 9)
    // The frozen worker's late result is verified and kept when its trial has no result yet
    // (the replacement is cancelled), else recorded as a duplicate: never a second result.
    let frozen = try store.status(sweepID: nil).workers.first { $0.worker == "frozen" }
    #expect((frozen?.duplicates ?? 0) + (frozen?.committed ?? 0) >= 1, "\(c.output)")
  }

  @Test func restartedCoordinatorResumesWithoutRecomputing() throws {
    let dir = try TestFiles.temporaryDirectory()
    let sweep = try Dist.writeSweep(dir, name: "restart", seeds: 3)
    let port = try Processes.freePort()
    var c = try coordinator(dir, sweep, port: port)
    let a = try worker(dir, port: port, id: "w1")
    let b = try worker(dir, port: port, id: "w2")
    defer { for p in [c, a, b] { p.stop(grace: 0) } }
    var committed: [TrialID: Int] = [:]
    #expect(
      Processes.waitUntil(timeout: 60, interval: 0.05) {
        guard let rows = try? Dist.openStore(dir, "restart").rows(sweepID: nil) else {
          return false
        }
        committed = Dictionary(
          uniqueKeysWithValues: rows.filter { $0.result != nil }.map { ($0.id, $0.attempts) })
        return committed.count >= 2
      })
    c.signal(SIGKILL)
    _ = c.wait(timeout: 5)
    // Read again after the kill: every commit is a whole transaction.
    let before = try Dist.openStore(dir, "restart").rows(sweepID: nil).filter { $0.result != nil }
    #expect(before.count >= committed.count)
    // The leases the killed coordinator left open: their workers still compute them.
    let inFlight = try Dist.openStore(dir, "restart").openAttempts(sweepID: nil)
    c = try coordinator(dir, sweep, port: port, name: "coordinator-2")
    // An idle worker joins at once: the trials in flight are first in the queue (by cost), yet
    // it must get other work while their workers come back.
    let idle = try worker(dir, port: port, id: "w3")
    defer { idle.stop(grace: 0) }
    #expect(c.wait(timeout: 90) == 0, "\(c.output)")
    let store = try Dist.openStore(dir, "restart")
    try Dist.expectOneResultPerTrial(store, trials: 9)
    if !inFlight.isEmpty {
      #expect(c.output.contains("wait for their workers"), "\(c.output)")
    }
    // Each trial in flight at the kill kept its worker's result and ran nowhere else.
    for open in inFlight {
      let attempts = try store.attempts(trial: open.trial)
      #expect(
        attempts.first { $0.outcome == .committed }?.worker == open.worker,
        "\(open.trial.short): \(attempts.map { "\($0.attempt) \($0.worker) \(String(describing: $0.outcome))" })"
      )
      #expect(
        !attempts.contains { $0.attempt > open.attempt && $0.leased && $0.worker != open.worker },
        "\(open.trial.short) ran again elsewhere")
    }
    let after = Dictionary(uniqueKeysWithValues: try store.rows(sweepID: nil).map { ($0.id, $0) })
    for row in before {
      // Not recomputed: same result, no new attempt.
      #expect(after[row.id]?.result == row.result)
      #expect(after[row.id]?.attempts == row.attempts)
    }
  }

  @Test func secondCoordinatorOnTheSameResultsExitsTwoNamingTheHolder() throws {
    let dir = try TestFiles.temporaryDirectory()
    let sweep = try Dist.writeSweep(dir, name: "locked")
    let port = try Processes.freePort()
    let c = try coordinator(dir, sweep, port: port)
    let w = try worker(dir, port: port, id: "w1")
    defer {
      c.signal(SIGCONT)
      for p in [c, w] { p.stop(grace: 0) }
    }
    #expect(Processes.waitUntil(timeout: 30, interval: 0.05) { busy(dir, "locked", worker: "w1") })
    // Freeze the first coordinator with its lease open, so the store can only change through
    // the second one.
    c.signal(SIGSTOP)
    let second = try Binary.run(
      [
        "coordinator", sweep, "--bind", "tcp://127.0.0.1:\(try Processes.freePort())", "--progress",
        "none",
      ]
        + Dist.fastTiming + Dist.trialMode, in: dir)
    #expect(second.status == 2, "\(second.stderr)")
    #expect(second.stderr.contains("pid \(c.pid)"), "\(second.stderr)")
    #expect(second.stderr.contains("stop that coordinator first"), "\(second.stderr)")
    // The refused coordinator changed nothing: the first one's attempt is still running.
    #expect(busy(dir, "locked", worker: "w1"))
  }

  /// A store that another process holds locked when the coordinator starts (beyond SQLite's
  /// busy timeout, 10 s): the run stops with status 4 and the store's reason, as when the same
  /// happens during a run, not 1; afterwards the same command finishes.
  @Test func storeLockedAtStartStopsWithStatusFour() throws {
    let dir = try TestFiles.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let sweep = try Dist.writeSweep(dir, name: "locked", seeds: 2, slow: false)
    let args = ["run", sweep, "--workers", "1", "--results", "res", "--progress", "none"]
    let first = try Binary.run(args + Dist.fastTiming, in: dir)
    #expect(first.status == 0, "\(first.stderr)")
    let store = dir.appendingPathComponent("res/locked/sweep.sqlite").path
    // Another process takes SQLite's write lock for 13 s and says when it holds it.
    let holder = Process()
    holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    holder.arguments = [
      "python3", "-c",
      "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        + "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(13); "
        + "c.execute('COMMIT')",
      store,
    ]
    let out = Pipe()
    holder.standardOutput = out
    try holder.run()
    defer { holder.waitUntilExit() }
    let said = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
    #expect(said.contains("locked"))
    let locked = try Binary.run(args + ["--rerun", "all"] + Dist.fastTiming, in: dir)
    #expect(locked.status == 4, "exit \(locked.status): \(locked.stderr)")
    #expect(locked.stderr.contains("write lock"), "\(locked.stderr)")
    holder.waitUntilExit()
    let again = try Binary.run(args + Dist.fastTiming, in: dir)
    #expect(again.status == 0, "\(again.stderr)")
  }

  /// The results folder on a real 1 MiB tmpfs that fills up mid-sweep: the run stops with
  /// status 4 and says why; after the file system is enlarged the same command resumes, and
  /// every result committed before the stop is kept, not recomputed.
  @Test(.enabled(if: ClusterSupport.isRoot, "needs root: mounts a tmpfs"))
  func fullDiskStopsTheRunWithStatusFourAndLosesNothing() throws {
    let dir = try TestFiles.temporaryDirectory()
    let sweep = try Dist.writeSweep(dir, name: "full", seeds: 10, slow: false)
    let mountPoint = dir.appendingPathComponent("small")
    try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
    func sh(_ args: [String]) throws -> Int32 {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: "/bin/mount")
      p.arguments = args
      try p.run()
      p.waitUntilExit()
      return p.terminationStatus
    }
    #expect(try sh(["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint.path]) == 0)
    defer {
      let u = Process()
      u.executableURL = URL(fileURLWithPath: "/bin/umount")
      u.arguments = [mountPoint.path]
      try? u.run()
      u.waitUntilExit()
    }
    // Real trials with a dense evaluation history: about 65 KB of store per trial.
    let text = try String(contentsOfFile: sweep, encoding: .utf8)
      .replacingOccurrences(of: "evalEvery: 100", with: "evalEvery: 10")
    try text.write(toFile: sweep, atomically: true, encoding: .utf8)
    let args = ["run", sweep, "--workers", "2", "--results", mountPoint.path, "--progress", "none"]
    let full = try Binary.run(args + Dist.fastTiming, in: dir)
    #expect(full.status == 4, "\(full.stderr)")
    #expect(full.stderr.contains("the disk (or the file system quota) is full"), "\(full.stderr)")
    let storePath = mountPoint.appendingPathComponent("full/sweep.sqlite").path
    let before = try SweepStore(readOnlyPath: storePath).rows(sweepID: nil).filter {
      $0.result != nil
    }
    #expect(!before.isEmpty && before.count < 30, "\(before.count) results before the stop")
    #expect(try sh(["-o", "remount,size=64m", mountPoint.path]) == 0)
    let again = try Binary.run(args + Dist.fastTiming, in: dir)
    #expect(again.status == 0, "\(again.stderr)")
    let store = try SweepStore(readOnlyPath: storePath)
    try Dist.expectOneResultPerTrial(store, trials: 30)
    let after = Dictionary(uniqueKeysWithValues: try store.rows(sweepID: nil).map { ($0.id, $0) })
    for row in before { #expect(after[row.id]?.result == row.result) }
  }

  /// Children of `pid` (Linux /proc).
  func children(of pid: pid_t) -> [pid_t] {
    let text =
      (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
    return text.split(separator: " ").compactMap {
      pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines))
    }
  }

  @Test func crashedLocalWorkerIsRestartedAndItsTrialCountsAsAnAttempt() throws {
    let dir = try TestFiles.temporaryDirectory()
    let sweep = try Dist.writeSweep(dir, name: "crash")
    let run = try BackgroundProcess(
      tailsweep: ["run", sweep, "--workers", "2", "--progress", "plain"] + Dist.fastTiming
        + Dist.trialMode,
      in: dir, name: "run")
    defer { run.stop(grace: 0) }
    // Wait until some local worker holds a lease, then kill that worker process.
    var victim: String?
    #expect(
      Processes.waitUntil(timeout: 30, interval: 0.05) {
        guard let s = try? Dist.openStore(dir, "crash").status(sweepID: nil) else { return false }
        victim = s.workers.first { $0.running > 0 }?.worker
        return victim != nil
      })
    let parts = victim?.split(separator: "-") ?? []
    let slot = parts.count > 1 ? String(parts[1]) : ""
    // Worker ids are local-<slot>-<generation>-<coordinator pid>; find its process by argv.
    let pids = children(of: run.pid).filter { pid in
      let argv = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
      return argv.contains("local-\(slot)-0-")
    }
    #expect(pids.count == 1)
    for pid in pids { kill(pid, SIGKILL) }
    #expect(run.wait(timeout: 90) == 0, "\(run.output)")
    let store = try Dist.openStore(dir, "crash")
    try Dist.expectOneResultPerTrial(store, trials: 6)
    let killed = try store.status(sweepID: nil).workers.first { $0.worker == victim }
    #expect((killed?.failed ?? 0) >= 1)
    #expect(run.output.contains("worker process died"))
    // The restarted worker (generation 1) did work.
    #expect(
      try store.status(sweepID: nil).workers.contains { $0.worker.hasPrefix("local-\(slot)-1-") })
  }

  /// Local workers that keep dying (here: every worker process is killed as soon as it
  /// appears) use up `run`'s restart budget (2 × workers + trials): the run must then stop
  /// with status 6 and say why, not wait forever, and leave the sweep resumable.
  @Test func usedUpRestartBudgetStopsTheRunWithStatusSixAndItResumes() throws {
    let dir = try TestFiles.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let sweep = try Dist.writeSweep(dir, name: "budget", slow: false)
    let args = ["run", sweep, "--workers", "1", "--progress", "none"] + Dist.fastTiming
    let run = try BackgroundProcess(tailsweep: args, in: dir, name: "run")
    defer { run.stop(grace: 0) }
    var killed = Set<pid_t>()
    let end = Date().addingTimeInterval(120)
    while run.process.isRunning && Date() < end {
      for pid in children(of: run.pid) where !killed.contains(pid) {
        // Only `tailsweep worker …` processes: a child still between fork and exec (of a
        // worker, or of `git` for the provenance) has the run's own argv, `run … --workers 1`.
        let argv = ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "")
          .split(separator: "\0")
        guard argv.count > 1, argv[1] == "worker" else { continue }
        kill(pid, SIGKILL)
        killed.insert(pid)
      }
      usleep(2_000)
    }
    #expect(run.wait(timeout: 10) == 6, "\(run.output)")
    // 1 worker + a budget of 2 × 1 + 6 restarts: 9 worker processes, all killed.
    #expect(killed.count == 9, "\(killed.count) worker processes killed")
    #expect(run.output.contains("restart budget of 8 is used up"), "\(run.output)")
    #expect(run.output.contains("run the same command again"), "\(run.output)")
    let rows = try Dist.openStore(dir, "budget").rows(sweepID: nil)
    #expect(rows.count == 6)
    #expect(rows.allSatisfy { $0.state == .pending }, "\(rows.map(\.state))")
    let again = try Binary.run(args, in: dir)
    #expect(again.status == 0, "\(again.stderr)")
    try Dist.expectOneResultPerTrial(try Dist.openStore(dir, "budget"), trials: 6)
  }

  /// A store its user cannot write (files and folder read-only to that user: a real permission
  /// check, so the coordinator runs as `nobody`): the run stops with status 4 before anything
  /// changes and says what to fix; once the permissions are fixed, the same command resumes
  /// and keeps every result committed before.
  @Test(.enabled(if: ClusterSupport.isRoot, "needs root: runs the coordinator as nobody"))
  func readOnlyStoreStopsTheRunWithStatusFourAndItResumes() throws {
    let dir = try TestFiles.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let sweep = try Dist.writeSweep(dir, name: "ro")
    let args = ["run", sweep, "--workers", "1", "--progress", "none"] + Dist.fastTiming
    let first = try BackgroundProcess(tailsweep: args, in: dir, name: "first")
    defer { first.stop(grace: 0) }
    #expect(
      Processes.waitUntil(timeout: 60, interval: 0.05) {
        ((try? Dist.openStore(dir, "ro").rows(sweepID: nil)) ?? []).contains { $0.result != nil }
      })
    first.signal(SIGINT)
    #expect(first.wait(timeout: 20) == 130, "\(first.output)")
    let before = try Dist.openStore(dir, "ro").rows(sweepID: nil)
    #expect(before.contains { $0.result == nil }, "the first run must stop with trials left")
    func sh(_ program: String, _ arguments: [String]) throws -> Int32 {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: program)
      p.arguments = arguments
      try p.run()
      p.waitUntilExit()
      return p.terminationStatus
    }
    let results = dir.appendingPathComponent("results").path
    #expect(try sh("/bin/chmod", ["0755", dir.path]) == 0)
    #expect(try sh("/bin/chmod", ["-R", "a-w", results]) == 0)
    let refused = try Binary.runProcess(
      "/usr/bin/setpriv",
      ["--reuid=nobody", "--regid=nogroup", "--clear-groups", Binary.path] + args, in: dir)
    #expect(refused.status == 4, "exit \(refused.status): \(refused.stderr)")
    #expect(refused.stderr.contains("read-only"), "\(refused.stderr)")
    #expect(refused.stderr.contains("run the same command again"), "\(refused.stderr)")
    #expect(try Dist.openStore(dir, "ro").rows(sweepID: nil) == before)
    #expect(try sh("/bin/chmod", ["-R", "u+w", results]) == 0)
    let again = try Binary.run(args, in: dir)
    #expect(again.status == 0, "\(again.stderr)")
    let store = try Dist.openStore(dir, "ro")
    try Dist.expectOneResultPerTrial(store, trials: 6)
    let after = Dictionary(uniqueKeysWithValues: try store.rows(sweepID: nil).map { ($0.id, $0) })
    for row in before where row.result != nil { #expect(after[row.id]?.result == row.result) }
  }

  /// `run` killed (SIGKILL) mid-sweep: its local workers exit with it, so the next `run` does
  /// not wait for them (they cannot reach its new private socket); it resumes at once and keeps
  /// every committed result.
  @Test func killedRunResumesWithoutWaitingForItsDeadWorkers() throws {
    let dir = try TestFiles.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let sweep = try Dist.writeSweep(dir, name: "killed")
    let args = ["run", sweep, "--workers", "2", "--progress", "none"] + Dist.fastTiming
    let first = try BackgroundProcess(tailsweep: args, in: dir, name: "first")
    defer { first.stop(grace: 0) }
    #expect(
      Processes.waitUntil(timeout: 60, interval: 0.05) {
        ((try? Dist.openStore(dir, "killed").rows(sweepID: nil)) ?? []).contains {
          $0.result != nil
        }
      })
    first.signal(SIGKILL)
    _ = first.wait(timeout: 10)
    let store = try Dist.openStore(dir, "killed")
    let before = try store.rows(sweepID: nil).filter { $0.result != nil }
    #expect(!(try store.openAttempts(sweepID: nil)).isEmpty, "no lease was open at the kill")
    let again = try Binary.run(args, in: dir)
    #expect(again.status == 0, "\(again.stderr)")
    #expect(!again.stderr.contains("wait for their workers"), "\(again.stderr)")
    let after = try Dist.openStore(dir, "killed")
    try Dist.expectOneResultPerTrial(after, trials: 6)
    let rows = Dictionary(uniqueKeysWithValues: try after.rows(sweepID: nil).map { ($0.id, $0) })
    for row in before { #expect(rows[row.id]?.result == row.result) }
  }

  @Test func interruptedRunStopsCleanlyAndResumes() throws {
    let dir = try TestFiles.temporaryDirectory()
    let sweep = try Dist.writeSweep(dir, name: "interrupt")
    let run = try BackgroundProcess(
      tailsweep: ["run", sweep, "--workers", "2", "--progress", "plain"] + Dist.fastTiming
        + Dist.trialMode,
      in: dir, name: "run")
    defer { run.stop(grace: 0) }
    #expect(
      Processes.waitUntil(timeout: 30, interval: 0.05) {
        ((try? Dist.openStore(dir, "interrupt").rows(sweepID: nil)) ?? []).contains {
          $0.result != nil
        }
      })
    run.signal(SIGINT)
    #expect(run.wait(timeout: 20) == 130, "\(run.output)")
    // No worker process is left behind.
    #expect(children(of: run.pid).isEmpty)
    let rows = try Dist.openStore(dir, "interrupt").rows(sweepID: nil)
    #expect(rows.allSatisfy { $0.state != .running })
    let done = rows.filter { $0.result != nil }
    #expect(!done.isEmpty && done.count < 6)
    let again = try Binary.run(
      ["run", sweep, "--workers", "2", "--progress", "none"] + Dist.fastTiming + Dist.trialMode,
      in: dir)
    #expect(again.status == 0, "\(again.stderr)")
    let store = try Dist.openStore(dir, "interrupt")
    try Dist.expectOneResultPerTrial(store, trials: 6)
    let after = Dictionary(uniqueKeysWithValues: try store.rows(sweepID: nil).map { ($0.id, $0) })
    for row in done { #expect(after[row.id]?.result == row.result) }
  }

  @Test func workerWithoutTheRightKeyReceivesNothing() throws {
    let dir = try TestFiles.temporaryDirectory()
    let sweep = try Dist.writeSweep(dir, name: "curve", seeds: 1, slow: false)
    for k in ["server", "good", "bad"] {
      let out = try Binary.run(["keys", "generate", "--out", "keys/\(k)"], in: dir)
      #expect(out.status == 0, "\(out.stderr)")
    }
    let good = try String(
      contentsOf: dir.appendingPathComponent("keys/good/public.key"), encoding: .utf8)
    try ("# workers allowed\n" + good).write(
      to: dir.appendingPathComponent("allow.txt"), atomically: true, encoding: .utf8)
    // Without keys, a non-loopback bind needs --insecure.
    let open = try Binary.run(
      ["coordinator", sweep, "--bind", "tcp://0.0.0.0:\(try Processes.freePort())"], in: dir)
    #expect(open.status == 2)
    #expect(open.stderr.contains("--insecure"))

    let port = try Processes.freePort()
    let c = try coordinator(
      dir, sweep, port: port, extra: ["--keys", "keys/server", "--allow", "allow.txt"])
    let serverKey = dir.appendingPathComponent("keys/server/public.key").path
    let intruder = try worker(
      dir, port: port, id: "intruder", extra: ["--server-key=\(serverKey)", "--keys", "keys/bad"])
    defer { for p in [c, intruder] { p.stop(grace: 0) } }
    // The intruder's handshake is refused, and refused again when libzmq retries it: it
    // never registers (checked over the whole run below), and is never sent a trial.
    #expect(
      Processes.waitUntil(timeout: 30, interval: 0.05) {
        c.output.components(separatedBy: "worker key refused").count > 2
      }, "\(c.output)")
    let member = try worker(
      dir, port: port, id: "member", extra: ["--server-key=\(serverKey)", "--keys", "keys/good"])
    defer { member.stop(grace: 0) }
    #expect(c.wait(timeout: 60) == 0, "\(c.output)")
    let store = try Dist.openStore(dir, "curve")
    try Dist.expectOneResultPerTrial(store, trials: 3)
    // Its routing id, and so its name, carries its key's tag: `~` and 16 hex digits.
    let names = try store.status(sweepID: nil).workers.map(\.worker)
    #expect(
      names.count == 1 && names[0].hasPrefix("member~") && names[0].count == 6 + 17, "\(names)")
    #expect(!intruder.output.contains("trial"), "\(intruder.output)")
  }
}
