import Foundation
import SweepStore
import TailSweepTestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Checks before dispatch, errors that are not retried, the sweep's identity and the feedback
/// of interrupted and resumed runs, through the built binary.
@Suite(.serialized) struct SweepChecksTests {
  static let data = TestFiles.repositoryRoot.appendingPathComponent("data").path

  private func folder(_ files: [String: String]) throws -> URL {
    let dir = try TestFiles.temporaryDirectory("sweep-checks")
    for (name, text) in files {
      try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    return dir
  }

  static let tooLarge = """
    description: "a limit beyond the data set"
    dataset:
      name: mnist
      trainLimit: 200000
    train: {width: 8, eta: 0.1, batchSize: 10, maxIterations: 10}
    seeds: 3
    """

  @Test(arguments: [["plan", "big.yaml"], ["run", "big.yaml", "--workers", "1"]])
  func aLimitBeyondTheDataFailsBeforeAnythingStarts(command: [String]) throws {
    let dir = try folder(["big.yaml": Self.tooLarge])
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try Binary.run(command + ["--data", Self.data], in: dir)
    #expect(r.status == 2, "exit \(r.status): \(r.stderr)")
    #expect(
      r.stderr.contains("big.yaml:4: key 'trainLimit': trainLimit 200000 must be in 1...60000"),
      "\(r.stderr)")
    #expect(!r.stderr.contains("attempt="), "no trial was dispatched: \(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("results").path))
  }

  @Test func missingDataFailsBeforeAnythingStarts() throws {
    let dir = try folder(["big.yaml": Self.tooLarge.replacingOccurrences(of: "200000", with: "100")]
    )
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try Binary.run(["run", "big.yaml", "--data", "/nonexistent-data"], in: dir)
    #expect(r.status == 2, "exit \(r.status): \(r.stderr)")
    #expect(
      r.stderr.contains(
        "big.yaml:3: key 'dataset': data set mnist is not in the data folder /nonexistent-data"),
      "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("results").path))
    // `plan` checks the same, and can be told not to.
    let plan = try Binary.run(["plan", "big.yaml", "--data", "/nonexistent-data"], in: dir)
    #expect(plan.status == 2 && plan.stderr.contains("key 'dataset'"), "\(plan.stderr)")
    let unchecked = try Binary.run(
      ["plan", "big.yaml", "--data", "/nonexistent-data", "--no-data-check"], in: dir)
    #expect(unchecked.status == 0, "\(unchecked.stderr)")
  }

