import Foundation
import GRDB
import SweepSpec
import Synchronization
import TailNet

#if canImport(GRDBSQLite)
  import GRDBSQLite
#elseif canImport(SQLite3)
  import SQLite3
#endif

/// The SQLite store of a results folder (`sweep.sqlite`): sweeps, trials, attempts and results.
///
/// One process writes (the coordinator, through `init(path:)`, which holds the exclusive writer
/// lock `<path>.lock` until `close()` or deinit); any number of processes may read at the same
/// time through `init(readOnlyPath:)` (WAL mode: readers see the last committed state and never
/// block the writer). Every method is one transaction, so a crash leaves each change whole or
/// absent, and a commit that returned is durable against power loss (`PRAGMA synchronous =
/// FULL`). `batch(_:)` groups many methods into one transaction and one sync (group commit):
/// then they are durable when `batch` returns.
///
/// Thread safety: every stored property is an immutable `Sendable` value and GRDB serializes
/// access to the connections, so the class is `Sendable` without `@unchecked`.
public final class SweepStore: Sendable {
  /// The dataset hash that marks a null trial's result (the dispatch benchmark's
  /// `nullTrialResult`): not a measurement.
  public static let nullTrialMarker = TrialResult.nullTrialDatasetHash
  /// The file name of the store of null trials (`tailsweep run --null-trials`).
  public static let nullTrialsFileName = "null-trials.sqlite"

  /// The database file.
  public let path: String
  /// Whether this instance was opened with `init(readOnlyPath:)`.
  public let isReadOnly: Bool
  /// Whether `commit` takes null-trial results (`allowNullResults` of `init(path:…)`).
  public let acceptsNullResults: Bool
  /// Seconds a write waits for SQLite's write lock before it fails with
  /// `StoreError.unavailable(kind: .busy)`.
  public let busyTimeout: TimeInterval
  private let db: any DatabaseWriter
  /// The trials this writer planned (`beginSweep`): a result whose config equals its trial's
  /// is known to hash to that id without hashing it again, and its config text is copied from
  /// the trial's row instead of being encoded again. The caller's array itself is kept (no
  /// copy of a million configs), with an index by id.
  private let planned = Mutex(PlannedIndex())
  /// The writer lock (nil: read-only, or opened with `exclusive: false`); released by
  /// `close()`, else when the store is deallocated (`WriterLock.deinit`).
  private let writerLock: WriterLock?

  /// Opens the store at `path` for writing, creating the file or migrating its schema as
  /// needed, in WAL mode with `PRAGMA synchronous = FULL`.
  ///
  /// - Parameters:
  ///   - exclusive: take the writer lock `<path>.lock` (`flock(LOCK_EX | LOCK_NB)`) before
  ///     anything touches the database, and hold it until `close()` or deinit. When another
  ///     process (or another `SweepStore` of this process) holds it, the open fails with
  ///     `StoreError.locked` and writes nothing. Pass false only in tests that deliberately open
  ///     one file twice.
  ///   - allowNullResults: whether `commit` accepts results of null trials (dataset hash
  ///     `SweepStore.nullTrialMarker`); nil (the default): only when the file is named
  ///     `null-trials.sqlite` (`SweepStore.nullTrialsFileName`).
  ///   - busyTimeout: seconds a statement waits for SQLite's locks before failing with
  ///     `StoreError.unavailable(kind: .busy)`.
  public init(
    path: String, exclusive: Bool = true, allowNullResults: Bool? = nil,
    busyTimeout: TimeInterval = 10
  ) throws {
    self.path = path
    isReadOnly = false
    acceptsNullResults =
      allowNullResults
      ?? (URL(fileURLWithPath: path).lastPathComponent == Self.nullTrialsFileName)
    self.busyTimeout = busyTimeout
    // The writer lock comes first: before SQLite creates the file, replays a hot WAL, migrates,
    // or `beginSweep` recovers interrupted attempts.
    let lock = exclusive ? try WriterLock(database: path) : nil
    var config = Configuration()
    config.busyMode = .timeout(busyTimeout)
    config.label = "SweepStore"
    let pool: DatabasePool
    do {
      pool = try DatabasePool(path: path, configuration: config)
    } catch {
      lock?.release()
      throw Self.writerOpenError(path: path, error, busyTimeout: busyTimeout)
    }
    db = pool
    writerLock = lock
    do {
      // Not in `Configuration.prepareDatabase`: GRDB's WAL setup runs after it and sets the
      // writer to `synchronous = NORMAL`. The pool's writer is one connection for its
      // lifetime, so setting it here holds for every later commit.
      let synchronous = try pool.writeWithoutTransaction { db in
        try db.execute(sql: "PRAGMA synchronous = FULL")
        // The coordinator's commits touch index pages all over the store (trial ids are
        // random): a 64 MiB page cache (SQLite's default is 2 MiB) keeps them from being read
        // back from the file at every statement, and checkpoints every 8192 WAL pages (default
        // 1000) copy a page rewritten by many batches once. Durability is unchanged: every
        // commit still syncs the WAL (`synchronous = FULL`).
        try db.execute(sql: "PRAGMA cache_size = -65536")
        try db.execute(sql: "PRAGMA wal_autocheckpoint = 8192")
        return try Int.fetchOne(db, sql: "PRAGMA synchronous")
      }
      guard synchronous == 2 else {
        throw StoreError.cannotOpen(
          path: path,
          reason:
            "SQLite kept PRAGMA synchronous = \(synchronous.map(String.init) ?? "?"), not FULL (2)")
      }
      try pool.barrierWriteWithoutTransaction { db in
        try Self.checkIdentity(db, path: path)
      }
      try Schema.migrator.migrate(pool)
    } catch let e as StoreError {
      try? pool.close()
      lock?.release()
      throw e
    } catch {
      try? pool.close()
      lock?.release()
      throw Self.writerOpenError(path: path, error, busyTimeout: busyTimeout)
    }
  }

  /// Opens an existing store read-only (for `status`, `export`, reports), also while a
  /// coordinator is writing to it. Does not create or migrate anything, and takes no lock.
  public init(readOnlyPath path: String, busyTimeout: TimeInterval = 10) throws {
    self.path = path
    isReadOnly = true
    acceptsNullResults = false
    self.busyTimeout = busyTimeout
    writerLock = nil
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
      !isDirectory.boolValue
    else { throw StoreError.missing(path: path) }
    var config = Configuration()
    config.readonly = true
    config.busyMode = .timeout(busyTimeout)
    config.label = "SweepStore.readOnly"
    let queue: DatabaseQueue
    do {
      queue = try DatabaseQueue(path: path, configuration: config)
    } catch {
      throw Self.readOnlyOpenError(path: path, error)
    }
    db = queue
    do {
      try queue.read { db in
        try Self.checkIdentity(db, path: path)
        let migrator = Schema.migrator
        // A store of an older version that has the base schema reads fine (the sweep
        // identity columns are optional to readers); anything less needs migrating.
        if try !migrator.hasCompletedMigrations(db),
          try !migrator.appliedIdentifiers(db).contains("v1")
        {
          if try Self.userTableCount(db) == 0 { throw StoreError.missing(path: path) }
          throw StoreError.olderSchema(path: path)
        }
      }
    } catch let e as StoreError {
      try? queue.close()
      throw e
    } catch {
      try? queue.close()
      throw Self.readOnlyOpenError(path: path, error)
    }
  }

  /// Closes the connections, then releases the writer lock. Later calls throw.
  public func close() throws {
    do { try db.close() } catch { throw StoreError.database(path: path, message: "\(error)") }
    writerLock?.release()
  }

  // MARK: Sweeps

