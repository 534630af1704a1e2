import Foundation
import SweepReport
import SweepSpec
import SweepStore
import Synchronization
import TailNet

/// What the live web view shows, read from a results folder's `sweep.sqlite` through its own
/// read-only connection (`SweepStore(readOnlyPath:)`: `SQLITE_OPEN_READONLY`, a WAL reader that
/// never blocks the coordinator's writes and never writes).
///
/// Every answer starts with one cheap query (`SweepStore.status`: counts by state and per-worker
/// activity); only when that changed since the last answer are the trial rows decoded and the
/// tables and figures rebuilt. So a browser polling every second costs the store one aggregate
/// query a second while nothing happens, and one full read per commit otherwise.
public final class LiveView: Sendable {
  /// The store file (`<results folder>/sweep.sqlite`); it may not exist yet when the view starts.
  public let storePath: String
  /// Clock (tests pass a fixed one).
  let now: @Sendable () -> Date

  private let state = Mutex<Cache>(Cache())

  struct Cache: ~Copyable {
    var store: SweepStore?
    var fingerprint: Int?
    var snapshot: Snapshot?
    /// When the store was last asked whether anything changed (monotonic seconds).
    var checkedAt = -Double.infinity
    /// When the last full rebuild began and how long it took.
    var builtAt = -Double.infinity
    var buildSeconds = 0.0
  }

  /// Answers within this many seconds of the last check reuse it (many tabs, one query).
  let minCheckInterval: Double
  /// A full rebuild (decode every result, tables, figures) waits until this many times its own
  /// duration has passed since the last one: at most about a tenth of a core however large the
  /// store, so a view in the coordinator's process cannot take its CPU.
  let rebuildSpacing: Double

  /// Creates a view of the results folder `folder` (or of a `.sqlite` file). Tests pass 0 for
  /// `minCheckInterval` and `rebuildSpacing` so every call reads the store.
  public init(
    results folder: String, now: @escaping @Sendable () -> Date = { Date() },
    minCheckInterval: Double = 0.25, rebuildSpacing: Double = 10
  ) {
    self.minCheckInterval = minCheckInterval
    self.rebuildSpacing = rebuildSpacing
    var isDirectory: ObjCBool = false
    if folder.hasSuffix(".sqlite")
      || (FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory)
        && !isDirectory.boolValue)
    {
      storePath = folder
    } else {
      storePath = URL(fileURLWithPath: folder).appendingPathComponent("sweep.sqlite").path
    }
    self.now = now
  }

  /// Closes the read-only connection (a later call opens it again).
  public func close() {
    state.withLock { c in
      try? c.store?.close()
      c.store = nil
    }
  }

  /// The current snapshot: rebuilt only when the store's counts or worker activity changed.
  /// Without a store yet (the coordinator has not created it), a snapshot that says so.
  public func snapshot() -> Snapshot {
    state.withLock { c -> Snapshot in
      do {
        if c.store == nil {
          guard FileManager.default.fileExists(atPath: storePath) else {
            return Snapshot.waiting(storePath, now: now(), reason: "no store yet")
          }
          c.store = try SweepStore(readOnlyPath: storePath)
        }
        guard let store = c.store else {
          return Snapshot.waiting(storePath, now: now(), reason: "no store yet")
        }
        let t0 = Self.monotonic()
        if var s = c.snapshot, t0 - c.checkedAt < minCheckInterval {
          s.now = now()
          return s
        }
        c.checkedAt = t0
        let sweeps = try store.sweeps()
        let current = sweeps.max { ($0.lastRunAt ?? .distantPast) < ($1.lastRunAt ?? .distantPast) }
        let status = try store.status(sweepID: current?.id)
        // Open leases with their latest progress: cheap to read, and when only they changed
        // (iterations move every second), the snapshot is patched rather than rebuilt.
        let open = try store.openAttempts(sweepID: current?.id)
        // Every worker's last heartbeat as the coordinator recorded it (about once a second),
        // idle workers included: those heard from since the latest run began.
        let fleet = try store.workers(seenSince: current?.lastRunAt)
        var hasher = Hasher()
        hasher.combine(status)
        hasher.combine(current)
        let fingerprint = hasher.finalize()
        var versionHasher = Hasher()
        versionHasher.combine(fingerprint)
        versionHasher.combine(open)
        versionHasher.combine(fleet)
        let version = versionHasher.finalize()
        if var s = c.snapshot,
          c.fingerprint == fingerprint
            || t0 - c.builtAt < rebuildSpacing * c.buildSeconds
        {
          s.now = now()
          if c.fingerprint == fingerprint, s.running != open || s.fleet != fleet {
            s.running = open
            s.fleet = fleet
            s.version = version
            c.snapshot = s
          }
          return s
        }
        var built = try Snapshot.build(
          store: store, sweep: current, status: status, running: open, now: now(),
          version: version)
        built.fleet = fleet
        c.snapshot = built
        c.fingerprint = fingerprint
        c.builtAt = t0
        c.buildSeconds = Self.monotonic() - t0
        return built
      } catch {
        // A store that cannot be read now (being created, migrated, a newer schema) is retried
        // at the next request with a fresh connection.
        try? c.store?.close()
        c.store = nil
        c.fingerprint = nil
        return Snapshot.waiting(storePath, now: now(), reason: "\(error)")
      }
    }
  }

  static func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
  }

  /// One trial as JSON-ready data, with its attempts (nil: no such trial in the store).
  public func trial(_ id: TrialID) -> TrialDetail? {
    let snap = snapshot()
    guard let row = snap.rowsByID[id] else { return nil }
    let attempts: [AttemptRecord] =
      state.withLock { c in try? c.store?.attempts(trial: id) } ?? []
    return TrialDetail(row: row, attempts: attempts, provenance: snap.provenance)
  }
}

