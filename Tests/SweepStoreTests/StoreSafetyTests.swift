import Foundation
import GRDB
import SweepSpec
import TailNet
import Testing

@testable import SweepStore

#if canImport(Glibc)
  import Glibc
#endif

/// A sweep of `count` trials in a fresh store, each leased once to worker `w` (attempt 1).
private func leasedStore(
  count: Int, busyTimeout: TimeInterval = 10
) throws -> (SweepStore, Int64, [PlannedTrial]) {
  let store = try SweepStore(path: Fixtures.storePath(), busyTimeout: busyTimeout)
  let trials = Fixtures.trials(1...UInt64(count))
  let id = try store.beginSweep(
    name: "s", description: "", text: "", trials: trials, provenance: Fixtures.provenance)
  for t in trials {
    try store.attemptStarted(trial: t.id, attempt: 1, worker: "w", host: "h", at: Date())
  }
  return (store, id, trials)
}

/// The error `body` throws (nil: it did not throw).
private func thrown(_ body: () throws -> Void) -> (any Error)? {
  do {
    try body()
    return nil
  } catch {
    return error
  }
}

@Suite struct DurabilityTests {
  /// GRDB's WAL setup leaves a pool's writer at NORMAL (1); the store sets FULL (2) after it.
  @Test func writerConnectionIsSynchronousFull() throws {
    let path = try Fixtures.storePath()
    for _ in 0..<2 {  // a new file, then an existing one
      let store = try SweepStore(path: path)
      let (synchronous, journal) = try store.withWriterConnection { db in
        (
          try Int.fetchOne(db, sql: "PRAGMA synchronous"),
          try String.fetchOne(db, sql: "PRAGMA journal_mode")
        )
      }
      #expect(synchronous == 2)
      #expect(journal == "wal")
      try store.close()
    }
  }
}

@Suite struct WriterLockTests {
  @Test func secondWriterInTheSameProcessIsRefused() throws {
    let path = try Fixtures.storePath()
    let first = try SweepStore(path: path)
    let expected = StoreError.locked(
      path: path, holderPID: getpid(), holderHost: WriterLock.hostName())
    #expect(throws: expected) { try SweepStore(path: path) }
    let text = expected.description
    #expect(text.contains(path + ".lock"))
    #expect(text.contains("pid \(getpid()) on host \(WriterLock.hostName())"))
    #expect(text.contains("stop that coordinator first (or wait"))
    // Readers never lock; a deliberate second writer may opt out.
    let reader = try SweepStore(readOnlyPath: path)
    #expect(try reader.sweeps().isEmpty)
    let optedOut = try SweepStore(path: path, exclusive: false)
    #expect(try optedOut.sweeps().isEmpty)
    try first.close()
  }

  @Test func closeAndDeinitReleaseTheLock() throws {
    let path = try Fixtures.storePath()
    let first = try SweepStore(path: path)
    try first.close()
    let second = try SweepStore(path: path)
    #expect(try second.sweeps().isEmpty)
    try second.close()
    func openAndDrop() throws { _ = try SweepStore(path: path) }
    try openAndDrop()
    try SweepStore(path: path).close()
    // The lock file stays, emptied, for the next holder.
    #expect(try String(contentsOfFile: path + ".lock", encoding: .utf8).isEmpty)
  }

  /// A refused writer must not write: with another coordinator's trial running, the open fails
  /// before `recoverInterrupted` could close its attempt as lost.
  @Test func refusedOpenLeavesTheStoreUntouched() throws {
    let path = try Fixtures.storePath()
    let first = try SweepStore(path: path)
    let t = Fixtures.trial(seed: 1)
    _ = try first.beginSweep(
      name: "s", description: "", text: "", trials: [t], provenance: Fixtures.provenance)
    try first.attemptStarted(trial: t.id, attempt: 1, worker: "w", host: "h", at: Date())
    #expect(thrown { _ = try SweepStore(path: path) } is StoreError)
    let reader = try SweepStore(readOnlyPath: path)
    #expect(try reader.status(sweepID: nil).count(.running) == 1)
    #expect(try reader.status(sweepID: nil).workers.first?.running == 1)
    try first.close()
  }