  /// Records a run of a loaded sweep file and returns the sweep's id: the convenience over
  /// `beginSweep(name:description:path:text:trials:provenance:at:)`.
  public func beginSweep(_ sweep: Sweep, provenance: Provenance) throws -> Int64 {
    try beginSweep(
      name: sweep.name, description: sweep.description, path: sweep.path, text: sweep.text,
      trials: sweep.trials, provenance: provenance)
  }

  /// Records a run of the sweep called `name` and returns its id (the same id on every run of
  /// that name). Adds trials new to the store as `pending`, links the sweep to exactly `trials`
  /// (the same trial may belong to several sweeps; trials dropped from the file are unlinked but
  /// keep their results), stores `provenance` for this run, and resets trials left `running` by
  /// a crashed coordinator to `pending`, closing their open attempts as `lost`.
  ///
  /// Call it at sweep start, before any lease is handed out.
  public func beginSweep(
    name: String, description: String, path sweepPath: String = "", text: String,
    trials: [PlannedTrial], provenance: Provenance, at now: Date = Date()
  ) throws -> Int64 {
    try write { db in
      let sweepID: Int64
      if let existing = try Int64.fetchOne(
        db, sql: "SELECT id FROM sweeps WHERE name = ?", arguments: [name])
      {
        sweepID = existing
        try db.execute(
          sql: "UPDATE sweeps SET description = ?, path = ?, text = ?, updated_at = ? WHERE id = ?",
          arguments: [description, sweepPath, text, now, sweepID])
      } else {
        try db.execute(
          sql: """
            INSERT INTO sweeps (name, description, path, text, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [name, description, sweepPath, text, now, now])
        sweepID = db.lastInsertedRowID
      }
      var seen = Set<String>()
      var newLinks = 0
      let stamp = StoreDate.text(now)
      for trial in trials where seen.insert(trial.id.hex).inserted {
        let c = trial.config
        try db.run(
          sql: """
            INSERT INTO trials (id, config, state, created_at, updated_at, dataset, width, depth,
              eta, batch_size, alpha, sigma, noise_type, budget, seed)
            VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO NOTHING
            """,
          arguments: [
            trial.id.hex, StoreJSON.config(c), stamp, stamp, c.dataset.name, c.width, c.depth,
            c.eta, c.batchSize, c.alpha, c.sigma, c.noiseType.rawValue, c.budget,
            Self.seedValue(c.seed),
          ])
        try db.run(
          sql: """
            INSERT INTO sweep_trials (sweep_id, trial_id, position, relative_cost)
            VALUES (?, ?, ?, ?) ON CONFLICT(sweep_id, trial_id) DO NOTHING
            """, arguments: [sweepID, trial.id.hex, seen.count - 1, trial.relativeCost])
        if db.changesCount > 0 {
          newLinks += 1
        } else {
          try db.run(
            sql: """
              UPDATE sweep_trials SET position = ?, relative_cost = ?
              WHERE sweep_id = ? AND trial_id = ?
              """, arguments: [seen.count - 1, trial.relativeCost, sweepID, trial.id.hex])
        }
      }
      let linked = try String.fetchAll(
        db, sql: "SELECT trial_id FROM sweep_trials WHERE sweep_id = ?", arguments: [sweepID])
      for id in linked where !seen.contains(id) {
        try db.execute(
          sql: "DELETE FROM sweep_trials WHERE sweep_id = ? AND trial_id = ?",
          arguments: [sweepID, id])
      }
      try db.execute(
        sql: """
          INSERT INTO sweep_runs (sweep_id, started_at, text, trial_count, new_trials,
            tool_version, git_commit, host, dataset_hashes, blas)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          sweepID, now, text, seen.count, newLinks, provenance.toolVersion,
          provenance.gitCommit, provenance.host, try StoreJSON.encode(provenance.datasetHashes),
          provenance.blas,
        ])
      try Self.recoverInterrupted(db, sweepID: nil, at: now)
      planned.withLock { $0.add(trials) }
      return sweepID
    }
  }

  /// The id of the sweep called `name`, if the store has it.
  public func sweepID(named name: String) throws -> Int64? {
    try read { db in
      try Int64.fetchOne(db, sql: "SELECT id FROM sweeps WHERE name = ?", arguments: [name])
    }
  }

  /// Every sweep in the store, oldest first, with its latest run's provenance and its identity
  /// (family, version, definition hash, whether it is its family's current definition).
  public func sweeps() throws -> [SweepInfo] {
    try read { db in
      let identity = try Schema.hasSweepIdentity(db)
      let extra =
        identity
        ? "COALESCE(s.family, s.name) AS family, COALESCE(s.version, 1) AS version, "
          + "s.definition_hash"
        : "s.name AS family, 1 AS version, NULL AS definition_hash"
      let rows = try Row.fetchAll(
        db,
        sql: """
          SELECT s.id, s.name, s.description, s.path,
            (SELECT COUNT(*) FROM sweep_trials l WHERE l.sweep_id = s.id) AS trial_count,
            (SELECT COUNT(*) FROM sweep_runs x WHERE x.sweep_id = s.id) AS runs,
            r.id AS last_run, r.started_at, r.tool_version, r.git_commit, r.host,
            r.dataset_hashes, r.blas, \(extra)
          FROM sweeps s
          LEFT JOIN sweep_runs r
            ON r.id = (SELECT MAX(id) FROM sweep_runs WHERE sweep_id = s.id)
          ORDER BY s.id
          """)
      var lastRun: [Int64: Int64] = [:]
      var infos = try rows.map { row in
        var provenance: Provenance?
        if let tool = try row.decode(String?.self, forColumn: "tool_version") {
          let hashesText = try row.decode(String.self, forColumn: "dataset_hashes")
          provenance = Provenance(
            toolVersion: tool, gitCommit: try row.decode(String?.self, forColumn: "git_commit"),
            host: try row.decode(String.self, forColumn: "host"),
            datasetHashes: try StoreJSON.decode(
              [String: String].self, hashesText, path: path, what: "sweep run provenance"),
            blas: try row.decode(String.self, forColumn: "blas"))
        }
        let id = try row.decode(Int64.self, forColumn: "id")
        lastRun[id] = try row.decode(Int64?.self, forColumn: "last_run") ?? 0
        var info = SweepInfo(
          id: id,
          name: try row.decode(String.self, forColumn: "name"),
          description: try row.decode(String.self, forColumn: "description"),
          path: try row.decode(String.self, forColumn: "path"),
          trialCount: try row.decode(Int.self, forColumn: "trial_count"),
          runs: try row.decode(Int.self, forColumn: "runs"),
          lastRunAt: try row.decode(Date?.self, forColumn: "started_at"),
          provenance: provenance)
        info.family = try row.decode(String.self, forColumn: "family")
        info.version = try row.decode(Int.self, forColumn: "version")
        info.definitionHash = try row.decode(String?.self, forColumn: "definition_hash")
        return info
      }
      // The current definition of a family: the one run last (then the highest version).
      var current: [String: (run: Int64, version: Int, id: Int64)] = [:]
      for i in infos {
        let key = (run: lastRun[i.id] ?? 0, version: i.version, id: i.id)
        if let c = current[i.family], (c.run, c.version) >= (key.run, key.version) { continue }
        current[i.family] = key
      }
      for k in infos.indices { infos[k].isCurrent = current[infos[k].family]?.id == infos[k].id }
      return infos
    }
  }

  /// Trials that belong to no sweep any more (dropped from every definition before sweeps were
  /// versioned): their results stay in the store, but no sweep reports them.
  public func unlinkedTrialCount() throws -> Int {
    try read { db in
      try Int.fetchOne(
        db,
        sql: """
          SELECT COUNT(*) FROM trials t
          WHERE NOT EXISTS (SELECT 1 FROM sweep_trials l WHERE l.trial_id = t.id)
          """) ?? 0
    }
  }

