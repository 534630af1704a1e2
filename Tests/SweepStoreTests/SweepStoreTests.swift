import Foundation
import GRDB
import SweepSpec
import SweepStore
import TailNet
import Testing

@Suite struct OpeningTests {
  @Test func emptyFileIsMigratedAndOpensTwice() throws {
    let path = try Fixtures.storePath()
    let a = try SweepStore(path: path)
    // A second writer must opt out of the writer lock (see WriterLockTests).
    let b = try SweepStore(path: path, exclusive: false)
    #expect(try a.sweeps().isEmpty)
    #expect(try b.status(sweepID: nil).total == 0)
    let r = try SweepStore(readOnlyPath: path)
    #expect(try r.rows(sweepID: nil).isEmpty)
    #expect(try a.verify().isEmpty)
    try a.close()
    try b.close()
    try r.close()
    // WAL mode on disk.
    let q = try DatabaseQueue(path: path)
    #expect(try q.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
  }

  @Test func zeroByteFileIsMigrated() throws {
    let path = try Fixtures.storePath()
    #expect(FileManager.default.createFile(atPath: path, contents: Data()))
    let store = try SweepStore(path: path)
    let t = Fixtures.trial(seed: 1)
    let sweep = Sweep(
      name: "from-file", description: "d", path: "sweeps/x.yaml", text: "# x\n",
      settings: SweepSettings(), trials: [t])
    let id = try store.beginSweep(sweep, provenance: Fixtures.provenance)
    #expect(try store.trialsToRun(sweepID: id).map(\.id) == [t.id])
    let info = try #require(try store.sweeps().first)
    #expect(info.name == "from-file" && info.path == "sweeps/x.yaml" && info.runs == 1)
    #expect(try store.sweepID(named: "from-file") == id)
  }

  @Test func readOnlyOpenOfMissingFileSaysWhatToDo() throws {
    let path = try Fixtures.storePath()
    #expect(throws: StoreError.missing(path: path)) { try SweepStore(readOnlyPath: path) }
    #expect(StoreError.missing(path: path).description.contains("run a sweep first"))
  }

  @Test func futureSchemaIsRefusedClearly() throws {
    let path = try Fixtures.storePath()
    try SweepStore(path: path).close()
    let q = try DatabaseQueue(path: path)
    try q.write {
      try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-future')")
    }
    try q.close()
    let expected = StoreError.futureSchema(path: path, unknownSteps: ["v99-future"])
    #expect(throws: expected) { try SweepStore(path: path) }
    #expect(throws: expected) { try SweepStore(readOnlyPath: path) }
    #expect(expected.description.contains("newer tailsweep"))
  }

  @Test func foreignFilesAreNotStores() throws {
    let path = try Fixtures.storePath()
    let q = try DatabaseQueue(path: path)
    try q.write { try $0.execute(sql: "CREATE TABLE other (x)") }
    try q.close()
    #expect(throws: StoreError.notAStore(path: path)) { try SweepStore(path: path) }
    #expect(throws: StoreError.notAStore(path: path)) { try SweepStore(readOnlyPath: path) }
    let text = try Fixtures.storePath()
    try String(repeating: "not a database\n", count: 100).write(
      toFile: text, atomically: true, encoding: .utf8)
    #expect(throws: StoreError.notAStore(path: text)) { try SweepStore(path: text) }
  }

  /// A coordinator killed while creating its store (chaos, 2026-12-03) can leave a file whose
  /// only table is GRDB's empty migration log: GRDB commits that table before the first
  /// migration, which sets the application id. That file is a store not yet created, not a
  /// foreign one: the next writer finishes creating it.
  @Test func aStoreKilledDuringCreationIsCreatedByTheNextWriter() throws {
    let path = try Fixtures.storePath()
    let q = try DatabaseQueue(path: path)
    try q.write {
      try $0.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
    }
    try q.close()
    let w = try SweepStore(path: path)
    let t = Fixtures.trial(seed: 1)
    _ = try w.beginSweep(
      name: "s", description: "d", text: "x", trials: [t], provenance: Fixtures.provenance)
    #expect(try w.status(sweepID: nil).total == 1)
    try w.close()
  }

  @Test func readOnlyStoreRefusesWrites() throws {
    let path = try Fixtures.storePath()
    let w = try SweepStore(path: path)
    let t = Fixtures.trial(seed: 1)
    _ = try w.beginSweep(
      name: "s", description: "d", text: "x", trials: [t], provenance: Fixtures.provenance)
    let r = try SweepStore(readOnlyPath: path)
    #expect(throws: StoreError.readOnly(path: path)) {
      try r.markFailed(trial: t.id, error: "no")
    }
  }
}