  /// A real child process (util-linux `flock`) holds the lock: the open fails with its pid and
  /// host, and creates nothing (not even the database file). When the child ends, the open
  /// succeeds.
  @Test func lockHeldByAnotherProcessBlocksTheWriter() throws {
    let path = try Fixtures.storePath()
    let lockPath = path + ".lock"
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/bin/sh")
    // Record `pid host start` like the store does, then (same pid, through exec) hold the
    // lock while `cat` copies stdin; "locked" on stdout says the lock is held.
    child.arguments = [
      "-c",
      #"printf '%s %s 2025-01-01T00:00:00Z\n' "$$" "$(uname -n)" > "$1" && exec flock "$1" sh -c 'echo locked; exec cat'"#,
      "sh", lockPath,
    ]
    let input = Pipe()
    let output = Pipe()
    child.standardInput = input
    child.standardOutput = output
    try child.run()
    defer {
      try? input.fileHandleForWriting.close()
      if child.isRunning { child.terminate() }
      child.waitUntilExit()
    }
    // Wait for the child's word (blocking read, no fixed sleep).
    var said = ""
    while !said.contains("locked\n") {
      let chunk = output.fileHandleForReading.availableData
      if chunk.isEmpty { break }  // the child exited
      said += String(decoding: chunk, as: UTF8.self)
    }
    try #require(said == "locked\n", "the child did not take the lock: \(said)")
    // The lock is really held: a probe of our own is refused too.
    let probe = open(lockPath, O_RDONLY | O_CLOEXEC)
    #expect(probe >= 0)
    let rc = flock(probe, LOCK_EX | LOCK_NB)
    let code = errno
    #expect(rc != 0 && code == EWOULDBLOCK)
    close(probe)

    let expected = StoreError.locked(
      path: path, holderPID: child.processIdentifier, holderHost: WriterLock.hostName())
    #expect(throws: expected) { try SweepStore(path: path) }
    #expect(!FileManager.default.fileExists(atPath: path), "a refused writer created the file")

    try input.fileHandleForWriting.close()  // cat ends, flock ends, the lock is free
    child.waitUntilExit()
    let store = try SweepStore(path: path)
    #expect(try store.sweeps().isEmpty)
    try store.close()
  }

  @Test func staleLockFileOfADeadProcessDoesNotBlock() throws {
    let path = try Fixtures.storePath()
    let lockPath = path + ".lock"
    try "4194303 gone-host 2020-01-01T00:00:00Z\n".write(
      toFile: lockPath, atomically: false, encoding: .utf8)
    let store = try SweepStore(path: path)
    let line = try String(contentsOfFile: lockPath, encoding: .utf8)
    #expect(line.hasPrefix("\(getpid()) \(WriterLock.hostName()) "))
    #expect(!line.contains("gone-host"))
    try store.close()
  }

  @Test func lockFileLinesAreParsedLeniently() {
    #expect(WriterLock.parse("123 node-7 2025-01-01T00:00:00Z\n") == (123, "node-7"))
    #expect(WriterLock.parse("123\n") == (123, nil))
    #expect(WriterLock.parse("") == (nil, nil))
    #expect(WriterLock.parse("garbage here") == (nil, nil))
    let unknown = StoreError.locked(path: "/r/sweep.sqlite", holderPID: nil, holderHost: nil)
    #expect(unknown.description.contains("recorded no pid or host"))
    #expect(unknown.description.contains("/r/sweep.sqlite.lock"))
  }
}