  /// Deletes one sweep definition: its row, its runs and its links. Its trials stay (with
  /// their results and attempts); those linked to no other sweep become unlinked
  /// (`unlinkedTrialCount`, `pruneUnlinkedTrials`). Returns how many trials were linked to it.
  @discardableResult
  public func deleteSweep(id sweepID: Int64) throws -> Int {
    try write { db in
      try Self.requireSweep(db, sweepID)
      try db.execute(sql: "DELETE FROM sweep_trials WHERE sweep_id = ?", arguments: [sweepID])
      let links = db.changesCount
      try db.execute(sql: "DELETE FROM sweep_runs WHERE sweep_id = ?", arguments: [sweepID])
      try db.execute(sql: "DELETE FROM sweeps WHERE id = ?", arguments: [sweepID])
      return links
    }
  }

  /// Writes a consistent copy of the store to `destination` (a new file; SQLite's
  /// `VACUUM INTO`), then keeps in that copy only the sweep
  /// definition `sweepID` and its trials, attempts and results: an archive that `status`,
  /// `report` and `export` read like any store. Returns the number of trials in it.
  public func archive(sweepID: Int64, to destination: String) throws -> Int {
    guard !FileManager.default.fileExists(atPath: destination) else {
      throw StoreError.database(path: destination, message: "the archive file exists already")
    }
    try read { db in try Self.requireSweep(db, sweepID) }
    do {
      try db.vacuum(into: destination)
    } catch {
      throw StoreError.database(path: destination, message: "\(error)")
    }
    let copy = try SweepStore(path: destination)
    let count: Int
    do {
      for other in try copy.sweeps() where other.id != sweepID {
        _ = try copy.deleteSweep(id: other.id)
      }
      try copy.pruneUnlinkedTrials()
      count = try copy.linkedTrialIDs(sweepID: sweepID).count
      try copy.close()
    } catch {
      try? copy.close()
      throw error
    }
    // One self-contained file: the WAL folded in and removed, no writer lock file left.
    do {
      let queue = try DatabaseQueue(path: destination)
      try queue.writeWithoutTransaction { db in
        try db.execute(sql: "PRAGMA journal_mode = DELETE")
        try db.execute(sql: "VACUUM")
      }
      try queue.close()
    } catch {
      throw StoreError.database(path: destination, message: "\(error)")
    }
    try? FileManager.default.removeItem(atPath: destination + ".lock")
    return count
  }

  /// Deletes the trials that belong to no sweep, with their results and attempts. Returns how
  /// many trials were deleted.
  @discardableResult
  public func pruneUnlinkedTrials() throws -> Int {
    try write { db in
      let unlinked =
        "SELECT id FROM trials t WHERE NOT EXISTS "
        + "(SELECT 1 FROM sweep_trials l WHERE l.trial_id = t.id)"
      try db.execute(sql: "DELETE FROM results WHERE trial_id IN (\(unlinked))")
      try db.execute(sql: "DELETE FROM attempts WHERE trial_id IN (\(unlinked))")
      try db.execute(sql: "DELETE FROM trials WHERE id IN (\(unlinked))")
      return db.changesCount
    }
  }

  /// The ids (hex) of the trials linked to a sweep.
  public func linkedTrialIDs(sweepID: Int64) throws -> [String] {
    try read { db in
      try String.fetchAll(
        db, sql: "SELECT trial_id FROM sweep_trials WHERE sweep_id = ?", arguments: [sweepID])
    }
  }

  /// Records a sweep's identity: its name in the file, the version of its definition under
  /// that name, and the definition's hash (`Sweep.definitionHash`).
  public func recordDefinition(sweepID: Int64, family: String, version: Int, hash: String) throws {
    try write { db in
      try Self.requireSweep(db, sweepID)
      try db.execute(
        sql: "UPDATE sweeps SET family = ?, version = ?, definition_hash = ? WHERE id = ?",
        arguments: [family, version, hash, sweepID])
    }
  }

  /// The trials of the sweep to hand out now, in sweep-file order: every `pending` trial, plus
  /// those `rerun` selects, plus trials left `running` by a crashed coordinator (reset to
  /// `pending`, their open attempts closed as `lost`). Trials with a result are skipped unless
  /// `rerun` selects them; see `RerunPolicy` for how a rerun's result replaces the old one.
  ///
  /// Call it once at sweep start, before any lease is handed out: it treats every open attempt
  /// of the sweep as lost.
  public func trialsToRun(sweepID: Int64, rerun: RerunPolicy = .none) throws -> [PlannedTrial] {
    try write { db in
      try Self.requireSweep(db, sweepID)
      let now = Date()
      try Self.recoverInterrupted(db, sweepID: sweepID, at: now)
      let states: [String]
      switch rerun {
      case .none: states = []
      case .failed: states = [TrialState.failed.rawValue]
      case .diverged: states = [TrialState.diverged.rawValue]
      case .all:
        states = [TrialState.done, .diverged, .failed].map(\.rawValue)
      }
      if !states.isEmpty {
        let inStates = states.map { "'\($0)'" }.joined(separator: ", ")
        let selected = """
          SELECT t.id FROM trials t JOIN sweep_trials l ON l.trial_id = t.id
          WHERE l.sweep_id = ? AND t.state IN (\(inStates))
          """
        try db.execute(
          sql: """
            UPDATE results SET superseded_at = ?
            WHERE superseded_at IS NULL AND trial_id IN (\(selected))
            """, arguments: [now, sweepID])
        try db.execute(
          sql: "UPDATE trials SET state = 'pending', updated_at = ? WHERE id IN (\(selected))",
          arguments: [now, sweepID])
      }
      let rows = try Row.fetchAll(
        db,
        sql: """
          SELECT t.id, t.config, l.relative_cost FROM sweep_trials l
          JOIN trials t ON t.id = l.trial_id
          WHERE l.sweep_id = ? AND t.state = 'pending' ORDER BY l.position
          """, arguments: [sweepID])
      let known = planned.withLock { $0 }
      return try rows.map { row in
        let hex = try row.decode(String.self, atIndex: 0)
        let cost = try row.decode(Double.self, atIndex: 2)
        // Planned by this writer: the trial (id and config) is at hand, shared, not copied.
        if let t = known.trial(hex: hex) {
          return PlannedTrial(id: t.id, config: t.config, relativeCost: cost)
        }
        let id = try self.trialID(hex)
        let config = try StoreJSON.decode(
          TrialConfig.self, try row.decode(String.self, atIndex: 1), path: path,
          what: "configuration of trial \(id.short)"
        ).normalized()
        // The stored id is authoritative (a store written under older id rules keeps its ids).
        return PlannedTrial(id: id, config: config, relativeCost: cost)
      }
    }
  }

  // MARK: Attempts and results

  /// Group commit: runs `body` with every change it makes through this store (attempts,
  /// results, failures) in ONE immediate transaction, committed, and synced to disk once
  /// (`synchronous = FULL`), when `body` returns. Nothing of it is visible to readers or
  /// durable before that, so a caller must not tell anyone about those changes (acknowledge a
  /// result) until `batch` has returned. If `body` or the commit throws, every change of the
  /// batch is rolled back and the error is rethrown (classified like any write: a full disk is
  /// `StoreError.unavailable(kind: .full)`). Nested batches join the outer one.
  public func batch<T>(_ body: () throws -> T) throws -> T {
    try write { _ in try body() }
  }

  /// Records that `worker` on `host` leased attempt `attempt` of `trial`; the trial becomes
  /// `running` unless it already has a result.
  public func attemptStarted(
    trial: TrialID, attempt: Int, worker: String, host: String, at: Date
  ) throws {
    let at = StoreDate.text(at)
    try write { db in
      // Two statements: the trial's state (unless it has a result), then the attempt row. A
      // trial the update did not touch is read back only to tell a finished trial from an
      // unknown one.
      try db.run(
        sql: """
          UPDATE trials SET state = 'running', updated_at = ?1
          WHERE id = ?2 AND state NOT IN ('done', 'diverged')
          """, arguments: [at, trial.hex])
      if db.changesCount == 0 { _ = try Self.state(db, trial) }
      try db.run(
        sql: """
          INSERT INTO attempts (trial_id, attempt, worker, host, leased, started_at)
          VALUES (?, ?, ?, ?, 1, ?)
          """, arguments: [trial.hex, attempt, worker, host, at])
    }
  }