@Suite struct CommitTests {
  @Test func secondCommitIsADuplicateAndChangesNothing() throws {
    let store = try SweepStore(path: Fixtures.storePath())
    let t = Fixtures.trial(seed: 1)
    let sweep = try store.beginSweep(
      name: "s", description: "d", text: "x", trials: [t], provenance: Fixtures.provenance)
    #expect(try Fixtures.run(store, t, attempt: 1, worker: "w1", testAccuracy: 0.9) == .committed)
    let first = try store.rows(sweepID: sweep)
    // A late result of another lease (and a replay of the same one).
    #expect(try Fixtures.run(store, t, attempt: 2, worker: "w2", testAccuracy: 0.5) == .duplicate)
    #expect(
      try store.commit(
        trial: t.id, attempt: 1, worker: "w1", result: Fixtures.result(for: t, testAccuracy: 0.1),
        at: Date()) == .duplicate)
    let after = try store.rows(sweepID: sweep)
    #expect(after.count == 1)
    #expect(after[0].result == first[0].result)
    #expect(after[0].result?.training.final?.testAccuracy == 0.9)
    #expect(after[0].state == .done)
    #expect(after[0].attempts == 2)
    let status = try store.status(sweepID: sweep)
    #expect(status.count(.done) == 1)
    let w1 = try #require(status.workers.first { $0.worker == "w1" })
    let w2 = try #require(status.workers.first { $0.worker == "w2" })
    #expect(w1.committed == 1 && w1.duplicates == 1 && w1.running == 0)
    #expect(w2.duplicates == 1 && w2.attempts == 1 && w2.host == "host-w2")
    #expect(try store.verify().isEmpty)
  }

  @Test func commitStoresEveryMeasurementAndFlatColumns() throws {
    let path = try Fixtures.storePath()
    let store = try SweepStore(path: path)
    let t = Fixtures.trial(seed: 7)
    _ = try store.beginSweep(
      name: "s", description: "d", text: "x", trials: [t], provenance: Fixtures.provenance)
    let result = Fixtures.result(for: t)
    try store.attemptStarted(trial: t.id, attempt: 1, worker: "w", host: "h", at: Date())
    #expect(
      try store.commit(trial: t.id, attempt: 1, worker: "w", result: result, at: Date())
        == .committed)
    let row = try #require(try store.rows(sweepID: nil).first)
    let stored = try #require(row.result)
    #expect(stored.training == result.training)
    #expect(stored.compression == result.compression)
    #expect(stored.config == result.config)
    let q = try DatabaseQueue(path: path)
    let flat = try #require(
      try q.read {
        try Row.fetchOne(
          $0,
          sql: """
            SELECT r.pruning_ratio, r.test_accuracy, r.pruned_test_accuracy, r.iterations,
              r.stop_reason, t.width, t.alpha FROM results r JOIN trials t ON t.id = r.trial_id
            """)
      })
    #expect(try flat.decode(Double.self, atIndex: 0) == 0.42)
    #expect(try flat.decode(Double.self, atIndex: 1) == result.training.final?.testAccuracy)
    #expect(try flat.decode(Double.self, atIndex: 2) == result.compression?.pruned.testAccuracy)
    #expect(try flat.decode(Int.self, atIndex: 3) == 400)
    #expect(try flat.decode(String.self, atIndex: 4) == "reached_target")
    #expect(try flat.decode(Int.self, atIndex: 5) == 64)
    #expect(try flat.decode(Double.self, atIndex: 6) == 1.75)
  }

  /// Non-finite losses are only possible in a diverged run (any other result with them is
  /// refused, see RefusalTests); the store keeps them through JSON ("nan", "inf").
  @Test func divergedResultKeepsNonFiniteLosses() throws {
    let store = try SweepStore(path: Fixtures.storePath())
    let t = Fixtures.trial(seed: 8)
    _ = try store.beginSweep(
      name: "s", description: "d", text: "x", trials: [t], provenance: Fixtures.provenance)
    var result = Fixtures.result(for: t, stop: .diverged)
    result.training.history[3].trainLoss = .nan
    result.training.history[4].testLoss = .infinity
    result.training.final = result.training.history.last
    try store.attemptStarted(trial: t.id, attempt: 1, worker: "w", host: "h", at: Date())
    #expect(
      try store.commit(trial: t.id, attempt: 1, worker: "w", result: result, at: Date())
        == .committed)
    let stored = try #require(try store.rows(sweepID: nil).first?.result)
    #expect(stored.training.history[3].trainLoss.isNaN)
    #expect(stored.training.history[4].testLoss == .infinity)
    #expect(stored.training.final?.testLoss == .infinity)
    for i in 0..<3 { #expect(stored.training.history[i] == result.training.history[i]) }
    #expect(try store.verify().isEmpty)
  }

  @Test func divergedResultGivesDivergedState() throws {
    let store = try SweepStore(path: Fixtures.storePath())
    let t = Fixtures.trial(seed: 2)
    _ = try store.beginSweep(
      name: "s", description: "d", text: "x", trials: [t], provenance: Fixtures.provenance)
    try Fixtures.run(store, t, stop: .diverged)
    let row = try #require(try store.rows(sweepID: nil).first)
    #expect(row.state == .diverged)
    #expect(row.result?.training.divergedAt == 321)
    #expect(try store.verify().isEmpty)
  }

  @Test func cancelledResultIsRefused() throws {
    let store = try SweepStore(path: Fixtures.storePath())
    let t = Fixtures.trial(seed: 3)
    _ = try store.beginSweep(
      name: "s", description: "d", text: "x", trials: [t], provenance: Fixtures.provenance)
    #expect(throws: StoreError.cancelledResult(t.id.short)) {
      try store.commit(
        trial: t.id, attempt: 1, worker: "w", result: Fixtures.result(for: t, stop: .cancelled),
        at: Date())
    }
    #expect(try store.rows(sweepID: nil).first?.state == .pending)
  }

  @Test func unknownTrialIsAnError() throws {
    let store = try SweepStore(path: Fixtures.storePath())
    let t = Fixtures.trial(seed: 4)
    #expect(throws: StoreError.unknownTrial(t.id.short)) {
      try store.attemptStarted(trial: t.id, attempt: 1, worker: "w", host: "h", at: Date())
    }
    #expect(throws: StoreError.unknownSweep(99)) { try store.trialsToRun(sweepID: 99) }
  }

  @Test func failedAttemptsRequeueAndMarkFailedGivesUp() throws {
    let store = try SweepStore(path: Fixtures.storePath())
    let t = Fixtures.trial(seed: 5)
    let sweep = try store.beginSweep(
      name: "s", description: "d", text: "x", trials: [t], provenance: Fixtures.provenance)
    try store.attemptStarted(trial: t.id, attempt: 1, worker: "w", host: "h", at: Date())
    #expect(try store.rows(sweepID: sweep)[0].state == .running)
    #expect(try store.status(sweepID: sweep).workers[0].running == 1)
    try store.attemptEnded(
      trial: t.id, attempt: 1, outcome: .crashed, error: "signal 9", at: Date())
    var row = try store.rows(sweepID: sweep)[0]
    #expect(row.state == .pending && row.lastError == "signal 9" && row.attempts == 1)
    try store.attemptStarted(trial: t.id, attempt: 2, worker: "w", host: "h", at: Date())
    try store.attemptEnded(
      trial: t.id, attempt: 2, outcome: .timedOut, error: "timeout", at: Date())
    try store.markFailed(trial: t.id, error: "gave up after 2 attempts: timeout")
    row = try store.rows(sweepID: sweep)[0]
    #expect(row.state == .failed && row.attempts == 2)
    #expect(row.lastError == "gave up after 2 attempts: timeout")
    let w = try store.status(sweepID: sweep).workers[0]
    #expect(w.attempts == 2 && w.failed == 2 && w.running == 0 && w.lastSeen != nil)
    // A late result of a failed trial is still a result.
    #expect(
      try store.commit(
        trial: t.id, attempt: 2, worker: "w", result: Fixtures.result(for: t), at: Date())
        == .committed)
    #expect(try store.rows(sweepID: sweep)[0].state == .done)
    #expect(try store.verify().isEmpty)
  }
}