@Suite struct UnavailableStoreTests {
  /// Disk full for real: the writer connection's `max_page_count` caps the file a few pages
  /// above its size. Commits go on until one fails; it is `.unavailable(kind: .full)`, rolled
  /// back, the earlier results are intact, and after "freeing space" the same commit succeeds.
  @Test func fullDiskIsUnavailableAndLosesNothing() throws {
    let (store, sweep, trials) = try leasedStore(count: 40)
    try store.withWriterConnection { db in
      let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
      try db.execute(sql: "PRAGMA max_page_count = \(pages + 8)")
    }
    var sent: [TrialID: TrialResult] = [:]
    var failure: (trial: PlannedTrial, result: TrialResult, error: any Error)?
    for t in trials {
      let r = Fixtures.result(
        for: t, testAccuracy: 0.5 + Double(sent.count) / 100, historyPoints: 60)
      if let error = thrown({
        try store.commit(trial: t.id, attempt: 1, worker: "w", result: r, at: Date())
      }) {
        failure = (t, r, error)
        break
      }
      sent[t.id] = r
    }
    let (t, r, error) = try #require(failure, "40 results fit in 8 pages?")
    #expect(sent.count >= 1)
    let e = try #require(error as? StoreError)
    #expect(e.unavailableKind == .full)
    #expect(e.description.contains("free space"))
    #expect(e.description.contains("nothing is lost"))
    // The failed commit left nothing; the earlier ones are whole.
    let rows = try store.rows(sweepID: sweep)
    for row in rows {
      if let expected = sent[row.id] {
        #expect(row.state == .done && row.result == expected)
      } else {
        #expect(row.state == .running && row.result == nil)
      }
    }
    #expect(try store.status(sweepID: sweep).workers[0].committed == sent.count)
    #expect(try store.verify().isEmpty)
    // Space freed: the same commit goes through.
    try store.withWriterConnection { db in
      try db.execute(sql: "PRAGMA max_page_count = 1073741823")
    }
    #expect(
      try store.commit(trial: t.id, attempt: 1, worker: "w", result: r, at: Date()) == .committed)
    #expect(try store.rows(sweepID: sweep).first { $0.id == t.id }?.result == r)
    #expect(try store.verify().isEmpty)
  }

  /// Another connection holds SQLite's write lock (`BEGIN EXCLUSIVE`): after the store's short
  /// busy timeout the commit is `.unavailable(kind: .busy)`; readers still work; when the other
  /// transaction ends the same commit succeeds.
  @Test func lockedDatabaseIsUnavailableBusy() throws {
    let (store, sweep, trials) = try leasedStore(count: 1, busyTimeout: 0.05)
    #expect(store.busyTimeout == 0.05)
    var config = Configuration()
    config.allowsUnsafeTransactions = true
    let other = try DatabaseQueue(path: store.path, configuration: config)
    try other.writeWithoutTransaction { try $0.execute(sql: "BEGIN EXCLUSIVE") }
    let t = trials[0]
    let r = Fixtures.result(for: t)
    let started = Date()
    let error = thrown {
      try store.commit(trial: t.id, attempt: 1, worker: "w", result: r, at: Date())
    }
    // Well under the default 10 s: the parameter is used (generous bound for a loaded machine).
    #expect(Date().timeIntervalSince(started) < 5)
    let e = try #require(error as? StoreError)
    #expect(e.unavailableKind == .busy)
    #expect(e.description.contains("stop the other process"))
    #expect(e.description.contains("nothing is lost"))
    #expect(try store.status(sweepID: sweep).count(.running) == 1)
    try other.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }
    try other.close()
    #expect(
      try store.commit(trial: t.id, attempt: 1, worker: "w", result: r, at: Date()) == .committed)
    #expect(try store.verify().isEmpty)
  }

  /// The writer connection made read-only for real (`PRAGMA query_only`, SQLITE_READONLY).
  @Test func readOnlyDatabaseIsUnavailableReadOnly() throws {
    let (store, sweep, trials) = try leasedStore(count: 1)
    try store.withWriterConnection { try $0.execute(sql: "PRAGMA query_only = ON") }
    let t = trials[0]
    let r = Fixtures.result(for: t)
    let error = thrown {
      try store.commit(trial: t.id, attempt: 1, worker: "w", result: r, at: Date())
    }
    let e = try #require(error as? StoreError)
    #expect(e.unavailableKind == .readOnly)
    #expect(e.description.contains("fix the permissions"))
    #expect(try store.status(sweepID: sweep).count(.running) == 1)
    #expect(try store.verify().isEmpty)
    try store.withWriterConnection { try $0.execute(sql: "PRAGMA query_only = OFF") }
    #expect(
      try store.commit(trial: t.id, attempt: 1, worker: "w", result: r, at: Date()) == .committed)
    #expect(try store.verify().isEmpty)
  }

  /// I/O errors are told apart by the errno SQLite saw (no file system can be filled or
  /// remounted in a test, so the mapping is checked directly).
  @Test func ioErrorsAreClassifiedByErrno() {
    func kind(_ code: ResultCode, _ errno: Int32) -> StoreError.UnavailableKind? {
      SweepStore.classify(
        DatabaseError(resultCode: code, message: "m"), systemErrno: errno, path: "p",
        busyTimeout: 1)?.unavailableKind
    }
    #expect(kind(.SQLITE_IOERR_WRITE, ENOSPC) == .full)
    #expect(kind(.SQLITE_IOERR_FSYNC, EDQUOT) == .full)
    #expect(kind(.SQLITE_IOERR_WRITE, EROFS) == .readOnly)
    #expect(kind(.SQLITE_CANTOPEN, EACCES) == .readOnly)
    #expect(kind(.SQLITE_IOERR_READ, EIO) == .io)
    #expect(kind(.SQLITE_IOERR, 0) == .io)
    #expect(kind(.SQLITE_FULL, 0) == .full)
    #expect(kind(.SQLITE_READONLY_DBMOVED, 0) == .readOnly)
    #expect(kind(.SQLITE_BUSY, 0) == .busy)
    #expect(kind(.SQLITE_LOCKED, 0) == .busy)
    #expect(kind(.SQLITE_CANTOPEN, ENOENT) == nil)
    #expect(kind(.SQLITE_CONSTRAINT, 0) == nil)
    #expect(kind(.SQLITE_CORRUPT, 0) == nil)
    for k in StoreError.UnavailableKind.allCases {
      let text = StoreError.unavailable(path: "/r/sweep.sqlite", kind: k, message: "m")
        .description
      #expect(text.contains("/r/sweep.sqlite cannot take writes now"))
      #expect(text.contains("run the same command again to resume, nothing is lost"))
    }
  }
}