  @Test func noiseAxesWithoutNoiseAreRefused() throws {
    let header = """
      description: d
      dataset: synthetic
      train: {width: 8, eta: 0.1, batchSize: 10, noiseType: 0}

      """
    let dir = try folder([
      "alpha.yaml": header + "grid:\n  alpha: [1.5, 2]\n",
      "sigma.yaml": header + "grid:\n  sigma: [0, 0.1]\n",
    ])
    defer { try? FileManager.default.removeItem(at: dir) }
    let alpha = try Binary.run(["plan", "alpha.yaml"], in: dir)
    #expect(alpha.status == 2)
    #expect(
      alpha.stderr.contains(
        "alpha.yaml:5: key 'alpha': alpha is swept, but noiseType is 0 (no noise) for every trial"),
      "\(alpha.stderr)")
    let sigma = try Binary.run(["plan", "sigma.yaml"], in: dir)
    #expect(sigma.status == 2)
    #expect(
      sigma.stderr.contains(
        "sigma.yaml:5: key 'sigma': sigma must be 0 with noiseType 0 (no noise), got 0.1"),
      "\(sigma.stderr)")
  }

  /// A coordinator that cannot check the data (remote workers have their own) and a worker
  /// whose data set cannot satisfy the request (a trainLimit beyond MNIST's 60000): every
  /// worker would fail the same way, so the trial fails at its first attempt, and the run
  /// names `--rerun failed`.
  @Test(.timeLimit(.minutes(2)))
  func anErrorThatRecursFailsTheTrialAtOnce() throws {
    let rows = try distributedRun(
      sweep: """
        description: "a limit beyond the workers' data"
        dataset: {name: mnist, trainLimit: 200000, testLimit: 100}
        train: {width: 8, eta: 0.1, batchSize: 10, maxIterations: 10}
        seeds: 2
        run: {retries: 3}
        """, workerData: Self.data
    ) { log in
      #expect(log.contains("not checked before dispatch"), "\(log)")
      #expect(log.contains("2 trials failed (all: no retry"), "\(log)")
      #expect(log.contains("--rerun failed"), "\(log)")
    }
    #expect(rows.count == 2 && rows.allSatisfy { $0.state == .failed })
    #expect(rows.allSatisfy { $0.attempts == 1 }, "\(rows.map(\.attempts))")
  }

  /// A worker whose host lacks the data files: another worker might have them, so the error is
  /// not permanent and the trial is retried (here up to its 2 attempts, on the only worker).
  @Test(.timeLimit(.minutes(2)))
  func dataMissingOnOneHostIsRetried() throws {
    let rows = try distributedRun(
      sweep: """
        description: "data only the workers were meant to have"
        dataset: {name: mnist, trainLimit: 100, testLimit: 100}
        train: {width: 8, eta: 0.1, batchSize: 10, maxIterations: 10}
        seeds: 2
        run: {retries: 1}
        """, workerData: nil
    ) { log in
      #expect(!log.contains("no retry"), "\(log)")
      #expect(log.contains("2 attempts; last error:"), "\(log)")
      #expect(log.contains("--rerun failed"), "\(log)")
    }
    #expect(rows.count == 2 && rows.allSatisfy { $0.state == .failed })
    #expect(rows.allSatisfy { $0.attempts == 2 }, "\(rows.map(\.attempts))")
  }

  /// Runs `sweep` (as nodata.yaml) on a coordinator with an empty data folder (it cannot check
  /// the data) and one worker with `workerData` (nil: an empty folder too); the coordinator must
  /// exit 1 (failed trials). Checks its log with `checkLog`, returns the store's rows.
  private func distributedRun(
    sweep: String, workerData: String?, checkLog: (String) -> Void
  ) throws -> [TrialRow] {
    let dir = try folder(["nodata.yaml": sweep])
    defer { try? FileManager.default.removeItem(at: dir) }
    let empty = dir.appendingPathComponent("empty-data")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    let endpoint = "ipc://\(dir.path)/c.sock"
    let coordinator = try BackgroundProcess(
      tailsweep: [
        "coordinator", "nodata.yaml", "--bind", endpoint, "--data", empty.path, "--progress",
        "none",
      ] + Dist.fastTiming, in: dir, name: "coordinator")
    defer { coordinator.stop(grace: 0) }
    let worker = try BackgroundProcess(
      tailsweep: [
        "worker", "--connect", endpoint, "--id", "w1", "--data", workerData ?? empty.path,
        "--coordinator-timeout", "20",
      ] + Dist.fastTiming, in: dir, name: "w1")
    defer { worker.stop(grace: 0) }
    #expect(coordinator.wait(timeout: 60) == 1, "\(coordinator.output)")
    checkLog(coordinator.output)
    let store = try SweepStore(
      readOnlyPath: dir.appendingPathComponent("results/nodata/sweep.sqlite").path)
    defer { try? store.close() }
    return try store.rows(sweepID: nil)
  }

  @Test func aChangedDefinitionIsANewVersionAndTheDefaultEverywhere() throws {
    let dir = try TestFiles.temporaryDirectory("identity")
    defer { try? FileManager.default.removeItem(at: dir) }
    try CommandLineTests.writeTinySweep(dir, eta: 0.1)
    let first = try Binary.run(["run", "tiny.yaml", "--workers", "1", "--quiet"], in: dir)
    #expect(first.status == 0, "\(first.stderr)")
    try CommandLineTests.writeTinySweep(dir, eta: 0.2)
    let second = try Binary.run(["run", "tiny.yaml", "--workers", "1", "--quiet"], in: dir)
    #expect(second.status == 0, "\(second.stderr)")
    #expect(
      second.stdout.contains("sweep tiny: the definition changed since tiny (4 trials, hash "))
    #expect(second.stdout.contains("is recorded as tiny@2"), "\(second.stdout)")
    #expect(second.stdout.contains("sweep tiny@2: pending 0, running 0, done 4"))

    // status, report and export show the current definition only.
    let status = try Binary.run(["status"], in: dir)
    #expect(status.stdout.contains("sweep tiny@2 (id 2): 4 trials"), "\(status.stdout)")
    #expect(status.stdout.contains("other definitions (--sweep NAME to see one): tiny (id 1"))
    #expect(status.stdout.contains("trials: 4 total"), "\(status.stdout)")
    let report = try Binary.run(["report", "--no-files"], in: dir)
    #expect(report.stdout.contains("Measurements over seeds (4 trials)"), "\(report.stdout)")
    let export = try Binary.run(["export"], in: dir)
    #expect(export.stdout.split(separator: "\n").count == 5)
    let older = try Binary.run(["export", "--sweep", "tiny", "--format", "jsonl"], in: dir)
    #expect(older.stdout.split(separator: "\n").count == 4)
    #expect(older.stdout.contains("\"eta\":0.1"), "\(older.stdout.prefix(400))")

    // The first definition again: its version becomes the current one, nothing reruns.
    try CommandLineTests.writeTinySweep(dir, eta: 0.1)
    let third = try Binary.run(["run", "tiny.yaml", "--workers", "1", "--quiet"], in: dir)
    #expect(third.stdout.contains("this definition is tiny again"), "\(third.stdout)")
    #expect(third.stdout.contains("this run: 0 committed"), "\(third.stdout)")
    let again = try Binary.run(["status", "--json"], in: dir)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
    let shown = try #require(object["sweeps"] as? [[String: Any]])
    #expect(shown.map { $0["name"] as? String } == ["tiny"])

    // Another file in another folder takes the name with another definition.
    let other = dir.appendingPathComponent("other")
    try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
    try CommandLineTests.writeTinySweep(other, eta: 0.3)
    let fourth = try Binary.run(["run", "other/tiny.yaml", "--workers", "1", "--quiet"], in: dir)
    #expect(fourth.status == 0, "\(fourth.stderr)")
    #expect(fourth.stdout.contains("hash "), "\(fourth.stdout)")
    #expect(fourth.stdout.contains(", from tiny.yaml); this one"), "\(fourth.stdout)")
    #expect(fourth.stdout.contains("is recorded as tiny@3"), "\(fourth.stdout)")
  }

  @Test(.timeLimit(.minutes(2)))
  func anInterruptSaysWhereTheSweepStandsAndTheResumeWhatItSkips() throws {
    let dir = try TestFiles.temporaryDirectory("interrupt-summary")
    defer { try? FileManager.default.removeItem(at: dir) }
    let sweep = try Dist.writeSweep(dir, name: "halfway", seeds: 2, slow: true)
    let run = try BackgroundProcess(
      tailsweep: ["run", sweep, "--workers", "1", "--progress", "none"] + Dist.fastTiming, in: dir,
      name: "run")
    defer { run.stop(grace: 0) }
    #expect(
      Processes.waitUntil(timeout: 60, interval: 0.05) {
        ((try? Dist.openStore(dir, "halfway").rows(sweepID: nil)) ?? []).contains {
          $0.result != nil
        }
      })
    run.signal(SIGINT)
    #expect(run.wait(timeout: 20) == 130, "\(run.output)")
    let log = run.output
    let done = try Dist.openStore(dir, "halfway").rows(sweepID: nil).filter { $0.result != nil }
    #expect(
      log.contains("interrupted: \(done.count)/6 done; run the same command again to resume"),
      "\(log)")
    #expect(!log.contains("Measurements over seeds"), "no report of empty rows: \(log)")
    let again = try Binary.run(
      ["run", sweep, "--workers", "2", "--progress", "none"] + Dist.fastTiming, in: dir)
    #expect(again.status == 0, "\(again.stderr)")
    #expect(
      again.stdout.contains(
        "resuming: \(done.count) of 6 trials already have results and are skipped; "
          + "\(6 - done.count) to run"), "\(again.stdout)")
  }
}