@Suite struct ResumeTests {
  @Test func sameSweepAgainSkipsTrialsWithResults() throws {
    let path = try Fixtures.storePath()
    let trials = Fixtures.trials(1...4)
    var store = try SweepStore(path: path)
    let id = try store.beginSweep(
      name: "grid", description: "d", text: "v1", trials: trials, provenance: Fixtures.provenance)
    #expect(try store.trialsToRun(sweepID: id).map(\.id) == trials.map(\.id))
    try Fixtures.run(store, trials[0])
    try Fixtures.run(store, trials[2], stop: .diverged)
    try store.close()
    store = try SweepStore(path: path)
    let again = try store.beginSweep(
      name: "grid", description: "d", text: "v1", trials: trials, provenance: Fixtures.provenance)
    #expect(again == id)
    let todo = try store.trialsToRun(sweepID: id, rerun: .none)
    #expect(todo.map(\.id) == [trials[1].id, trials[3].id])
    #expect(todo[0].config == trials[1].config && todo[0].relativeCost == 64)
    let info = try #require(try store.sweeps().first)
    #expect(info.runs == 2 && info.trialCount == 4 && info.provenance == Fixtures.provenance)
  }

  @Test func grownSweepRunsOnlyTheNewTrials() throws {
    let store = try SweepStore(path: Fixtures.storePath())
    let small = Fixtures.trials(1...3)
    let id = try store.beginSweep(
      name: "grid", description: "d", text: "v1", trials: small, provenance: Fixtures.provenance)
    for t in small { try Fixtures.run(store, t) }
    let big =
      Fixtures.trials(1...3) + [Fixtures.trial(seed: 1, width: 128), Fixtures.trial(seed: 9)]
    _ = try store.beginSweep(
      name: "grid", description: "d", text: "v2", trials: big, provenance: Fixtures.provenance)
    #expect(try store.trialsToRun(sweepID: id).map(\.id) == [big[3].id, big[4].id])
    #expect(try store.status(sweepID: id).total == 5)
    // A shrunk file unlinks trials (their results stay in the store).
    _ = try store.beginSweep(
      name: "grid", description: "d", text: "v3", trials: [big[4]], provenance: Fixtures.provenance)
    #expect(try store.rows(sweepID: id).map(\.id) == [big[4].id])
    #expect(try store.rows(sweepID: nil).count == 5)
  }