@Suite struct RefusalTests {
  private func nullResult(_ t: PlannedTrial) -> TrialResult {
    TrialResult(
      config: t.config,
      training: TrainingSummary(
        stopReason: .maxIterations, iterations: 0, wallSeconds: 0, final: nil, history: []),
      compression: nil, datasetHash: SweepStore.nullTrialMarker)
  }

  private func store(_ name: String, allowNullResults: Bool? = nil) throws -> (
    SweepStore, PlannedTrial
  ) {
    let folder = URL(fileURLWithPath: try Fixtures.storePath()).deletingLastPathComponent()
    let store = try SweepStore(
      path: folder.appendingPathComponent(name).path, allowNullResults: allowNullResults)
    let t = Fixtures.trial(seed: 1)
    _ = try store.beginSweep(
      name: "s", description: "", text: "", trials: [t], provenance: Fixtures.provenance)
    try store.attemptStarted(trial: t.id, attempt: 1, worker: "w", host: "h", at: Date())
    return (store, t)
  }

  @Test func nullResultsGoOnlyToAStoreThatTakesThem() throws {
    let (real, t) = try store("sweep.sqlite")
    #expect(!real.acceptsNullResults)
    #expect(throws: StoreError.nullResult(path: real.path, trial: t.id.short)) {
      try real.commit(trial: t.id, attempt: 1, worker: "w", result: nullResult(t), at: Date())
    }
    #expect(
      StoreError.nullResult(path: real.path, trial: t.id.short).description.contains(
        "null-trials.sqlite"))
    #expect(try real.rows(sweepID: nil)[0].state == .running)
    #expect(try real.verify().isEmpty)

    let (null, u) = try store("null-trials.sqlite")
    #expect(null.acceptsNullResults)
    #expect(
      try null.commit(trial: u.id, attempt: 1, worker: "w", result: nullResult(u), at: Date())
        == .committed)
    let (opted, v) = try store("sweep.sqlite", allowNullResults: true)
    #expect(
      try opted.commit(trial: v.id, attempt: 1, worker: "w", result: nullResult(v), at: Date())
        == .committed)
    let (refusing, w) = try store("null-trials.sqlite", allowNullResults: false)
    #expect(throws: StoreError.nullResult(path: refusing.path, trial: w.id.short)) {
      try refusing.commit(trial: w.id, attempt: 1, worker: "w", result: nullResult(w), at: Date())
    }
  }

  @Test func resultOfAnotherConfigurationIsRefused() throws {
    let (store, t) = try store("sweep.sqlite")
    let other = Fixtures.trial(seed: 2)
    let expected = StoreError.configMismatch(trial: t.id.short, resultTrial: other.id.short)
    #expect(throws: expected) {
      try store.commit(
        trial: t.id, attempt: 1, worker: "w", result: Fixtures.result(for: other), at: Date())
    }
    #expect(expected.description.contains(t.id.short))
    #expect(expected.description.contains(other.id.short))
    #expect(try store.rows(sweepID: nil)[0].state == .running)
  }

  @Test func impossibleMeasurementsAreRefusedEvenAsDuplicates() throws {
    let (store, t) = try store("sweep.sqlite")
    var bad = Fixtures.result(for: t)
    bad.training.wallSeconds = .nan
    bad.training.history[2].testAccuracy = 1.5
    let problems = bad.validationProblems()
    #expect(problems.count == 2)
    #expect(problems.contains { $0.hasPrefix("training.wallSeconds is nan") })
    let expected = StoreError.invalidResult(trial: t.id.short, problems: problems)
    #expect(throws: expected) {
      try store.commit(trial: t.id, attempt: 1, worker: "w", result: bad, at: Date())
    }
    #expect(expected.description.contains("training.history[2].testAccuracy is 1.5"))
    #expect(try store.rows(sweepID: nil)[0].state == .running)
    // After a good result, a bad one is still refused (not recorded as a duplicate).
    try store.commit(
      trial: t.id, attempt: 1, worker: "w", result: Fixtures.result(for: t), at: Date())
    #expect(throws: expected) {
      try store.commit(trial: t.id, attempt: 2, worker: "w2", result: bad, at: Date())
    }
    #expect(try store.status(sweepID: nil).workers.map(\.worker) == ["w"])
    #expect(try store.verify().isEmpty)
  }
}