/// Everything the live page shows at one moment.
public struct Snapshot: Sendable {
  /// Changes whenever the store's counts, worker activity, lease progress or worker
  /// heartbeats change.
  public var version: Int
  /// Changes only when the snapshot was rebuilt (counts or activity changed): the page reloads
  /// tables and figures when it does, not at every heartbeat or progress report.
  public var tablesVersion = 0
  /// When this answer was made.
  public var now: Date
  /// The store file.
  public var storePath: String
  /// Why there is nothing to show yet (no store, unreadable); nil when the store was read.
  public var waitingReason: String?
  /// The sweep shown (the one run most recently in this store).
  public var sweepName: String?
  public var sweepDescription: String?
  /// When its latest run began.
  public var runStartedAt: Date?
  public var provenance: Provenance?
  public var status: StoreStatus?
  /// Trials finished (done, diverged or failed) in this run and in all.
  public var finishedThisRun = 0
  /// Estimated seconds until every trial is finished (nil: not enough to go on).
  public var etaSeconds: Double?
  /// Open leases: what each worker is doing now, as far as the store knows.
  public var running: [AttemptRecord] = []
  /// The workers heard from since the latest run began, with their last heartbeat and state
  /// as the coordinator recorded them (empty for stores without the table).
  public var fleet: [WorkerLiveness] = []
  /// Failed, lost, timed-out and crashed attempts with their errors, newest first.
  public var failures: [AttemptRecord] = []
  /// Trials that diverged, newest result first.
  public var diverged: [TrialRow] = []
  /// Results in commit order, newest first (at most 50).
  public var recent: [(row: TrialRow, committedAt: Date)] = []
  /// The trial rows by id.
  public var rowsByID: [TrialID: TrialRow] = [:]
  /// The report's tables (summary and paired; empty until something finished), or why not.
  public var tables: [Table] = []
  public var tablesNote: String?
  /// The report's lead statements (one per comparison of the paired table).
  public var answer: [String] = []
  /// The report's figures.
  public var figures: [Figure] = []

  static func waiting(_ path: String, now: Date, reason: String) -> Snapshot {
    Snapshot(version: 0, now: now, storePath: path, waitingReason: reason)
  }

  static func build(
    store: SweepStore, sweep: SweepInfo?, status: StoreStatus, running: [AttemptRecord],
    now: Date, version: Int
  ) throws -> Snapshot {
    var s = Snapshot(version: version, now: now, storePath: store.path)
    s.tablesVersion = version
    s.sweepName = sweep?.name
    s.sweepDescription = sweep?.description
    s.runStartedAt = sweep?.lastRunAt
    s.provenance = sweep?.provenance
    s.status = status
    let rows = try store.rows(sweepID: sweep?.id)
    for r in rows { s.rowsByID[r.id] = r }
    let inSweep = Set(rows.map(\.id))
    let attempts = try store.attempts().filter { inSweep.contains($0.trial) }
    // Open leases with their latest progress, read by the caller (`openAttempts`).
    s.running = running
    s.failures = Array(
      attempts.filter {
        switch $0.outcome {
        case .failed?, .lost?, .timedOut?, .crashed?: return true
        default: return false
        }
      }.reversed().prefix(100))
    var committedAt: [TrialID: Date] = [:]
    for a in attempts where a.outcome == .committed {
      if let t = a.endedAt { committedAt[a.trial] = t }
    }
    s.recent = Array(
      rows.compactMap { r -> (row: TrialRow, committedAt: Date)? in
        guard r.result != nil, let t = committedAt[r.id] else { return nil }
        return (r, t)
      }.sorted { $0.committedAt > $1.committedAt }.prefix(50))
    s.diverged = rows.filter { RowClass($0) == .diverged }
    let start = sweep?.lastRunAt ?? .distantPast
    s.finishedThisRun =
      attempts.filter { $0.outcome == .committed && ($0.endedAt ?? .distantPast) >= start }.count
      + rows.filter { $0.state == .failed }.count
    let remaining = status.count(.pending) + status.count(.running)
    let elapsed = now.timeIntervalSince(start)
    if remaining == 0 {
      s.etaSeconds = 0
    } else if s.finishedThisRun > 0, elapsed > 0, sweep?.lastRunAt != nil {
      s.etaSeconds = elapsed / Double(s.finishedThisRun) * Double(remaining)
    }
    let finished = rows.filter { RowClass($0) != .pending }
    if finished.isEmpty {
      s.tablesNote = "No trial has finished yet."
    } else {
      do {
        s.tables = try SweepReport.tables(rows: rows)
        s.answer = SweepReport.answer(rows: rows)
        s.figures = SweepReport.figures(rows)
      } catch {
        s.tablesNote = "\(error)"
      }
    }
    return s
  }
}

/// One trial for its page and `/api/trial/ID`.
public struct TrialDetail: Sendable {
  public var row: TrialRow
  public var attempts: [AttemptRecord]
  public var provenance: Provenance?
}