  @Test func trialInTwoSweepsIsOneTrial() throws {
    let store = try SweepStore(path: Fixtures.storePath())
    let t = Fixtures.trials(1...3)
    let a = try store.beginSweep(
      name: "a", description: "", text: "", trials: [t[0], t[1]], provenance: Fixtures.provenance)
    let b = try store.beginSweep(
      name: "b", description: "", text: "", trials: [t[1], t[2]], provenance: Fixtures.provenance)
    #expect(a != b)
    try Fixtures.run(store, t[1])
    #expect(try store.trialsToRun(sweepID: b).map(\.id) == [t[2].id])
    #expect(try store.trialsToRun(sweepID: a).map(\.id) == [t[0].id])
    #expect(try store.status(sweepID: b).count(.done) == 1)
    #expect(try store.rows(sweepID: nil).count == 3)
  }

  @Test func trialsLeftRunningByACrashAreRequeuedAsLost() throws {
    let path = try Fixtures.storePath()
    let trials = Fixtures.trials(1...2)
    var store = try SweepStore(path: path)
    let id = try store.beginSweep(
      name: "g", description: "", text: "", trials: trials, provenance: Fixtures.provenance)
    try store.attemptStarted(trial: trials[0].id, attempt: 1, worker: "w", host: "h", at: Date())
    try store.close()  // the coordinator dies here
    store = try SweepStore(path: path)
    #expect(try store.status(sweepID: id).count(.running) == 1)
    #expect(try store.trialsToRun(sweepID: id).map(\.id) == trials.map(\.id))
    #expect(try store.status(sweepID: id).count(.running) == 0)
    let q = try DatabaseQueue(path: path)
    let outcomes = try q.read { try String?.fetchAll($0, sql: "SELECT outcome FROM attempts") }
    #expect(outcomes == ["lost"])
    #expect(try store.status(sweepID: id).workers[0].failed == 1)
  }

  /// Builds a sweep with one trial in each of done, diverged, failed, pending.
  private func mixed() throws -> (SweepStore, Int64, [PlannedTrial], String) {
    let path = try Fixtures.storePath()
    let store = try SweepStore(path: path)
    let t = Fixtures.trials(1...4)
    let id = try store.beginSweep(
      name: "g", description: "", text: "", trials: t, provenance: Fixtures.provenance)
    try Fixtures.run(store, t[0], testAccuracy: 0.9)
    try Fixtures.run(store, t[1], stop: .diverged)
    try store.markFailed(trial: t[2].id, error: "boom")
    return (store, id, t, path)
  }