extension SweepChecksTests {
  @Test func planResultsIsADryRunAndSweepsListShowsEveryDefinition() throws {
    let dir = try TestFiles.temporaryDirectory("dry-run")
    defer { try? FileManager.default.removeItem(at: dir) }
    try CommandLineTests.writeTinySweep(dir)
    let fresh = try Binary.run(["plan", "tiny.yaml", "--results", "results"], in: dir)
    #expect(fresh.stdout.contains("dry run: no results for tiny under results yet; all 4 trials"))
    let run = try Binary.run(["run", "tiny.yaml", "--workers", "1", "--quiet"], in: dir)
    #expect(run.status == 0, "\(run.stderr)")
    let same = try Binary.run(["plan", "tiny.yaml", "--results", "results"], in: dir)
    #expect(same.status == 0, "\(same.stderr)")
    #expect(same.stdout.contains("definition: tiny, the one stored under that name"))
    #expect(same.stdout.contains("4 trials: 4 have results (skipped); 0 would run"))

    // One more seed: a new definition; 2 of its 6 trials are new.
    let text = try String(contentsOf: dir.appendingPathComponent("tiny.yaml"), encoding: .utf8)
    try text.replacingOccurrences(of: "seeds: 2", with: "seeds: 3").write(
      to: dir.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)
    let grown = try Binary.run(["plan", "tiny.yaml", "--results", "results"], in: dir)
    #expect(grown.stdout.contains("is recorded as tiny@2"), "\(grown.stdout)")
    #expect(
      grown.stdout.contains("6 trials: 4 have results (skipped); 2 would run (2 new, 0 pending)"),
      "\(grown.stdout)")
    // Measured on the 4 finished trials: seconds per unit of relative cost.
    #expect(grown.stdout.contains("estimate: about "), "\(grown.stdout)")
    #expect(grown.stdout.contains("measured over 4 finished trials"), "\(grown.stdout)")
    // Without --results, plan looks in run's default folder (./results) by itself.
    let plain = try Binary.run(["plan", "tiny.yaml"], in: dir)
    #expect(plain.stdout.contains("dry run against "), "\(plain.stdout)")
    #expect(plain.stdout.contains("estimate: about "), "\(plain.stdout)")
    let before = try Binary.run(["sweeps", "list"], in: dir)
    #expect(
      before.stdout.split(separator: "\n").count == 2, "plan changed nothing: \(before.stdout)")

    let again = try Binary.run(["run", "tiny.yaml", "--workers", "1", "--quiet"], in: dir)
    #expect(again.stdout.contains("this run: 2 committed"), "\(again.stdout)")
    let list = try Binary.run(["sweeps", "list"], in: dir)
    #expect(list.status == 0, "\(list.stderr)")
    let lines = list.stdout.split(separator: "\n").map {
      $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    }
    #expect(lines.count == 3, "\(list.stdout)")
    // sweep id current definition trials done …
    #expect(lines[1].prefix(3) == ["tiny", "1", "no"] && lines[1][4] == "4", "\(list.stdout)")
    #expect(lines[2].prefix(3) == ["tiny@2", "2", "yes"] && lines[2][4] == "6", "\(list.stdout)")
  }
}

