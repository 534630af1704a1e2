import Foundation
import SweepReport
import SweepSpec
import SweepStore
import TailNet

/// The JSON documents of the live view's API (`/api/status`, `/api/tables`, `/api/trial/ID`).
enum API {
  struct Worker: Encodable {
    var worker: String
    var host: String
    var attempts: Int
    var running: Int
    var committed: Int
    var duplicates: Int
    var failed: Int
    /// The latest start or end of one of its leases.
    var lastSeen: Date?
    /// The slots it declared, its state (`active`, `quarantined`, `gone`), when it registered
    /// and when the coordinator last heard from it (any message: heartbeats of idle workers
    /// too), as the coordinator recorded them about once a second; nil for stores without
    /// that record.
    var slots: Int?
    var state: String?
    var registeredAt: Date?
    var lastHeartbeat: Date?
    /// The trials it holds leases for now, with when each lease began.
    var current: [Lease]
  }
  struct Lease: Encodable {
    var trial: String
    var label: String
    var attempt: Int
    var startedAt: Date?
    /// The latest iteration the worker reported, its cap, and when it reported it (the
    /// coordinator records them about once a second; nil before the first report).
    var iteration: Int?
    var maxIterations: Int?
    var progressAt: Date?
  }
  struct Failure: Encodable {
    var trial: String
    var label: String
    var attempt: Int
    var worker: String
    var host: String
    var outcome: String
    var endedAt: Date?
    var error: String?
  }
  struct Result: Encodable {
    var trial: String
    var label: String
    var state: String
    var committedAt: Date
    var stopReason: String
    var iterations: Int
    var prunedPercent: Double?
    var testAccuracyPercent: Double?
  }
  struct Status: Encodable {
    var version: Int
    /// Changes only when tables and figures may have changed (`/api/tables`).
    var tablesVersion: Int
    var now: Date
    var store: String
    var waiting: String?
    var sweep: String?
    var description: String?
    var runStartedAt: Date?
    var total: Int
    var counts: [String: Int]
    var finished: Int
    var finishedThisRun: Int
    var percent: Double
    var etaSeconds: Double?
    var workers: [Worker]
    var failures: [Failure]
    var diverged: [Failure]
    var recent: [Result]
    var answer: [String]
    /// What the store does not know: shown on the page so nobody looks for it.
    var notStored: String
  }
  struct Tables: Encodable {
    var version: Int
    var note: String?
    var answer: [String]
    var html: String
    var figures: [FigureRef]
  }
  struct FigureRef: Encodable {
    var name: String
    var title: String
    var url: String
  }
  struct Trial: Encodable {
    var id: String
    var label: String
    var state: String
    var lastError: String?
    var config: TrialConfig
    var provenance: Provenance?
    var attempts: [Attempt]
    var result: TrialResult?
  }
  struct Attempt: Encodable {
    var attempt: Int
    var worker: String
    var host: String
    var leased: Bool
    var startedAt: Date?
    var endedAt: Date?
    var outcome: String?
    var error: String?
  }

  static let notStored =
    "Per worker: its open leases (trial, since when, the iteration last reported and when) and "
    + "its last heartbeat (the last message the coordinator received from it, idle workers "
    + "included), as the coordinator records them about once a second; so both lag by up to "
    + "about a second plus the page's poll."

  static func num(_ x: Double) -> String { KeyValue.number(x).description }

  static func label(_ c: TrialConfig) -> String {
    var s = "\(ConfigKey.datasetLabel(c.dataset)) n=\(c.width)"
    if c.depth != 1 { s += " depth=\(c.depth)" }
    s += " η=\(num(c.eta)) b=\(c.batchSize)"
    if c.isNoisy {
      s += " α=\(num(c.alpha)) σ=\(num(c.sigma)) type \(c.noiseType.rawValue)"
    } else {
      s += " plain"
    }
    return s + " seed \(c.seed)"
  }

  static func label(_ id: TrialID, _ snap: Snapshot) -> String {
    snap.rowsByID[id].map { label($0.config) } ?? String(id.hex.prefix(12))
  }

  static func failure(_ a: AttemptRecord, _ snap: Snapshot) -> Failure {
    Failure(
      trial: a.trial.hex, label: label(a.trial, snap), attempt: a.attempt, worker: a.worker,
      host: a.host, outcome: a.outcome?.rawValue ?? "open", endedAt: a.endedAt, error: a.error)
  }