  @Test(arguments: [
    (RerunPolicy.none, [3]), (.failed, [2, 3]), (.diverged, [1, 3]), (.all, [0, 1, 2, 3]),
  ])
  func rerunPolicySelectsTrials(policy: RerunPolicy, expected: [Int]) throws {
    let (store, id, t, _) = try mixed()
    #expect(
      try store.trialsToRun(sweepID: id, rerun: policy).map(\.id) == expected.map { t[$0].id })
    let rows = try store.rows(sweepID: id)
    for i in expected { #expect(rows[i].state == .pending && rows[i].result == nil) }
    #expect(try store.verify().isEmpty)
    // Without a rerun policy, nothing more is selected afterwards.
    #expect(try store.trialsToRun(sweepID: id).map(\.id) == expected.map { t[$0].id })
  }

  @Test func rerunResultReplacesTheOldOneAndHistoryIsKept() throws {
    let (store, id, t, path) = try mixed()
    _ = try store.trialsToRun(sweepID: id, rerun: .all)
    #expect(try Fixtures.run(store, t[0], attempt: 2, testAccuracy: 0.7) == .committed)
    let row = try store.rows(sweepID: id)[0]
    #expect(row.state == .done && row.result?.training.final?.testAccuracy == 0.7)
    #expect(row.attempts == 2)
    let q = try DatabaseQueue(path: path)
    let n = try q.read {
      try Int.fetchOne(
        $0, sql: "SELECT COUNT(*) FROM results WHERE trial_id = ?", arguments: [t[0].id.hex])
    }
    #expect(n == 2)
    #expect(try store.verify().isEmpty)
  }
}

/// Poll counters shared between the writer and the reader tasks (a lock guards `counts`).
private final class PollCounts: @unchecked Sendable {
  private let lock = NSLock()
  private var counts = [0, 0]
  func increment(_ reader: Int) { lock.withLock { counts[reader] += 1 } }
  func snapshot() -> [Int] { lock.withLock { counts } }
}

@Suite struct ConcurrencyTests {
  /// Readers (a read-only connection, as `tailsweep status` opens, and the writer's own pool)
  /// poll while the writer commits; every snapshot must be consistent. Every 20 commits the
  /// writer waits until both readers have begun and finished a poll, so they surely see
  /// intermediate states.
  @Test func readersSeeConsistentCountsDuringWrites() async throws {
    let path = try Fixtures.storePath()
    let writer = try SweepStore(path: path)
    let trials = Fixtures.trials(1...120)
    let id = try writer.beginSweep(
      name: "g", description: "", text: "", trials: trials, provenance: Fixtures.provenance)
    let reader = try SweepStore(readOnlyPath: path)
    let counts = PollCounts()
    let writerTask = Task.detached {
      for (i, t) in trials.enumerated() {
        if i % 20 == 0 {
          let before = counts.snapshot()
          let deadline = Date().addingTimeInterval(30)
          while zip(counts.snapshot(), before).contains(where: { $0 < $1 + 2 }), Date() < deadline {
            try await Task.sleep(for: .milliseconds(1))
          }
        }
        try Fixtures.run(writer, t, worker: "w\(i % 3)")
      }
    }
    @Sendable func poll(_ store: SweepStore, _ index: Int) async throws -> Set<Int> {
      var lastDone = 0
      var seen = Set<Int>()
      let deadline = Date().addingTimeInterval(120)
      while true {
        if Date() > deadline {
          Issue.record("the writer did not finish within 120 s")
          return seen
        }
        let s = try store.status(sweepID: id)
        #expect(s.total == trials.count)
        #expect(s.count(.done) >= lastDone)
        #expect(s.count(.failed) == 0 && s.count(.diverged) == 0)
        #expect(s.count(.running) <= 1)
        #expect(s.workers.map(\.committed).reduce(0, +) == s.count(.done))
        lastDone = s.count(.done)
        seen.insert(lastDone)
        let rows = try store.rows(sweepID: id)
        #expect(rows.filter { $0.result != nil }.count == rows.filter { $0.state == .done }.count)
        counts.increment(index)
        if lastDone == trials.count { return seen }
        try await Task.sleep(for: .milliseconds(1))
      }
    }
    async let a = poll(reader, 0)
    async let b = poll(writer, 1)
    let (seenA, seenB) = try await (a, b)
    try await writerTask.value
    // Each reader saw at least the states at 20, 40, …, 100 commits, besides 0 and 120.
    #expect(seenA.filter { $0 > 0 && $0 < trials.count }.count >= 5)
    #expect(seenB.filter { $0 > 0 && $0 < trials.count }.count >= 5)
    #expect(try reader.verify().isEmpty)
  }
}