@Suite struct AttemptRowTests {
  /// The attempt rows of one trial: (attempt, worker, host, leased, outcome).
  private func attempts(_ path: String, _ t: PlannedTrial) throws -> [AttemptRowValues] {
    let q = try DatabaseQueue(path: path)
    defer { try? q.close() }
    return try q.read { db in
      try Row.fetchAll(
        db,
        sql: """
          SELECT attempt, worker, host, leased, outcome FROM attempts WHERE trial_id = ?
          ORDER BY id
          """, arguments: [t.id.hex]
      ).map { row in
        AttemptRowValues(
          attempt: try row.decode(Int.self, atIndex: 0),
          worker: try row.decode(String.self, atIndex: 1),
          host: try row.decode(String.self, atIndex: 2),
          leased: try row.decode(Int.self, atIndex: 3) == 1,
          outcome: try row.decode(String?.self, atIndex: 4))
      }
    }
  }

  /// A result adopted from an earlier coordinator's lease, committed under a fresh attempt
  /// number: the added row names the worker and its host.
  @Test func adoptedResultGetsAnAttemptRowWithItsHost() throws {
    let path = try Fixtures.storePath()
    let store = try SweepStore(path: path)
    let t = Fixtures.trial(seed: 1)
    let sweep = try store.beginSweep(
      name: "s", description: "", text: "", trials: [t], provenance: Fixtures.provenance)
    #expect(
      try store.commit(
        trial: t.id, attempt: 7, worker: "w9", host: "node-9", result: Fixtures.result(for: t),
        at: Date()) == .committed)
    #expect(
      try attempts(path, t) == [
        AttemptRowValues(
          attempt: 7, worker: "w9", host: "node-9", leased: false, outcome: "committed")
      ])
    let w = try #require(try store.status(sweepID: sweep).workers.first)
    #expect(w.worker == "w9" && w.host == "node-9" && w.committed == 1 && w.failed == 0)
    #expect(try store.verify().isEmpty)
    // A resumed run numbers after the highest attempt, leased or adopted: 7, not the one
    // leased row count (0 here).
    #expect(try store.highestAttempts(sweepID: sweep) == [t.id: 7])
  }

  /// The coordinator restarted while w1 ran attempt 1 (closed as lost); w1's result arrives
  /// later for that same attempt: the lost row becomes the committed one (one row per lease).
  @Test func resultOfALeaseClosedAsLostCommitsThatRow() throws {
    let path = try Fixtures.storePath()
    var store = try SweepStore(path: path)
    let t = Fixtures.trials(1...2)
    let sweep = try store.beginSweep(
      name: "s", description: "", text: "", trials: t, provenance: Fixtures.provenance)
    try store.attemptStarted(trial: t[0].id, attempt: 1, worker: "w1", host: "h1", at: Date())
    try store.attemptStarted(trial: t[1].id, attempt: 1, worker: "w1", host: "h1", at: Date())
    try store.close()  // the coordinator dies
    store = try SweepStore(path: path)
    _ = try store.beginSweep(
      name: "s", description: "", text: "", trials: t, provenance: Fixtures.provenance)
    #expect(try store.trialsToRun(sweepID: sweep).count == 2)
    #expect(try attempts(path, t[0]).map(\.outcome) == ["lost"])
    // Trial 0: the late result of the lost lease.
    #expect(
      try store.commit(
        trial: t[0].id, attempt: 1, worker: "w1", result: Fixtures.result(for: t[0]), at: Date())
        == .committed)
    #expect(
      try attempts(path, t[0]) == [
        AttemptRowValues(attempt: 1, worker: "w1", host: "h1", leased: true, outcome: "committed")
      ])
    // Trial 1 was leased again (attempt 2, w2) before w1's late result came: w1's lost row is
    // committed, w2's open lease ends as a duplicate.
    try store.attemptStarted(trial: t[1].id, attempt: 2, worker: "w2", host: "h2", at: Date())
    #expect(
      try store.commit(
        trial: t[1].id, attempt: 1, worker: "w1", result: Fixtures.result(for: t[1]), at: Date())
        == .committed)
    #expect(
      try store.commit(
        trial: t[1].id, attempt: 2, worker: "w2", result: Fixtures.result(for: t[1]), at: Date())
        == .duplicate)
    #expect(try attempts(path, t[1]).map(\.outcome) == ["committed", "duplicate"])
    let status = try store.status(sweepID: sweep)
    #expect(status.count(.done) == 2)
    let w1 = try #require(status.workers.first { $0.worker == "w1" })
    #expect(w1.committed == 2 && w1.failed == 0 && w1.attempts == 2)
    #expect(try store.rows(sweepID: sweep).map(\.attempts) == [1, 2])
    // The history keeps why the row was lost before its result came.
    let history = try store.attempts(trial: t[1].id)
    #expect(history.map(\.outcome) == [.committed, .duplicate])
    #expect(history.map(\.worker) == ["w1", "w2"])
    #expect(
      history[0].error
        == "declared lost (the coordinator stopped while this attempt ran); its result came later")
    #expect(history[1].error == nil && history[1].leased && history[1].host == "h2")
    #expect(try store.attempts(worker: "w1").map(\.trial) == [t[0].id, t[1].id])
    #expect(try store.verify().isEmpty)
  }
}

