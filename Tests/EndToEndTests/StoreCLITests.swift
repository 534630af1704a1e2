import Foundation
import SweepSpec
import SweepStore
import TailNet
import TailSweepTestSupport
import Testing

/// The store through the built binary: crash safety of commits, `status` and `export`.
@Suite(.serialized) struct StoreCLITests {
  /// Starts `tailsweep store-probe`, returns it once `lines` commit lines were read (or it ended).
  private func startProbe(
    _ db: String, count: Int, killAfter lines: Int
  ) throws -> (process: Process, committed: [String], finished: Bool) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Binary.path)
    p.arguments = ["store-probe", db, "--count", "\(count)", "--history-points", "300"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    var buffer = ""
    var committed: [String] = []
    var finished = false
    while committed.count < lines {
      let data = out.fileHandleForReading.availableData
      if data.isEmpty {
        finished = true
        break
      }
      buffer += String(decoding: data, as: UTF8.self)
      while let nl = buffer.firstIndex(of: "\n") {
        let line = String(buffer[..<nl])
        buffer.removeSubrange(...nl)
        if line.hasPrefix("committed ") || line.hasPrefix("duplicate ") {
          if let id = line.split(separator: " ").last { committed.append(String(id)) }
        }
        if line == "probe: done" { finished = true }
      }
    }
    return (p, committed, finished)
  }

  /// Every committed result is complete and matches its trial's state; nothing is partial.
  private func checkConsistent(_ db: String, mustHave ids: Set<String>) throws -> Int {
    let store = try SweepStore(path: db)
    defer { try? store.close() }
    #expect(try store.verify() == [])
    let rows = try store.rows(sweepID: nil)
    var done = 0
    for row in rows {
      if let result = row.result {
        done += 1
        #expect(row.state == .done || row.state == .diverged)
        #expect(result.training.history.count == 300)
        #expect(result.config == row.config)
        #expect((row.state == .diverged) == (result.training.stopReason == .diverged))
        #expect((result.compression == nil) == (row.state == .diverged))
      } else {
        #expect(row.state == .pending || row.state == .running)
        #expect(!ids.contains(row.id.hex), "a printed commit was lost: \(row.id.short)")
      }
    }
    return done
  }

  @Test func killedProbeLeavesAConsistentStore() throws {
    let dir = try TestFiles.temporaryDirectory("store-probe")
    let db = dir.appendingPathComponent("sweep.sqlite").path
    let count = 300
    var printed = Set<String>()
    var lastDone = 0
    for lines in [2, 9, 23, 41] {
      let (p, committed, finished) = try startProbe(db, count: count, killAfter: lines)
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
      #expect(!finished, "the probe finished before it was killed; raise --count")
      printed.formUnion(committed)
      let done = try checkConsistent(db, mustHave: printed)
      #expect(done >= lastDone + committed.count)
      lastDone = done
    }
    // A last, uninterrupted run finishes the sweep.
    let last = try Binary.run(["store-probe", db, "--count", "\(count)", "--history-points", "300"])
    #expect(last.status == 0, "\(last.stderr)")
    #expect(last.stdout.hasSuffix("probe: done\n"))
    #expect(try checkConsistent(db, mustHave: printed) == count)
    let status = try Binary.run(["status", db, "--check"])
    #expect(status.status == 0)
    #expect(status.stdout.hasSuffix("check: ok\n"))
    #expect(status.stdout.contains("trials: \(count) total: pending 0, running 0,"))
    // The killed runs' open leases were closed as lost when the next run began.
    let store = try SweepStore(readOnlyPath: db)
    let workers = try store.status(sweepID: nil).workers
    #expect(workers.count == 5)
    #expect(workers.allSatisfy { $0.running == 0 })
  }

  @Test func statusReadsWhileAProbeWrites() throws {
    let dir = try TestFiles.temporaryDirectory("store-live")
    let db = dir.appendingPathComponent("sweep.sqlite").path
    let (p, _, finished) = try startProbe(db, count: 400, killAfter: 3)
    #expect(!finished)
    var seen: [Int] = []
    for _ in 0..<3 {
      let s = try Binary.run(["status", db])
      #expect(s.status == 0, "\(s.stderr)")
      #expect(s.stdout.contains("sweep store-probe (id 1): 400 trials"))
      if let line = s.stdout.split(separator: "\n").first(where: { $0.hasPrefix("trials: ") }) {
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        // trials: N total: pending a, running b, done c, diverged d, failed e
        #expect(numbers.count == 6 && numbers[1...].reduce(0, +) == numbers[0])
        seen.append(numbers[3] + numbers[4])
      }
    }
    kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    #expect(seen == seen.sorted())
  }

  /// A store with a trial in every state, under `results/run1` of a fresh folder.
  private func filledResults() throws -> (dir: URL, db: String, trials: [PlannedTrial]) {
    let dir = try TestFiles.temporaryDirectory("store-cli")
    let folder = dir.appendingPathComponent("results/run1")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let db = folder.appendingPathComponent("sweep.sqlite").path
    let store = try SweepStore(path: db)
    let trials = (1...5).map { (seed: UInt64) -> PlannedTrial in
      let c = TrialConfig(
        dataset: DatasetSpec(name: "mnist", trainLimit: 1000), width: 32 * Int(seed), eta: 0.05,
        batchSize: 16, alpha: 1.5, sigma: 1, seed: seed)
      return PlannedTrial(config: c, relativeCost: 1)
    }
    let id = try store.beginSweep(
      name: "cli-grid", description: "status and export", text: "# test\n", trials: trials,
      provenance: Provenance(
        toolVersion: "9.9.9", gitCommit: "deadbeef", host: "testhost", datasetHashes: [:],
        blas: "OpenBLAS"))
    _ = id
    func result(_ t: PlannedTrial, diverged: Bool) -> TrialResult {
      let f = EvalPoint(
        iteration: 500, trainLoss: 0.1, trainAccuracy: 0.97, testLoss: 0.2, testAccuracy: 0.93)
      return TrialResult(
        config: t.config,
        training: TrainingSummary(
          stopReason: diverged ? .diverged : .reachedTarget, iterations: 500,
          divergedAt: diverged ? 480 : nil, wallSeconds: 2, final: diverged ? nil : f,
          history: diverged ? [] : [f]),
        compression: diverged
          ? nil
          : CompressionReport(
            budget: 0.1, pruningRatio: 0.375, layers: [], unpruned: f,
            pruned: EvalPoint(
              iteration: 500, trainLoss: 0.2, trainAccuracy: 0.95, testLoss: 0.25,
              testAccuracy: 0.91), fixedRatioCurve: []),
        datasetHash: "cafe")
    }
    let now = Date()
    try store.attemptStarted(trial: trials[0].id, attempt: 1, worker: "alpha", host: "h1", at: now)
    try store.commit(
      trial: trials[0].id, attempt: 1, worker: "alpha", result: result(trials[0], diverged: false),
      at: now)
    try store.attemptStarted(trial: trials[1].id, attempt: 1, worker: "beta", host: "h2", at: now)
    try store.commit(
      trial: trials[1].id, attempt: 1, worker: "beta", result: result(trials[1], diverged: true),
      at: now)
    try store.attemptStarted(trial: trials[2].id, attempt: 1, worker: "beta", host: "h2", at: now)
    try store.attemptEnded(
      trial: trials[2].id, attempt: 1, outcome: .failed, error: "out of memory", at: now)
    try store.markFailed(trial: trials[2].id, error: "out of memory")
    try store.attemptStarted(trial: trials[3].id, attempt: 1, worker: "alpha", host: "h1", at: now)
    try store.close()
    return (dir, db, trials)
  }

  @Test func statusShowsCountsAndWorkers() throws {
    let (dir, _, trials) = try filledResults()
    // Default location: the only folder under ./results.
    let s = try Binary.run(["status"], in: dir)
    #expect(s.status == 0, "\(s.stderr)")
    let lines = s.stdout.split(separator: "\n").map(String.init)
    #expect(lines.contains { $0.hasPrefix("sweep cli-grid (id 1): 5 trials, 1 run, last run ") })
    #expect(lines.contains { $0.contains("(tailsweep 9.9.9, commit deadbeef, host testhost)") })
    #expect(
      lines.contains("trials: 5 total: pending 1, running 1, done 1, diverged 1, failed 1"))
    #expect(lines.contains("workers: 2"))
    // The open lease: which trial runs where, for how long.
    #expect(lines.contains("running now: 1"), "\(s.stdout)")
    #expect(
      lines.contains { $0.hasPrefix("  trial \(trials[3].id.short) attempt 1 on alpha for ") },
      "\(s.stdout)")
    let alpha = try #require(lines.first { $0.hasPrefix("  alpha") })
    let cells = alpha.split(separator: " ").map(String.init)
    // worker host attempts running committed duplicates failed last-seen
    #expect(Array(cells.prefix(7)) == ["alpha", "h1", "2", "1", "1", "0", "0"])
    let beta = try #require(lines.first { $0.hasPrefix("  beta") })
    #expect(Array(beta.split(separator: " ").prefix(7)) == ["beta", "h2", "2", "0", "1", "0", "1"])
  }

  @Test func exportWritesEveryFormat() throws {
    let (dir, db, trials) = try filledResults()
    let csv = try Binary.run(["export", "results/run1", "--format", "csv"], in: dir)
    #expect(csv.status == 0, "\(csv.stderr)")
    let lines = csv.stdout.split(separator: "\n").map(String.init)
    #expect(lines.count == 6)
    #expect(
      lines[0].hasPrefix("trial,sweep,state,attempts,dataset,datasetOptions,width,depth,eta,"))
    let header = lines[0].split(separator: ",").map(String.init)
    let first = lines[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    #expect(first.count == header.count)
    let cell = { (name: String) -> String in
      guard let i = header.firstIndex(of: name) else { return "?" }
      return first[i]
    }
    #expect(cell("trial") == trials[0].id.hex)
    #expect(cell("state") == "done")
    #expect(cell("sweep") == "cli-grid")
    #expect(cell("dataset") == "mnist" && cell("datasetOptions") == "trainLimit=1000")
    #expect(cell("width") == "32" && cell("alpha") == "1.5")
    #expect(cell("pruningRatio") == "0.375")
    #expect(cell("testAccuracy") == "0.93" && cell("prunedTestAccuracy") == "0.91")
    #expect(cell("stopReason") == "reached_target" && cell("iterations") == "500")
    #expect(cell("startedAt").hasSuffix("Z") && cell("committedAt").hasSuffix("Z"))
    #expect(lines[2].contains(",diverged,") && lines[3].hasSuffix(",out of memory"))

    let jsonl = try Binary.run(["export", db, "--format", "jsonl"], in: dir)
    #expect(jsonl.status == 0, "\(jsonl.stderr)")
    let objects = try jsonl.stdout.split(separator: "\n").map {
      try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
    #expect(objects.count == 5)
    #expect(
      objects.map { $0["state"] as? String } == [
        "done", "diverged", "failed", "running", "pending",
      ])
    #expect(objects[0]["result"] is [String: Any] && objects[4]["result"] is NSNull)
    #expect(objects[0]["sweep"] as? String == "cli-grid" && objects[0]["committedAt"] is String)
    #expect(objects[4]["committedAt"] is NSNull && objects[0]["tailIndexNormsHill"] != nil)

    let out = dir.appendingPathComponent("table.md").path
    let md = try Binary.run(["export", "--format", "markdown", "--output", out], in: dir)
    #expect(md.status == 0, "\(md.stderr)")
    #expect(md.stdout.isEmpty)
    let table = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
    #expect(table.count == 7)
    #expect(table[0].hasPrefix("| trial | sweep | state | attempts | dataset |"))
    #expect(!table[0].contains("datasetHash"))
    #expect(table[2].hasPrefix("| \(trials[0].id.short) | cli-grid | done |"), "\(table[2])")
    #expect(table[1].hasPrefix("| --- | --- |"))
  }

  @Test func usageErrorsExitTwo() throws {
    let (dir, _, _) = try filledResults()
    let badFormat = try Binary.run(["export", "--format", "xml"], in: dir)
    #expect(badFormat.status == 2 && badFormat.stderr.contains("csv, jsonl, markdown"))
    let missing = try Binary.run(["status", "results/nope"], in: dir)
    #expect(missing.status == 2 && missing.stderr.contains("results/nope"))
    let badSweep = try Binary.run(["status", "--sweep", "other"], in: dir)
    #expect(badSweep.status == 2 && badSweep.stderr.contains("cli-grid"))
    try FileManager.default.createDirectory(
      at: dir.appendingPathComponent("results/run2"), withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      atPath: dir.appendingPathComponent("results/run1/sweep.sqlite").path,
      toPath: dir.appendingPathComponent("results/run2/sweep.sqlite").path)
    let two = try Binary.run(["status"], in: dir)
    #expect(two.status == 2)
    #expect(two.stderr.contains("results/run1") && two.stderr.contains("results/run2"))
    let empty = try TestFiles.temporaryDirectory("store-none")
    let none = try Binary.run(["export"], in: empty)
    #expect(none.status == 2 && none.stderr.contains("./results"))
  }
}