@Suite struct ExportTests {
  private func filled() throws -> [TrialRow] {
    let store = try SweepStore(path: Fixtures.storePath())
    let t = Fixtures.trials(1...3)
    let id = try store.beginSweep(
      name: "g", description: "", text: "", trials: t, provenance: Fixtures.provenance)
    try Fixtures.run(store, t[0])
    try store.markFailed(trial: t[2].id, error: "bad, \"quoted\"\nsecond line")
    return try store.rows(sweepID: id)
  }

  @Test func csvOfAVGGSweepEndsWithModelAndChannels() throws {
    var rows = try filled()
    let fcnCSV = try TrialExport.render(rows, format: .csv)
    #expect(!fcnCSV.contains("channels"))
    rows[0].config.model = .vgg11
    rows[0].config.channels = 0.0625
    let lines = try TrialExport.render(rows, format: .csv).split(separator: "\n")
    #expect(lines[0] == (TrialExport.columns + ["model", "channels"]).joined(separator: ","))
    #expect(lines[1].hasSuffix(",vgg11,0.0625"))
    #expect(lines[2].hasSuffix(",fcn,"))
    let md = try TrialExport.render(rows, format: .markdown)
    #expect(md.contains("| model | channels |"))
  }

  @Test func csvHasHeaderAndOneQuotedRowPerTrial() throws {
    let rows = try filled()
    let csv = try TrialExport.render(rows, format: .csv)
    let lines = csv.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines[0] == TrialExport.columns.joined(separator: ","))
    #expect(
      lines[1].hasPrefix(
        rows[0].id.hex
          + ",,done,1,synthetic,classes=2;dataSeed=0;inputs=20;teacherWidth=10;testSize=50;trainSize=100,64,"
      ))
    #expect(lines[1].contains(",reached_target,400,,1.5,"))
    #expect(csv.contains("\"bad, \"\"quoted\"\"\nsecond line\""))
    #expect(lines[2].hasPrefix(rows[1].id.hex + ",,pending,0,"))
    // With the store's context: the sweep's name and when the trial ran.
    let withContext = try TrialExport.render(
      rows, format: .csv, context: TrialExport.Context(sweep: "g", times: [:]))
    #expect(withContext.split(separator: "\n")[1].hasPrefix(rows[0].id.hex + ",g,done,1,"))
  }

  @Test func jsonlRoundTripsEachRow() throws {
    let rows = try filled()
    let lines = try TrialExport.render(rows, format: .jsonl).split(separator: "\n")
    #expect(lines.count == 3)
    struct Line: Decodable {
      var id: String
      var state: String
      var config: TrialConfig
      var result: TrialResult?
    }
    let decoded = try lines.map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
    #expect(decoded.map(\.id) == rows.map(\.id.hex))
    #expect(decoded[0].result == rows[0].result)
    #expect(decoded[1].result == nil && decoded[1].config == rows[1].config)
  }

  @Test func markdownIsATable() throws {
    let rows = try filled()
    let md = try TrialExport.render(rows, format: .markdown)
    let lines = md.split(separator: "\n")
    #expect(lines.count == 5)
    #expect(lines[0].hasPrefix("| trial | sweep | state | attempts |"))
    #expect(lines[2].hasPrefix("| \(rows[0].id.short) |"))
    #expect(lines[1].hasPrefix("| --- |"))
    #expect(lines.allSatisfy { $0.hasPrefix("|") && $0.hasSuffix("|") })
    #expect(lines[4].contains("bad, \"quoted\" second line"))
  }
}