  static func status(_ snap: Snapshot) -> Status {
    let counts = snap.status?.counts ?? [:]
    var named: [String: Int] = [:]
    for s in TrialState.allCases { named[s.rawValue] = counts[s] ?? 0 }
    let total = snap.status?.total ?? 0
    let finished = (counts[.done] ?? 0) + (counts[.diverged] ?? 0) + (counts[.failed] ?? 0)
    var leases: [String: [Lease]] = [:]
    for a in snap.running {
      leases[a.worker, default: []].append(
        Lease(
          trial: a.trial.hex, label: label(a.trial, snap), attempt: a.attempt,
          startedAt: a.startedAt, iteration: a.iteration, maxIterations: a.maxIterations,
          progressAt: a.progressAt))
    }
    var fleet: [String: WorkerLiveness] = [:]
    for f in snap.fleet { fleet[f.worker] = f }
    var workers = (snap.status?.workers ?? []).map { w in
      let f = fleet.removeValue(forKey: w.worker)
      return Worker(
        worker: w.worker, host: w.host, attempts: w.attempts, running: w.running,
        committed: w.committed, duplicates: w.duplicates, failed: w.failed, lastSeen: w.lastSeen,
        slots: f?.slots, state: f?.state.rawValue, registeredAt: f?.registeredAt,
        lastHeartbeat: f?.lastSeen, current: leases[w.worker] ?? [])
    }
    // Workers without a lease in this sweep yet (idle since they registered).
    for f in fleet.values {
      workers.append(
        Worker(
          worker: f.worker, host: f.host, attempts: 0, running: 0, committed: 0, duplicates: 0,
          failed: 0, lastSeen: nil, slots: f.slots, state: f.state.rawValue,
          registeredAt: f.registeredAt, lastHeartbeat: f.lastSeen, current: leases[f.worker] ?? [])
      )
    }
    workers.sort { $0.worker < $1.worker }
    let diverged = snap.diverged.map { r in
      Failure(
        trial: r.id.hex, label: label(r.config), attempt: r.attempts, worker: "", host: "",
        outcome: "diverged", endedAt: nil,
        error: r.result?.training.divergedAt.map { "diverged at iteration \($0)" }
          ?? r.lastError)
    }
    return Status(
      version: snap.version, tablesVersion: snap.tablesVersion, now: snap.now,
      store: snap.storePath, waiting: snap.waitingReason,
      sweep: snap.sweepName, description: snap.sweepDescription, runStartedAt: snap.runStartedAt,
      total: total, counts: named, finished: finished, finishedThisRun: snap.finishedThisRun,
      percent: total > 0 ? Double(finished) / Double(total) * 100 : 0,
      etaSeconds: snap.etaSeconds, workers: workers,
      failures: snap.failures.map { failure($0, snap) }, diverged: diverged,
      recent: snap.recent.map { r in
        Result(
          trial: r.row.id.hex, label: label(r.row.config), state: r.row.state.rawValue,
          committedAt: r.committedAt,
          stopReason: r.row.result?.training.stopReason.rawValue ?? "",
          iterations: r.row.result?.training.iterations ?? 0,
          prunedPercent: r.row.result?.compression.map { $0.pruningRatio * 100 },
          testAccuracyPercent: r.row.result?.compression.map { $0.unpruned.testAccuracy * 100 }
            ?? r.row.result?.training.final.map { $0.testAccuracy * 100 })
      }, answer: snap.answer, notStored: notStored)
  }

  static func tables(_ snap: Snapshot) -> Tables {
    Tables(
      version: snap.tablesVersion, note: snap.tablesNote ?? snap.waitingReason,
      answer: snap.answer, html: snap.tables.map { $0.renderHTML() }.joined(),
      figures: snap.figures.map {
        FigureRef(
          name: $0.name, title: $0.title, url: "figures/\($0.name).svg?v=\(snap.tablesVersion)")
      })
  }

  static func trial(_ d: TrialDetail) -> Trial {
    Trial(
      id: d.row.id.hex, label: label(d.row.config), state: d.row.state.rawValue,
      lastError: d.row.lastError, config: d.row.config, provenance: d.provenance,
      attempts: d.attempts.map {
        Attempt(
          attempt: $0.attempt, worker: $0.worker, host: $0.host, leased: $0.leased,
          startedAt: $0.startedAt, endedAt: $0.endedAt, outcome: $0.outcome?.rawValue,
          error: $0.error)
      }, result: d.row.result)
  }

  static func encode<T: Encodable>(_ value: T) -> Data {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    e.dateEncodingStrategy = .custom { date, encoder in
      var c = encoder.singleValueContainer()
      try c.encode(isoTime(date))
    }
    e.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return (try? e.encode(value)) ?? Data("{}".utf8)
  }

  static func isoTime(_ date: Date) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.string(from: date)
  }
}