extension SweepChecksTests {
  @Test func aDeletedDefinitionLeavesItsTrialsUntilPruned() throws {
    let dir = try TestFiles.temporaryDirectory("delete-prune")
    defer { try? FileManager.default.removeItem(at: dir) }
    for eta in [0.1, 0.2] {
      try CommandLineTests.writeTinySweep(dir, eta: eta)
      let r = try Binary.run(["run", "tiny.yaml", "--workers", "1", "--quiet"], in: dir)
      #expect(r.status == 0, "\(r.stderr)")
    }
    let dry = try Binary.run(["sweeps", "delete", "tiny"], in: dir)
    #expect(dry.status == 0, "\(dry.stderr)")
    #expect(dry.stdout.contains("would delete sweep tiny (id 1, 4 trials linked"), "\(dry.stdout)")
    #expect(try Binary.run(["sweeps", "list"], in: dir).stdout.contains("tiny    1"))

    let delete = try Binary.run(["sweeps", "delete", "tiny", "--yes"], in: dir)
    #expect(
      delete.stdout.contains("deleted sweep tiny (id 1); 4 trials of the store are now in no"))
    let list = try Binary.run(["sweeps", "list"], in: dir)
    #expect(!list.stdout.contains("tiny    1") && list.stdout.contains("tiny@2"), "\(list.stdout)")
    #expect(list.stdout.contains("4 trials in no sweep definition"), "\(list.stdout)")

    let count = try Binary.run(["sweeps", "prune"], in: dir)
    #expect(count.stdout.contains("4 trials in no sweep definition"), "\(count.stdout)")
    let prune = try Binary.run(["sweeps", "prune", "--yes"], in: dir)
    #expect(prune.stdout.contains("deleted 4 trials in no sweep"), "\(prune.stdout)")
    let check = try Binary.run(["status", "--check"], in: dir)
    #expect(check.status == 0 && check.stdout.contains("check: ok"), "\(check.stdout)")
    #expect(check.stdout.contains("trials: 4 total"), "\(check.stdout)")
    let store = try SweepStore(
      readOnlyPath: dir.appendingPathComponent("results/tiny/sweep.sqlite").path)
    defer { try? store.close() }
    #expect(try store.rows(sweepID: nil).count == 4)
  }
}