@Suite struct SweepIdentityTests {
  /// A store written before the sweep-identity migration: readers see each sweep as version 1
  /// of its own name, current; the first writer adds the columns and keeps every row.
  @Test func storeWithoutTheIdentityColumnsReadsAndMigrates() throws {
    let path = try Fixtures.storePath()
    var store = try SweepStore(path: path)
    let trials = Fixtures.trials(1...3)
    let id = try store.beginSweep(
      name: "grid", description: "d", text: "v1", trials: trials, provenance: Fixtures.provenance)
    try Fixtures.run(store, trials[0])
    try store.close()
    // Back to the schema of the previous release.
    let q = try DatabaseQueue(path: path)
    try q.write { db in
      for column in ["family", "version", "definition_hash"] {
        try db.execute(sql: "ALTER TABLE sweeps DROP COLUMN \(column)")
      }
      try db.execute(
        sql: "DELETE FROM grdb_migrations WHERE identifier = 'v2-sweep-identity'")
    }
    try q.close()

    let reader = try SweepStore(readOnlyPath: path)
    let info = try #require(try reader.sweeps().first)
    #expect(info.id == id && info.name == "grid" && info.family == "grid")
    #expect(info.version == 1 && info.isCurrent && info.definitionHash == nil)
    #expect(try reader.rows(sweepID: id).count == 3)
    try reader.close()

    store = try SweepStore(path: path)
    let migrated = try #require(try store.sweeps().first)
    #expect(migrated.family == "grid" && migrated.version == 1 && migrated.trialCount == 3)
    let hash = Sweep.definitionHash(trialIDs: try store.linkedTrialIDs(sweepID: id))
    #expect(hash == Sweep.definitionHash(trialIDs: trials.map(\.id.hex).reversed()))
    try store.recordDefinition(sweepID: id, family: "grid", version: 1, hash: hash)
    #expect(try store.sweeps().first?.definitionHash == hash)
    #expect(try store.status(sweepID: id).count(.done) == 1)
    try store.close()
  }

  /// Trials dropped from every definition (re-linking under one name, as before versioning)
  /// are counted as unlinked.
  @Test func unlinkedTrialsAreCounted() throws {
    let store = try SweepStore(path: Fixtures.storePath())
    defer { try? store.close() }
    let t = Fixtures.trials(1...3)
    _ = try store.beginSweep(
      name: "grid", description: "", text: "", trials: t, provenance: Fixtures.provenance)
    #expect(try store.unlinkedTrialCount() == 0)
    _ = try store.beginSweep(
      name: "grid", description: "", text: "", trials: [t[2]], provenance: Fixtures.provenance)
    #expect(try store.unlinkedTrialCount() == 2)
  }

  /// The current definition of a name is the one run last.
  @Test func theDefinitionRunLastIsCurrent() throws {
    let store = try SweepStore(path: Fixtures.storePath())
    defer { try? store.close() }
    let t = Fixtures.trials(1...3)
    let one = try store.beginSweep(
      name: "grid", description: "", text: "", trials: [t[0]], provenance: Fixtures.provenance)
    try store.recordDefinition(sweepID: one, family: "grid", version: 1, hash: "a")
    let two = try store.beginSweep(
      name: "grid@2", description: "", text: "", trials: [t[1]], provenance: Fixtures.provenance)
    try store.recordDefinition(sweepID: two, family: "grid", version: 2, hash: "b")
    #expect(try store.sweeps().filter(\.isCurrent).map(\.id) == [two])
    _ = try store.beginSweep(
      name: "grid", description: "", text: "", trials: [t[0]], provenance: Fixtures.provenance)
    #expect(try store.sweeps().filter(\.isCurrent).map(\.id) == [one])
  }
}