/// One attempts-table row, for comparisons.
struct AttemptRowValues: Equatable {
  var attempt: Int
  var worker: String
  var host: String
  var leased: Bool
  var outcome: String?
}

/// Group commit (`SweepStore.batch`): many changes, one transaction and one sync.
@Suite struct GroupCommitTests {
  /// A batch's results are invisible to another process's reader until `batch` returns, then
  /// all of them are there.
  @Test func batchIsInvisibleUntilItReturnsThenWhole() throws {
    let (store, sweep, trials) = try leasedStore(count: 5)
    let reader = try SweepStore(readOnlyPath: store.path)
    var seenInside: [Int] = []
    try store.batch {
      for (i, t) in trials.enumerated() {
        let r = Fixtures.result(for: t, testAccuracy: 0.5 + Double(i) / 100, historyPoints: 5)
        #expect(
          try store.commit(trial: t.id, attempt: 1, worker: "w", result: r, at: Date())
            == .committed)
        seenInside.append(try reader.status(sweepID: sweep).counts[.done] ?? -1)
      }
    }
    #expect(seenInside == [0, 0, 0, 0, 0])
    #expect(try reader.status(sweepID: sweep).counts[.done] == 5)
    #expect(try store.verify().isEmpty)
  }

  /// A batch whose body throws keeps none of its changes; nested batches join the outer one.
  @Test func failedBatchKeepsNothing() throws {
    let (store, sweep, trials) = try leasedStore(count: 3)
    struct Stop: Error {}
    let error = thrown {
      try store.batch {
        for t in trials {
          let r = Fixtures.result(for: t, testAccuracy: 0.6, historyPoints: 5)
          try store.batch {
            _ = try store.commit(trial: t.id, attempt: 1, worker: "w", result: r, at: Date())
          }
        }
        try store.markFailed(trial: trials[0].id, error: "x")
        throw Stop()
      }
    }
    #expect(error != nil)
    let rows = try store.rows(sweepID: sweep)
    #expect(rows.allSatisfy { $0.state == .running && $0.result == nil })
    #expect(try store.verify().isEmpty)
  }

  /// The disk fills inside a batch: the batch is `.unavailable(kind: .full)` and rolled back
  /// whole; earlier batches are intact; after space is freed the same batch goes through.
  @Test func fullDiskFailsTheWholeBatch() throws {
    let (store, sweep, trials) = try leasedStore(count: 60)
    let first = Array(trials.prefix(2))
    let rest = Array(trials.dropFirst(2))
    func commitAll(_ ts: [PlannedTrial]) throws {
      try store.batch {
        for t in ts {
          let r = Fixtures.result(for: t, testAccuracy: 0.7, historyPoints: 60)
          _ = try store.commit(trial: t.id, attempt: 1, worker: "w", result: r, at: Date())
        }
      }
    }
    try commitAll(first)
    try store.withWriterConnection { db in
      let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
      try db.execute(sql: "PRAGMA max_page_count = \(pages + 8)")
    }
    let error = try #require(thrown { try commitAll(rest) } as? StoreError)
    #expect(error.unavailableKind == .full)
    var rows = try store.rows(sweepID: sweep)
    #expect(rows.filter { $0.state == .done }.map(\.id).sorted() == first.map(\.id).sorted())
    try store.withWriterConnection { db in
      try db.execute(sql: "PRAGMA max_page_count = 1073741823")
    }
    try commitAll(rest)
    rows = try store.rows(sweepID: sweep)
    #expect(rows.allSatisfy { $0.state == .done })
    #expect(try store.verify().isEmpty)
  }
}