extension SweepChecksTests {
  /// `sweeps archive`: one definition with its trials and results in a store of its own, which
  /// status, report and export read; `--delete` then drops it from the live store.
  @Test func anArchiveHoldsOneDefinitionAndReadsLikeAStore() throws {
    let dir = try TestFiles.temporaryDirectory("archive")
    defer { try? FileManager.default.removeItem(at: dir) }
    for eta in [0.1, 0.2] {
      try CommandLineTests.writeTinySweep(dir, eta: eta)
      let r = try Binary.run(["run", "tiny.yaml", "--workers", "1", "--quiet"], in: dir)
      #expect(r.status == 0, "\(r.stderr)")
    }
    let file = dir.appendingPathComponent("tiny-1.sqlite").path
    let archive = try Binary.run(["sweeps", "archive", "tiny", "--out", file, "--delete"], in: dir)
    #expect(archive.status == 0, "\(archive.stderr)")
    #expect(archive.stdout.contains("archived sweep tiny (id 1, 4 trials) to \(file)"))
    #expect(archive.stdout.contains("deleted sweep tiny from"), "\(archive.stdout)")
    // The archive: only that definition, its 4 trials with their results.
    let store = try SweepStore(readOnlyPath: file)
    #expect(try store.sweeps().map(\.name) == ["tiny"])
    let rows = try store.rows(sweepID: nil)
    #expect(rows.count == 4 && rows.allSatisfy { $0.result != nil && $0.config.eta == 0.1 })
    #expect(try store.verify().isEmpty)
    try store.close()
    let report = try Binary.run(["report", file], in: dir)
    #expect(report.status == 0, "\(report.stderr)")
    let export = try Binary.run(["export", file, "--format", "jsonl"], in: dir)
    #expect(export.stdout.split(separator: "\n").count == 4, "\(export.stderr)")
    // The live store keeps the other definition only; archives are never overwritten.
    let list = try Binary.run(["sweeps", "list"], in: dir)
    #expect(!list.stdout.contains("tiny    1") && list.stdout.contains("tiny@2"), "\(list.stdout)")
    let again = try Binary.run(["sweeps", "archive", "tiny@2", "--out", file], in: dir)
    #expect(again.status == 2 && again.stderr.contains("exists already"), "\(again.stderr)")
    // Default file: archive/NAME-TIME.sqlite in the sweep's folder.
    let byDefault = try Binary.run(["sweeps", "archive", "tiny@2"], in: dir)
    #expect(byDefault.status == 0, "\(byDefault.stderr)")
    let folder = dir.appendingPathComponent("results/tiny/archive").path
    let files = try FileManager.default.contentsOfDirectory(atPath: folder)
    #expect(
      files.count == 1 && files[0].hasPrefix("tiny@2-") && files[0].hasSuffix(".sqlite"), "\(files)"
    )
  }

  /// A trial that runs for a while: before the first result the progress line names the
  /// furthest trial and its iteration, not "0.00 trials/s | ETA ?".
  @Test(.timeLimit(.minutes(2)))
  func progressBeforeTheFirstResultNamesTheRunningTrial() throws {
    let dir = try TestFiles.temporaryDirectory("progress-first")
    defer { try? FileManager.default.removeItem(at: dir) }
    try """
    description: "one long trial"
    dataset: {name: synthetic, trainSize: 500, testSize: 200}
    train: {width: 64, eta: 0.0005, batchSize: 25, targetAccuracy: 1.0, maxIterations: 1000000,
      evalEvery: 250000}
    seeds: 1
    """.write(to: dir.appendingPathComponent("long.yaml"), atomically: true, encoding: .utf8)
    let run = try BackgroundProcess(
      tailsweep: ["run", "long.yaml", "--workers", "1", "--progress", "plain"] + Dist.fastTiming,
      in: dir,
      name: "run")
    defer { run.stop(grace: 0) }
    #expect(
      Processes.waitUntil(timeout: 60, interval: 0.05) {
        run.output.contains("first result pending: trial ")
      }, "\(run.output)")
    #expect(
      run.output.range(of: #"at iteration \d+/1000000 after \d+ s"#, options: .regularExpression)
        != nil)
    // Another process sees the lease's progress in the store (recorded about once a second).
    var statusText = ""
    #expect(
      Processes.waitUntil(timeout: 30, interval: 0.05) {
        statusText =
          (try? Binary.run(["status", dir.appendingPathComponent("results").path]).stdout) ?? ""
        return statusText.range(
          of: #"attempt 1 on \S+ for .*, iteration \d+/1000000 \(reported \S+ ago\)"#,
          options: .regularExpression) != nil
      }, "\(statusText)")
    let json = try Binary.run(["status", dir.appendingPathComponent("results").path, "--json"])
    #expect(json.stdout.contains("\"maxIterations\" : 1000000"), "\(json.stdout)")
    run.signal(SIGINT)
    #expect(run.wait(timeout: 20) == 130, "\(run.output)")
    #expect(run.output.contains("interrupted: 0/1 done; run the same command again to resume"))
  }
}