/// The latest progress of open leases: recorded by the coordinator, read back by `status` and
/// the live view; closed leases keep theirs; stores without the columns read as no progress.
@Suite struct AttemptProgressTests {
  @Test func progressOfOpenLeasesIsRecordedAndReadBack() throws {
    let path = try Fixtures.storePath()
    let store = try SweepStore(path: path)
    let t = Fixtures.trials(1...2)
    let id = try store.beginSweep(
      name: "grid", description: "", text: "", trials: t, provenance: Fixtures.provenance)
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    try store.attemptStarted(trial: t[0].id, attempt: 1, worker: "w1", host: "h1", at: start)
    try store.attemptStarted(trial: t[1].id, attempt: 1, worker: "w2", host: "h2", at: start)
    #expect(try store.openAttempts(sweepID: id).allSatisfy { $0.iteration == nil })
    let at = start.addingTimeInterval(5)
    try store.recordProgress([
      AttemptProgress(trial: t[0].id, attempt: 1, iteration: 1200, maxIterations: 3000, at: at),
      // Not an open lease: ignored.
      AttemptProgress(trial: t[1].id, attempt: 7, iteration: 1, maxIterations: 3000, at: at),
    ])
    let open = try store.openAttempts(sweepID: id)
    #expect(open.count == 2)
    let first = try #require(open.first { $0.trial == t[0].id })
    #expect(first.iteration == 1200 && first.maxIterations == 3000 && first.progressAt == at)
    #expect(open.first { $0.trial == t[1].id }?.iteration == nil)
    // A closed lease is not updated any more (and is no longer open).
    try store.attemptEnded(
      trial: t[0].id, attempt: 1, outcome: .lost, error: "silent", at: at.addingTimeInterval(1))
    try store.recordProgress([
      AttemptProgress(
        trial: t[0].id, attempt: 1, iteration: 2000, maxIterations: 3000,
        at: at.addingTimeInterval(2))
    ])
    #expect(try store.openAttempts(sweepID: id).map(\.trial) == [t[1].id])
    try store.close()

    // A store of the previous release (no progress columns), read without migrating.
    let q = try DatabaseQueue(path: path)
    try q.write { db in
      for column in ["iteration", "max_iterations", "progress_at"] {
        try db.execute(sql: "ALTER TABLE attempts DROP COLUMN \(column)")
      }
      try db.execute(
        sql: "DELETE FROM grdb_migrations WHERE identifier = 'v3-attempt-progress'")
    }
    try q.close()
    let reader = try SweepStore(readOnlyPath: path)
    let old = try reader.openAttempts(sweepID: id)
    #expect(old.map(\.trial) == [t[1].id] && old[0].iteration == nil && old[0].progressAt == nil)
    // The next writer adds the columns; a reader that opened before (a live view started
    // before the coordinator) sees them.
    let writer = try SweepStore(path: path)
    try writer.recordProgress([
      AttemptProgress(trial: t[1].id, attempt: 1, iteration: 5, maxIterations: 3000, at: at)
    ])
    #expect(try writer.openAttempts(sweepID: id).first?.iteration == 5)
    #expect(try reader.openAttempts(sweepID: id).first?.iteration == 5)
    try reader.close()
    try writer.close()
  }
}

/// Worker liveness: recorded by the coordinator (one row per worker, replaced by each
/// recording), read back by `status` and the live view; stores without the table read as none.
@Suite struct WorkerLivenessTests {
  @Test func workersAreRecordedReplacedAndReadBackAndOldStoresHaveNone() throws {
    let path = try Fixtures.storePath()
    let store = try SweepStore(path: path)
    #expect(try store.workers().isEmpty)
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    try store.batch {
      try store.recordWorkers([
        WorkerLiveness(
          worker: "w1", host: "h1", slots: 2, registeredAt: t0, lastSeen: t0.addingTimeInterval(3),
          state: .active),
        WorkerLiveness(
          worker: "w2", host: "h2", slots: 1, registeredAt: t0, lastSeen: t0.addingTimeInterval(1),
          state: .quarantined),
      ])
    }
    // A later recording replaces a worker's row (idle worker: only its heartbeat moved).
    try store.recordWorkers([
      WorkerLiveness(
        worker: "w1", host: "h1", slots: 2, registeredAt: t0, lastSeen: t0.addingTimeInterval(9),
        state: .active)
    ])
    let all = try store.workers()
    #expect(all.map(\.worker) == ["w1", "w2"])
    #expect(all[0].lastSeen == t0.addingTimeInterval(9) && all[0].registeredAt == t0)
    #expect(all[0].slots == 2 && all[0].host == "h1" && all[0].state == .active)
    #expect(all[1].state == .quarantined && all[1].lastSeen == t0.addingTimeInterval(1))
    #expect(try store.workers(seenSince: t0.addingTimeInterval(2)).map(\.worker) == ["w1"])
    try store.close()

    // A reader (the live view, `status`) sees the same while it is not the writer.
    let reader = try SweepStore(readOnlyPath: path)
    #expect(try reader.workers().count == 2)
    #expect(throws: StoreError.self) { try reader.recordWorkers(all) }
    try reader.close()

    // A store of the previous release (no workers table), read without migrating: no rows.
    let q = try DatabaseQueue(path: path)
    try q.write { db in
      try db.execute(sql: "DROP TABLE workers")
      try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v4-workers'")
    }
    try q.close()
    let old = try SweepStore(readOnlyPath: path)
    #expect(try old.workers().isEmpty)
    #expect(try old.status(sweepID: nil).total == 0)
    // The next writer adds the table; a reader that opened before (the live view started
    // before the coordinator) sees it and its rows.
    let writer = try SweepStore(path: path)
    try writer.recordWorkers([all[1]])
    #expect(try writer.workers().map(\.worker) == ["w2"])
    #expect(try old.workers().map(\.worker) == ["w2"])
    try old.close()
    try writer.close()
  }
}