  /// Records how an attempt ended without a result (or confirms a commit). The open attempt
  /// `attempt` of `trial` is closed; if none is open, a closed attempt row is added. A `running`
  /// trial with no other open attempt goes back to `pending`; `error` becomes its last error.
  public func attemptEnded(
    trial: TrialID, attempt: Int, outcome: AttemptOutcome, error: String?, at: Date
  ) throws {
    let at = StoreDate.text(at)
    try write { db in
      _ = try Self.state(db, trial)
      try Self.closeAttempt(
        db, trial: trial, attempt: attempt, worker: nil, outcome: outcome, error: error, at: at)
      if let error {
        try db.run(
          sql: "UPDATE trials SET last_error = ?, updated_at = ? WHERE id = ?",
          arguments: [error, at, trial.hex])
      }
      try db.run(
        sql: """
          UPDATE trials SET state = 'pending', updated_at = ?
          WHERE id = ? AND state = 'running'
            AND NOT EXISTS (SELECT 1 FROM attempts WHERE trial_id = ? AND outcome IS NULL)
          """, arguments: [at, trial.hex, trial.hex])
    }
  }

  /// Commits `result` as the result of `trial`, in one transaction, exactly once: if the trial
  /// already has a result, this one is recorded as a `duplicate` attempt and nothing else
  /// changes. Otherwise the result is stored, the attempt is marked `committed`, and the trial
  /// becomes `done` (or `diverged` when training diverged). A late result for a `failed` trial
  /// is accepted.
  ///
  /// The attempt row: the open lease `attempt` of `worker` is closed. Without one, a lease of
  /// `worker` that the store closed as `lost` (the coordinator restarted while it ran) takes
  /// the outcome, so the lease keeps one row; otherwise (a result adopted from an earlier
  /// coordinator's lease under a fresh attempt number) a row is added for `worker` on `host`
  /// (nil or empty: the host of the worker's latest row).
  ///
  /// The store is the last line of defence and refuses, before touching the database, results
  /// that are not science: stop reason `cancelled` (`StoreError.cancelledResult`); null-trial
  /// results unless the store accepts them (`.nullResult`); a configuration that does not hash
  /// to `trial` (`.configMismatch`); values that are not possible measurements
  /// (`.invalidResult`, see `TrialResult.validationProblems()`). When the store cannot take
  /// writes it throws `.unavailable` and nothing changed.
  @discardableResult
  public func commit(
    trial: TrialID, attempt: Int, worker: String, host: String? = nil, result: TrialResult,
    at: Date
  ) throws -> CommitOutcome {
    guard result.training.stopReason != .cancelled else {
      throw StoreError.cancelledResult(trial.short)
    }
    if result.isNullTrial && !acceptsNullResults {
      throw StoreError.nullResult(path: path, trial: trial.short)
    }
    // Equal to the planned config: it hashes to `trial` (checked when planned). Else hash it.
    let planned = self.planned.withLock { $0.config(of: trial) == result.config }
    if !planned {
      let resultTrial = TrialID(config: result.config)
      guard resultTrial == trial else {
        throw StoreError.configMismatch(trial: trial.short, resultTrial: resultTrial.short)
      }
    }
    let problems = result.validationProblems()
    guard problems.isEmpty else {
      throw StoreError.invalidResult(trial: trial.short, problems: problems)
    }
    let training = StoreJSON.training(result.training)
    let compression = try result.compression.map { try StoreJSON.encode($0) }
    // A planned config is already in the trial's row, as this text: copied in SQL below.
    let config = planned ? nil : StoreJSON.config(result.config)
    let at = StoreDate.text(at)
    let t = result.training
    let state: TrialState = t.stopReason == .diverged ? .diverged : .done
    return try write { db in
      // The trial becomes done unless it has a current result: one statement decides. A trial
      // the update did not touch is read back only to tell a duplicate from an unknown trial.
      try db.run(
        sql: """
          UPDATE trials SET state = ?1, updated_at = ?2
          WHERE id = ?3
            AND NOT EXISTS (SELECT 1 FROM results WHERE trial_id = ?3 AND superseded_at IS NULL)
          """, arguments: [state.rawValue, at, trial.hex])
      if db.changesCount == 0 {
        _ = try Self.state(db, trial)
        try Self.closeAttempt(
          db, trial: trial, attempt: attempt, worker: worker, host: host, outcome: .duplicate,
          error: nil, at: at)
        return .duplicate
      }
      let c = result.compression
      try db.run(
        sql: """
          INSERT INTO results (trial_id, attempt, worker, committed_at, config, training,
            compression, dataset_hash, stop_reason, iterations, diverged_at, wall_seconds,
            train_loss, train_accuracy, test_loss, test_accuracy, pruning_ratio,
            unpruned_test_accuracy, pruned_test_accuracy, pruned_train_accuracy)
          VALUES (?1, ?, ?, ?, COALESCE(?5, (SELECT config FROM trials WHERE id = ?1)), ?, ?, ?,
            ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          trial.hex, attempt, worker, at, config, training, compression, result.datasetHash,
          t.stopReason.rawValue, t.iterations, t.divergedAt, t.wallSeconds,
          t.final?.trainLoss, t.final?.trainAccuracy, t.final?.testLoss, t.final?.testAccuracy,
          c?.pruningRatio, c?.unpruned.testAccuracy, c?.pruned.testAccuracy,
          c?.pruned.trainAccuracy,
        ])
      try Self.closeAttempt(
        db, trial: trial, attempt: attempt, worker: worker, host: host, outcome: .committed,
        error: nil, at: at)
      return .committed
    }
  }

  /// Gives up on `trial` (retry cap reached): it becomes `failed` with `error` as its last
  /// error. A trial that already has a result keeps it and its state.
  public func markFailed(trial: TrialID, error: String) throws {
    try write { db in
      _ = try Self.state(db, trial)
      try db.execute(
        sql: """
          UPDATE trials SET state = 'failed', last_error = ?, updated_at = ?
          WHERE id = ? AND state NOT IN ('done', 'diverged')
          """, arguments: [error, Date(), trial.hex])
    }
  }

  // MARK: Reading

  /// Trial counts by state and per-worker activity, for one sweep or (nil) the whole store.
  public func status(sweepID: Int64?) throws -> StoreStatus {
    try read { db in
      if let sweepID { try Self.requireSweep(db, sweepID) }
      var counts: [TrialState: Int] = [:]
      for s in TrialState.allCases { counts[s] = 0 }
      let countRows = try Row.fetchAll(
        db,
        sql: """
          SELECT state, COUNT(*) FROM trials
          WHERE ?1 IS NULL OR id IN (SELECT trial_id FROM sweep_trials WHERE sweep_id = ?1)
          GROUP BY state
          """, arguments: [sweepID])
      for row in countRows {
        let name = try row.decode(String.self, atIndex: 0)
        guard let state = TrialState(rawValue: name) else {
          throw StoreError.corrupt(path: path, detail: "unknown trial state '\(name)'")
        }
        counts[state] = try row.decode(Int.self, atIndex: 1)
      }
      let workerRows = try Row.fetchAll(
        db,
        sql: """
          SELECT a.worker,
            (SELECT b.host FROM attempts b WHERE b.worker = a.worker ORDER BY b.id DESC LIMIT 1),
            SUM(a.leased),
            SUM(CASE WHEN a.leased = 1 AND a.outcome IS NULL THEN 1 ELSE 0 END),
            SUM(CASE WHEN a.outcome = 'committed' THEN 1 ELSE 0 END),
            SUM(CASE WHEN a.outcome = 'duplicate' THEN 1 ELSE 0 END),
            SUM(CASE WHEN a.outcome IN ('failed', 'lost', 'timedOut', 'crashed') THEN 1 ELSE 0 END),
            MAX(MAX(COALESCE(a.started_at, '')), MAX(COALESCE(a.ended_at, '')))
          FROM attempts a
          WHERE ?1 IS NULL OR a.trial_id IN (SELECT trial_id FROM sweep_trials WHERE sweep_id = ?1)
          GROUP BY a.worker ORDER BY a.worker
          """, arguments: [sweepID])
      let workers = try workerRows.map { row in
        let seen = try row.decode(String.self, atIndex: 7)
        return WorkerActivity(
          worker: try row.decode(String.self, atIndex: 0),
          host: try row.decode(String?.self, atIndex: 1) ?? "",
          attempts: try row.decode(Int.self, atIndex: 2),
          running: try row.decode(Int.self, atIndex: 3),
          committed: try row.decode(Int.self, atIndex: 4),
          duplicates: try row.decode(Int.self, atIndex: 5),
          failed: try row.decode(Int.self, atIndex: 6),
          lastSeen: seen.isEmpty ? nil : Date.fromDatabaseValue(seen.databaseValue))
      }
      return StoreStatus(counts: counts, workers: workers)
    }
  }

  /// The attempt history of one trial, of one worker, or (both nil) of the store, in the order
  /// the rows were made.
  public func attempts(trial: TrialID? = nil, worker: String? = nil) throws -> [AttemptRecord] {
    try read { db in
      try Row.fetchAll(
        db,
        sql: """
          SELECT trial_id, attempt, worker, host, leased, started_at, ended_at, outcome, error
          FROM attempts WHERE (?1 IS NULL OR trial_id = ?1) AND (?2 IS NULL OR worker = ?2)
          ORDER BY id
          """, arguments: [trial?.hex, worker]
      ).map { row in
        let hex = try row.decode(String.self, atIndex: 0)
        guard let id = TrialID(hex: hex) else {
          throw StoreError.corrupt(path: path, detail: "attempt of a malformed trial id '\(hex)'")
        }
        let outcome = try row.decode(String?.self, atIndex: 7)
        let parsed = try outcome.map { name in
          guard let o = AttemptOutcome(rawValue: name) else {
            throw StoreError.corrupt(path: path, detail: "unknown attempt outcome '\(name)'")
          }
          return o
        }
        return AttemptRecord(
          trial: id, attempt: try row.decode(Int.self, atIndex: 1),
          worker: try row.decode(String.self, atIndex: 2),
          host: try row.decode(String.self, atIndex: 3),
          leased: try row.decode(Int.self, atIndex: 4) == 1,
          startedAt: try row.decode(Date?.self, atIndex: 5),
          endedAt: try row.decode(Date?.self, atIndex: 6), outcome: parsed,
          error: try row.decode(String?.self, atIndex: 8))
      }
    }
  }

  /// The leases open now (attempts started and not ended), of the trials of sweep `sweepID`
  /// (nil: every sweep), oldest first: what is running, where, since when.
  public func openAttempts(sweepID: Int64?) throws -> [AttemptRecord] {
    try read { db in
      let filter =
        sweepID == nil
        ? "" : "AND trial_id IN (SELECT trial_id FROM sweep_trials WHERE sweep_id = ?)"
      // Stores older than the progress columns (opened read-only, not migrated) have none.
      let progress =
        try Schema.hasAttemptProgress(db)
        ? "iteration, max_iterations, progress_at" : "NULL, NULL, NULL"
      return try Row.fetchAll(
        db,
        sql: """
          SELECT trial_id, attempt, worker, host, started_at, \(progress) FROM attempts
          WHERE leased = 1 AND ended_at IS NULL \(filter) ORDER BY id
          """, arguments: sweepID.map { [$0] } ?? []
      ).map { row in
        AttemptRecord(
          trial: try self.trialID(row.decode(String.self, atIndex: 0)),
          attempt: try row.decode(Int.self, atIndex: 1),
          worker: try row.decode(String.self, atIndex: 2),
          host: try row.decode(String.self, atIndex: 3), leased: true,
          startedAt: try row.decode(Date?.self, atIndex: 4), endedAt: nil, outcome: nil,
          error: nil, iteration: try row.decode(Int?.self, atIndex: 5),
          maxIterations: try row.decode(Int?.self, atIndex: 6),
          progressAt: try row.decode(Date?.self, atIndex: 7))
      }
    }
  }

  /// The error of an attempt that was open when its coordinator stopped (start-up recovery
  /// closes it `lost` with this error).
  public static let interruptedAttemptError = "the coordinator stopped while this attempt ran"

  /// The leases a coordinator's stop interrupted and nothing replaced since: of each pending
  /// trial of sweep `sweepID` whose latest attempt is a lease closed by start-up recovery
  /// (`interruptedAttemptError`), that attempt. Its worker may still compute it (remote
  /// workers outlive a coordinator). Read after `trialsToRun`, before any lease is handed out.
  public func interruptedAttempts(sweepID: Int64) throws -> [AttemptRecord] {
    try read { db in
      try Row.fetchAll(
        db,
        sql: """
          SELECT a.trial_id, a.attempt, a.worker, a.host, a.started_at, a.ended_at FROM attempts a
          JOIN sweep_trials l ON l.trial_id = a.trial_id AND l.sweep_id = ?1
          JOIN trials t ON t.id = a.trial_id AND t.state = 'pending'
          WHERE a.leased = 1 AND a.outcome = 'lost' AND a.error = ?2
            AND a.id = (SELECT MAX(b.id) FROM attempts b WHERE b.trial_id = a.trial_id)
          ORDER BY a.id
          """, arguments: [sweepID, Self.interruptedAttemptError]
      ).map { row in
        AttemptRecord(
          trial: try self.trialID(row.decode(String.self, atIndex: 0)),
          attempt: try row.decode(Int.self, atIndex: 1),
          worker: try row.decode(String.self, atIndex: 2),
          host: try row.decode(String.self, atIndex: 3), leased: true,
          startedAt: try row.decode(Date?.self, atIndex: 4),
          endedAt: try row.decode(Date?.self, atIndex: 5), outcome: .lost,
          error: Self.interruptedAttemptError)
      }
    }
  }

  /// Records the latest progress of open leases (`openAttempts` reads it back). Entries whose
  /// attempt is closed or unknown are ignored: progress is for display only.
  public func recordProgress(_ entries: [AttemptProgress]) throws {
    guard !entries.isEmpty else { return }
    try write { db in
      for e in entries {
        try db.run(
          sql: """
            UPDATE attempts SET iteration = ?, max_iterations = ?, progress_at = ?
            WHERE trial_id = ? AND attempt = ? AND leased = 1 AND ended_at IS NULL
            """, arguments: [e.iteration, e.maxIterations, e.at, e.trial.hex, e.attempt])
      }
    }
  }

  /// Records the liveness of `entries` (one row per worker id, replaced by each recording;
  /// `workers(seenSince:)` reads it back). One prepared statement, run once per entry: the
  /// coordinator calls this inside its group commit, at most about once a second.
  public func recordWorkers(_ entries: [WorkerLiveness]) throws {
    guard !entries.isEmpty else { return }
    try write { db in
      let statement = try db.cachedStatement(
        sql: """
          INSERT INTO workers (id, host, slots, registered_at, last_seen, state)
          VALUES (?, ?, ?, ?, ?, ?)
          ON CONFLICT (id) DO UPDATE SET host = excluded.host, slots = excluded.slots,
            registered_at = excluded.registered_at, last_seen = excluded.last_seen,
            state = excluded.state
          """)
      for e in entries {
        try statement.execute(arguments: [
          e.worker, e.host, e.slots, e.registeredAt, e.lastSeen, e.state.rawValue,
        ])
      }
    }
  }

  /// The workers recorded by coordinators, those last heard from at or after `since` (nil:
  /// all), by worker id. A store older than the table (opened read-only) has none.
  public func workers(seenSince since: Date? = nil) throws -> [WorkerLiveness] {
    try read { db in
      guard try Schema.hasWorkers(db) else { return [] }
      return try Row.fetchAll(
        db,
        sql: """
          SELECT id, host, slots, registered_at, last_seen, state FROM workers
          WHERE ?1 IS NULL OR last_seen >= ?1 ORDER BY id
          """, arguments: [since]
      ).map { row in
        let name = try row.decode(String.self, atIndex: 5)
        guard let state = WorkerLivenessState(rawValue: name) else {
          throw StoreError.corrupt(path: path, detail: "unknown worker state '\(name)'")
        }
        return WorkerLiveness(
          worker: try row.decode(String.self, atIndex: 0),
          host: try row.decode(String.self, atIndex: 1),
          slots: try row.decode(Int.self, atIndex: 2),
          registeredAt: try row.decode(Date.self, atIndex: 3),
          lastSeen: try row.decode(Date.self, atIndex: 4), state: state)
      }
    }
  }

  /// One row per trial (of one sweep in sweep-file order, or nil: every trial in the store in
  /// the order trials were first added),
  /// with its current result decoded from the stored JSON.
  public func rows(sweepID: Int64?) throws -> [TrialRow] {
    try read { db in
      let from: String
      let arguments: StatementArguments
      if let sweepID {
        try Self.requireSweep(db, sweepID)
        from = """
          FROM sweep_trials l JOIN trials t ON t.id = l.trial_id
          LEFT JOIN results r ON r.trial_id = t.id AND r.superseded_at IS NULL
          WHERE l.sweep_id = ? ORDER BY l.position
          """
        arguments = [sweepID]
      } else {
        from = """
          FROM trials t LEFT JOIN results r ON r.trial_id = t.id AND r.superseded_at IS NULL
          ORDER BY t.rowid
          """
        arguments = []
      }
      let rows = try Row.fetchAll(
        db,
        sql: """
          SELECT t.id, t.config, t.state, t.last_error,
            (SELECT COUNT(*) FROM attempts a WHERE a.trial_id = t.id AND a.leased = 1),
            r.id, r.config, r.training, r.compression, r.dataset_hash
          \(from)
          """, arguments: arguments)
      return try rows.map { row in try self.trialRow(row) }
    }
  }

  /// When each trial of sweep `sweepID` (nil: every trial) first started and was committed.
  public func trialTimes(sweepID: Int64?) throws -> [TrialID: TrialTimes] {
    try read { db in
      let filter =
        sweepID == nil ? "" : "WHERE t.id IN (SELECT trial_id FROM sweep_trials WHERE sweep_id = ?)"
      let rows = try Row.fetchAll(
        db,
        sql: """
          SELECT t.id,
            (SELECT MIN(a.started_at) FROM attempts a WHERE a.trial_id = t.id),
            (SELECT r.committed_at FROM results r
              WHERE r.trial_id = t.id AND r.superseded_at IS NULL)
          FROM trials t \(filter)
          """, arguments: sweepID.map { [$0] } ?? [])
      var out: [TrialID: TrialTimes] = [:]
      for row in rows {
        let id = try self.trialID(row.decode(String.self, atIndex: 0))
        out[id] = TrialTimes(
          firstStarted: try row.decode(Date?.self, atIndex: 1),
          committed: try row.decode(Date?.self, atIndex: 2))
      }
      return out
    }
  }

  /// Checks the file and the store's invariants; returns the problems found (empty: sound).
  /// Checked: SQLite's integrity and foreign keys; a current result exists exactly for trials
  /// `done` or `diverged`, and agrees with the state; every result decodes and has its
  /// `committed` attempt.
  /// The highest attempt number recorded per trial of sweep `sweepID`: a resumed run numbers
  /// its attempts after it, so no attempt number is used twice.
  public func highestAttempts(sweepID: Int64) throws -> [TrialID: Int] {
    try read { db in
      try Self.requireSweep(db, sweepID)
      var out: [TrialID: Int] = [:]
      for row in try Row.fetchAll(
        db,
        sql: """
          SELECT a.trial_id, MAX(a.attempt) FROM attempts a
          JOIN sweep_trials l ON l.trial_id = a.trial_id
          WHERE l.sweep_id = ? GROUP BY a.trial_id
          """, arguments: [sweepID])
      {
        out[try trialID(try row.decode(String.self, atIndex: 0))] = try row.decode(
          Int.self, atIndex: 1)
      }
      return out
    }
  }

  /// Per trial that has any: how many result rows (current or superseded) and how many
  /// attempts ended `committed`. Without reruns both are 1 for every finished trial; more is a
  /// duplicate commit (the chaos runner counts them).
  public func commitCounts() throws -> [TrialID: (results: Int, committed: Int)] {
    try read { db in
      var out: [TrialID: (results: Int, committed: Int)] = [:]
      for row in try Row.fetchAll(
        db, sql: "SELECT trial_id, COUNT(*) FROM results GROUP BY trial_id")
      {
        let id = try trialID(try row.decode(String.self, atIndex: 0))
        out[id, default: (0, 0)].results = try row.decode(Int.self, atIndex: 1)
      }
      for row in try Row.fetchAll(
        db,
        sql: "SELECT trial_id, COUNT(*) FROM attempts WHERE outcome = 'committed' GROUP BY trial_id"
      ) {
        let id = try trialID(try row.decode(String.self, atIndex: 0))
        out[id, default: (0, 0)].committed = try row.decode(Int.self, atIndex: 1)
      }
      return out
    }
  }

  public func verify() throws -> [String] {
    try read { db in
      var problems: [String] = []
      let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
      if integrity != ["ok"] { problems += integrity.map { "integrity_check: \($0)" } }
      let fk = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
      if !fk.isEmpty { problems.append("foreign_key_check: \(fk.count) dangling references") }
      let mismatched = try Row.fetchAll(
        db,
        sql: """
          SELECT t.id, t.state, r.stop_reason FROM trials t
          LEFT JOIN results r ON r.trial_id = t.id AND r.superseded_at IS NULL
          WHERE (r.id IS NULL AND t.state IN ('done', 'diverged'))
             OR (r.id IS NOT NULL AND t.state NOT IN ('done', 'diverged'))
             OR (t.state = 'diverged' AND r.stop_reason <> 'diverged')
             OR (t.state = 'done' AND r.stop_reason = 'diverged')
          """)
      for row in mismatched {
        let id = try row.decode(String.self, atIndex: 0)
        let state = try row.decode(String.self, atIndex: 1)
        let stop = try row.decode(String?.self, atIndex: 2)
        problems.append(
          "trial \(id.prefix(12)): state \(state) but current result \(stop ?? "none")")
      }
      let orphans = try String.fetchAll(
        db,
        sql: """
          SELECT r.trial_id FROM results r WHERE NOT EXISTS (
            SELECT 1 FROM attempts a WHERE a.trial_id = r.trial_id AND a.attempt = r.attempt
              AND a.outcome = 'committed')
          """)
      for id in orphans {
        problems.append("trial \(id.prefix(12)): result without a committed attempt")
      }
      let stuck = try String.fetchAll(
        db,
        sql: """
          SELECT t.id FROM trials t WHERE t.state = 'running' AND NOT EXISTS (
            SELECT 1 FROM attempts a WHERE a.trial_id = t.id AND a.outcome IS NULL)
          """)
      for id in stuck { problems.append("trial \(id.prefix(12)): running without an open attempt") }
      let results = try Row.fetchAll(
        db, sql: "SELECT trial_id, config, training, compression FROM results")
      for row in results {
        let id = try row.decode(String.self, atIndex: 0)
        do {
          _ = try StoreJSON.decode(
            TrialConfig.self, try row.decode(String.self, atIndex: 1), path: path, what: id)
          _ = try StoreJSON.decode(
            TrainingSummary.self, try row.decode(String.self, atIndex: 2), path: path, what: id)
          if let c = try row.decode(String?.self, atIndex: 3) {
            _ = try StoreJSON.decode(CompressionReport.self, c, path: path, what: id)
          }
        } catch {
          problems.append("trial \(id.prefix(12)): result does not decode: \(error)")
        }
      }
      return problems
    }
  }

  // MARK: Internals

  /// Runs `body` in one immediate transaction on the writer. SQLite failures become
  /// `StoreError.unavailable` when the store cannot take writes now (see `classify`), else
  /// `.database`; the transaction is rolled back either way.
  ///
  /// Inside `batch(_:)` it runs in the batch's transaction instead (GRDB's reentrant write on
  /// the same writer queue), so that many changes share one commit and one sync.
  private func write<T>(_ body: (Database) throws -> T) throws -> T {
    if isReadOnly { throw StoreError.readOnly(path: path) }
    var systemErrno: Int32 = 0
    do {
      return try db.unsafeReentrantWrite { db in
        do {
          // Part of an open batch: its transaction holds this change, its commit syncs it.
          if db.isInsideTransaction { return try body(db) }
          var result: T?
          try db.inTransaction(.immediate) {
            result = try body(db)
            return .commit
          }
          guard let result else {
            throw StoreError.database(path: path, message: "the transaction returned no value")
          }
          return result
        } catch let e as DatabaseError {
          // The errno of the failed system call, before anything else touches the connection
          // (it tells a full disk or a read-only file system behind SQLITE_IOERR).
          systemErrno = sqlite3_system_errno(db.sqliteConnection)
          throw e
        }
      }
    } catch let e as StoreError {
      throw e
    } catch let e as DatabaseError {
      throw Self.classify(e, systemErrno: systemErrno, path: path, busyTimeout: busyTimeout)
        ?? StoreError.database(path: path, message: "\(e)")
    } catch {
      throw StoreError.database(path: path, message: "\(error)")
    }
  }

  private func read<T>(_ body: (Database) throws -> T) throws -> T {
    do {
      return try db.read(body)
    } catch let e as StoreError {
      throw e
    } catch let e as DatabaseError {
      // A read of the writer (e.g. busy while another process recovers the WAL) is classified
      // like a write; read-only opens (`status`, reports) keep SQLite's plain message.
      let unavailable =
        isReadOnly ? nil : Self.classify(e, systemErrno: 0, path: path, busyTimeout: busyTimeout)
      throw unavailable ?? StoreError.database(path: path, message: "\(e)")
    } catch {
      throw StoreError.database(path: path, message: "\(error)")
    }
  }

  /// `StoreError.unavailable` for the SQLite failures that mean "the store cannot take writes
  /// now" (the trial and its result are not at fault); nil for every other failure.
  ///
  /// - Parameter systemErrno: `sqlite3_system_errno` right after the failure (0: unknown).
  static func classify(
    _ error: DatabaseError, systemErrno: Int32, path: String, busyTimeout: TimeInterval
  ) -> StoreError? {
    var message = error.message ?? "\(error.resultCode)"
    if systemErrno != 0 {
      message += " (errno \(systemErrno): \(String(cString: strerror(systemErrno))))"
    }
    let kind: StoreError.UnavailableKind
    switch error.resultCode {
    case .SQLITE_FULL:
      kind = .full
    case .SQLITE_READONLY:
      kind = .readOnly
    case .SQLITE_BUSY, .SQLITE_LOCKED:
      kind = .busy
      message += " after waiting \(busyTimeout) s"
    case .SQLITE_IOERR, .SQLITE_CANTOPEN:
      switch systemErrno {
      case ENOSPC, EDQUOT: kind = .full
      case EROFS, EACCES, EPERM: kind = .readOnly
      default:
        // SQLITE_CANTOPEN for another reason (a missing folder, too many open files) is no
        // state of the store.
        guard error.resultCode == .SQLITE_IOERR else { return nil }
        kind = .io
      }
    default:
      return nil
    }
    return .unavailable(path: path, kind: kind, message: message)
  }

  /// Runs `body` on the writer connection outside any transaction. For tests (through
  /// `@testable import`) that set connection pragmas such as `max_page_count` or
  /// `query_only` to make the store full or read-only for real.
  func withWriterConnection<T>(_ body: (Database) throws -> T) throws -> T {
    if isReadOnly { throw StoreError.readOnly(path: path) }
    return try db.writeWithoutTransaction(body)
  }

  private func trialID(_ hex: String) throws -> TrialID {
    guard let id = TrialID(hex: hex) else {
      throw StoreError.corrupt(path: path, detail: "bad trial id '\(hex)'")
    }
    return id
  }

  private func trialRow(_ row: Row) throws -> TrialRow {
    let id = try trialID(row.decode(String.self, atIndex: 0))
    let config = try StoreJSON.decode(
      TrialConfig.self, try row.decode(String.self, atIndex: 1), path: path,
      what: "configuration of trial \(id.short)")
    let stateName = try row.decode(String.self, atIndex: 2)
    guard let state = TrialState(rawValue: stateName) else {
      throw StoreError.corrupt(
        path: path, detail: "trial \(id.short): unknown state '\(stateName)'")
    }
    var result: TrialResult?
    if try row.decode(Int64?.self, atIndex: 5) != nil {
      let what = "result of trial \(id.short)"
      let resultConfig = try StoreJSON.decode(
        TrialConfig.self, try row.decode(String.self, atIndex: 6), path: path, what: what)
      let training = try StoreJSON.decode(
        TrainingSummary.self, try row.decode(String.self, atIndex: 7), path: path, what: what)
      let compression = try row.decode(String?.self, atIndex: 8).map {
        try StoreJSON.decode(CompressionReport.self, $0, path: path, what: what)
      }
      result = TrialResult(
        config: resultConfig, training: training, compression: compression,
        datasetHash: try row.decode(String?.self, atIndex: 9))
    }
    return TrialRow(
      id: id, config: config, state: state, attempts: try row.decode(Int.self, atIndex: 4),
      result: result, lastError: try row.decode(String?.self, atIndex: 3))
  }

  private static func state(_ db: Database, _ trial: TrialID) throws -> TrialState {
    guard
      let name = try String.fetchOne(
        try db.cachedStatement(sql: "SELECT state FROM trials WHERE id = ?"), arguments: [trial.hex]
      )
    else { throw StoreError.unknownTrial(trial.short) }
    return TrialState(rawValue: name) ?? .pending
  }

  private static func requireSweep(_ db: Database, _ sweepID: Int64) throws {
    let exists =
      try Bool.fetchOne(
        try db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM sweeps WHERE id = ?)"),
        arguments: [sweepID])
      ?? false
    if !exists { throw StoreError.unknownSweep(sweepID) }
  }

  /// Closes the latest open attempt `attempt` of `trial` (of `worker`, when given) with
  /// `outcome`. With none open, a result (`committed` or `duplicate`) of `worker` closes the
  /// latest row of that lease closed as `lost` instead (the worker went silent, or the
  /// coordinator restarted while the lease ran; the result shows it was not lost), so a lease
  /// keeps one row; its error keeps the loss. Otherwise a
  /// closed, non-leased attempt row is added, on `host` when given (and not empty).
  private static func closeAttempt(
    _ db: Database, trial: TrialID, attempt: Int, worker: String?, host givenHost: String? = nil,
    outcome: AttemptOutcome, error: String?, at: String
  ) throws {
    // The latest open row of the lease, closed in one statement.
    try db.run(
      sql: """
        UPDATE attempts SET outcome = ?1, ended_at = ?2, error = ?3
        WHERE id = (
          SELECT id FROM attempts WHERE trial_id = ?4 AND attempt = ?5 AND outcome IS NULL
            AND (?6 IS NULL OR worker = ?6)
          ORDER BY id DESC LIMIT 1)
        """, arguments: [outcome.rawValue, at, error, trial.hex, attempt, worker])
    if db.changesCount > 0 { return }
    if let worker, outcome == .committed || outcome == .duplicate,
      let lost = try Int64.fetchOne(
        try db.cachedStatement(
          sql: """
            SELECT id FROM attempts WHERE trial_id = ? AND attempt = ? AND worker = ?
              AND outcome = 'lost'
            ORDER BY id DESC LIMIT 1
            """), arguments: [trial.hex, attempt, worker])
    {
      try db.run(
        sql: """
          UPDATE attempts SET outcome = ?, ended_at = ?,
            error = COALESCE(?, 'declared lost' || COALESCE(' (' || error || ')', '')
              || '; its result came later')
          WHERE id = ?
          """, arguments: [outcome.rawValue, at, error, lost])
      return
    }
    // Nothing open: who ran it? The latest row of this attempt, else the worker's last host.
    var who = worker ?? ""
    var host = ""
    if let row = try Row.fetchOne(
      try db.cachedStatement(
        sql: """
          SELECT worker, host FROM attempts WHERE trial_id = ? AND attempt = ?
            AND (?3 IS NULL OR worker = ?3)
          ORDER BY id DESC LIMIT 1
          """), arguments: [trial.hex, attempt, worker])
    {
      who = try row.decode(String.self, atIndex: 0)
      host = try row.decode(String.self, atIndex: 1)
    } else if let worker,
      let h = try String.fetchOne(
        try db.cachedStatement(
          sql: "SELECT host FROM attempts WHERE worker = ? ORDER BY id DESC LIMIT 1"),
        arguments: [worker])
    {
      host = h
    }
    if let givenHost, !givenHost.isEmpty { host = givenHost }
    try db.run(
      sql: """
        INSERT INTO attempts (trial_id, attempt, worker, host, leased, ended_at, outcome, error)
        VALUES (?, ?, ?, ?, 0, ?, ?, ?)
        """, arguments: [trial.hex, attempt, who, host, at, outcome.rawValue, error])
  }

  /// Trials left `running` (of one sweep, or all) go back to `pending`; open attempts are `lost`.
  private static func recoverInterrupted(_ db: Database, sweepID: Int64?, at: Date) throws {
    try db.execute(
      sql: """
        UPDATE attempts SET outcome = 'lost', ended_at = ?2,
          error = COALESCE(error, ?3)
        WHERE outcome IS NULL
          AND (?1 IS NULL OR trial_id IN (SELECT trial_id FROM sweep_trials WHERE sweep_id = ?1))
        """, arguments: [sweepID, at, Self.interruptedAttemptError])
    try db.execute(
      sql: """
        UPDATE trials SET state = 'pending', updated_at = ?2
        WHERE state = 'running'
          AND (?1 IS NULL OR id IN (SELECT trial_id FROM sweep_trials WHERE sweep_id = ?1))
        """, arguments: [sweepID, at])
  }

  private static func seedValue(_ seed: UInt64) -> DatabaseValue {
    if let s = Int64(exactly: seed) { return s.databaseValue }
    return String(seed).databaseValue
  }

  private static func userTableCount(_ db: Database) throws -> Int {
    try Int.fetchOne(
      db,
      sql: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ) ?? 0
  }

  /// Refuses files that are not TailSweep stores or were migrated by a newer build.
  private static func checkIdentity(_ db: Database, path: String) throws {
    let appID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
    let migrator = Schema.migrator
    // GRDB commits its migration log before the first migration (which sets the application
    // id): a writer killed in between leaves that empty log alone, a store not yet created.
    var tables = try userTableCount(db)
    if try tables == 1 && db.tableExists("grdb_migrations")
      && migrator.appliedIdentifiers(db).isEmpty
    {
      tables = 0
    }
    if appID != Schema.applicationID && tables > 0 { throw StoreError.notAStore(path: path) }
    if try migrator.hasBeenSuperseded(db) {
      let unknown = try migrator.appliedIdentifiers(db).subtracting(migrator.migrations)
      throw StoreError.futureSchema(path: path, unknownSteps: unknown.sorted())
    }
  }

  /// `openError`, with the one read-only case SQLite explains badly: a WAL store in a folder
  /// where the `-shm` file cannot be created.
  private static func readOnlyOpenError(path: String, _ error: any Error) -> StoreError {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    if !(error is StoreError), !FileManager.default.isWritableFile(atPath: folder),
      !FileManager.default.fileExists(atPath: path + "-shm")
    {
      return .cannotOpen(
        path: path,
        reason:
          "SQLite must create \(path)-shm to read a WAL store, but the folder \(folder) is not writable (copy the results folder somewhere writable)"
      )
    }
    return openError(path: path, error)
  }

  /// `openError` for the writer, where a full, read-only or busy store is `unavailable`.
  private static func writerOpenError(
    path: String, _ error: any Error, busyTimeout: TimeInterval
  ) -> StoreError {
    if let e = error as? DatabaseError,
      let unavailable = classify(e, systemErrno: 0, path: path, busyTimeout: busyTimeout)
    {
      return unavailable
    }
    return openError(path: path, error)
  }

  private static func openError(path: String, _ error: any Error) -> StoreError {
    if let e = error as? StoreError { return e }
    if let e = error as? DatabaseError, e.resultCode == .SQLITE_NOTADB {
      return .notAStore(path: path)
    }
    if let e = error as? DatabaseError {
      return .cannotOpen(path: path, reason: e.message ?? "\(e.resultCode)")
    }
    return .cannotOpen(path: path, reason: "\(error)")
  }
}

/// The trials a writer planned: the planners' arrays as given (shared with the sweep, not
/// copied) and each trial's place in them.
struct PlannedIndex: Sendable {
  private var lists: [[PlannedTrial]] = []
  private var places: [String: Place] = [:]

  private struct Place: Sendable {
    var list: Int32
    var index: Int32
  }

  mutating func add(_ trials: [PlannedTrial]) {
    let list = Int32(lists.count)
    lists.append(trials)
    places.reserveCapacity(places.count + trials.count)
    for (i, t) in trials.enumerated() { places[t.id.hex] = Place(list: list, index: Int32(i)) }
  }

  func trial(hex: String) -> PlannedTrial? {
    guard let p = places[hex] else { return nil }
    return lists[Int(p.list)][Int(p.index)]
  }

  func config(of id: TrialID) -> TrialConfig? { trial(hex: id.hex)?.config }
}

/// JSON as the store writes it: sorted keys; non-finite numbers as the strings "nan", "inf",
/// "-inf" (diverged trials may carry them).
enum StoreJSON {
  static func encoder() -> JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    e.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return e
  }

  static func decoder() -> JSONDecoder {
    let d = JSONDecoder()
    d.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return d
  }

  static func encode<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try encoder().encode(value), as: UTF8.self)
  }

  static func decode<T: Decodable>(_ type: T.Type, _ text: String, path: String, what: String)
    throws -> T
  {
    do {
      return try decoder().decode(type, from: Data(text.utf8))
    } catch {
      throw StoreError.corrupt(path: path, detail: "\(what): \(error)")
    }
  }
}

extension Database {
  /// Executes `sql` through the connection's statement cache (prepared once per connection):
  /// the coordinator's per-result statements are not parsed again for every result.
  fileprivate func run(sql: String, arguments: StatementArguments) throws {
    try cachedStatement(sql: sql).execute(arguments: arguments)
  }
}
