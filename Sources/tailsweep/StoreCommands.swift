import ArgumentParser
import Foundation
import SweepReport
import SweepSpec
import SweepStore
import TailNet

/// Finds the store a read command should open. Every read command (status, report, export,
/// plan --results) resolves RESULTS the same way.
enum ResultsLocation {
  /// `RESULTS` may be a sweep's folder (holding `sweep.sqlite`), the store file itself, or the
  /// folder above sweep folders (what `run --results` takes; default `./results`): then the
  /// only sweep folder in it, or the one named by `--sweep` (its name before any `@N`).
  /// Throws `UsageError` listing the choices.
  static func resolve(_ argument: String?, sweep: String? = nil) throws -> String {
    let fm = FileManager.default
    let folder = argument ?? "results"
    var isDirectory: ObjCBool = false
    guard fm.fileExists(atPath: folder, isDirectory: &isDirectory) else {
      if argument == nil {
        throw UsageError(
          "no results folder ./results: pass RESULTS (a results folder, the folder given to "
            + "`run --results`, or a sweep.sqlite)")
      }
      throw UsageError(
        "no such results folder or store: \(folder) (pass a results folder or its sweep.sqlite)")
    }
    guard isDirectory.boolValue else { return folder }
    let own = URL(fileURLWithPath: folder).appendingPathComponent("sweep.sqlite").path
    if fm.fileExists(atPath: own) { return own }
    let entries = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    let stores = entries.filter {
      fm.fileExists(
        atPath: URL(fileURLWithPath: folder).appendingPathComponent($0).path + "/sweep.sqlite")
    }
    let path = { (name: String) in
      URL(fileURLWithPath: folder).appendingPathComponent(name).appendingPathComponent(
        "sweep.sqlite"
      ).path
    }
    if let sweep, !sweep.isEmpty, Int64(sweep) == nil {
      let first = sweep.split(separator: ",").first.map(String.init) ?? sweep
      let family = String(first.split(separator: "@", maxSplits: 1).first ?? "")
      if stores.contains(family) { return path(family) }
    }
    if stores.count == 1 { return path(stores[0]) }
    if stores.isEmpty {
      throw UsageError(
        "\(folder) holds no sweep.sqlite, nor any sweep folder with one: pass a results folder "
          + "written by `tailsweep run` (or the folder given to its --results), or a .sqlite file")
    }
    throw UsageError(
      "\(folder) holds several sweeps; pass one of these folders, or --sweep NAME:\n"
        + stores.map { "  \(URL(fileURLWithPath: folder).appendingPathComponent($0).path)" }
        .joined(separator: "\n"))
  }

  /// Opens the resolved store read-only. `--sweep` picks one sweep by name (`small`,
  /// `small@2`) or store id; nil picks the current definition of every sweep in the store.
  static func open(_ argument: String?, sweep: String?) throws -> (SweepStore, [Int64]) {
    let path = try resolve(argument, sweep: sweep)
    let store: SweepStore
    do {
      store = try SweepStore(readOnlyPath: path)
    } catch let e as StoreError {
      if case .missing = e { throw UsageError(e.description) }
      throw e
    }
    let all = try store.sweeps()
    guard let sweep else { return (store, all.filter(\.isCurrent).map(\.id)) }
    // Several, comma-separated, are taken together (to compare definitions in one report).
    var ids: [Int64] = []
    for one in sweep.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
      guard
        let info = all.first(where: { $0.name == one }) ?? all.first(where: { "\($0.id)" == one })
      else {
        throw UsageError(
          "no sweep '\(one)' in \(store.path); sweeps there (name or id): "
            + (all.isEmpty ? "none" : all.map { "\($0.name) (\($0.id))" }.joined(separator: ", ")))
      }
      if !ids.contains(info.id) { ids.append(info.id) }
    }
    return (store, ids)
  }

  /// The rows of the chosen sweeps, each trial once.
  static func rows(_ store: SweepStore, sweeps: [Int64]) throws -> [TrialRow] {
    if sweeps.count == 1 { return try store.rows(sweepID: sweeps[0]) }
    var seen = Set<TrialID>()
    var out: [TrialRow] = []
    for id in sweeps {
      for r in try store.rows(sweepID: id) where seen.insert(r.id).inserted { out.append(r) }
    }
    return out
  }
}

/// `--where width=32,alpha=1.75`: only trials whose configuration has these values. A key given
/// twice matches either value (`alpha=1.75,alpha=2`); different keys must all match.
struct WhereOption: ParsableArguments {
  @Option(
    name: .customLong("where"),
    help: ArgumentHelp(
      "Only trials with these values, e.g. width=32,alpha=1.75.",
      discussion: "Keys as in sweep files; a key given twice matches either value."))
  var conditions: String?

  /// The conditions as key → accepted values.
  func parsed() throws -> [String: [String]] {
    guard let conditions else { return [:] }
    var out: [String: [String]] = [:]
    let sample = TrialConfig(dataset: DatasetSpec(name: "x"), width: 1, eta: 1, batchSize: 1)
    for part in conditions.split(separator: ",") {
      let kv = part.split(separator: "=", maxSplits: 1).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard kv.count == 2, !kv[0].isEmpty, !kv[1].isEmpty else {
        throw UsageError("--where: expected key=value, got '\(part)'")
      }
      guard ConfigKey.value(kv[0], of: sample) != nil else {
        throw UsageError(
          "--where: unknown key '\(kv[0])' (keys: \(ConfigKey.all.joined(separator: ", ")))")
      }
      out[kv[0], default: []].append(kv[1])
    }
    return out
  }

  /// The rows that match every condition.
  func apply(_ rows: [TrialRow]) throws -> [TrialRow] {
    let wanted = try parsed()
    guard !wanted.isEmpty else { return rows }
    return rows.filter { row in
      wanted.allSatisfy { key, values in
        guard let v = ConfigKey.value(key, of: row.config) else { return false }
        return values.contains { text in
          switch v {
          case .number(let x): return Double(text).map { $0 == x } ?? false
          case .text(let t): return t == text || row.config.dataset.name == text
          }
        }
      }
    }
  }
}

private func timeText(_ date: Date?) -> String {
  guard let date else { return "-" }
  let f = ISO8601DateFormatter()
  f.formatOptions = [.withInternetDateTime]
  return f.string(from: date)
}

private func durationText(_ seconds: Double) -> String {
  let s = max(0, Int(seconds.rounded()))
  return s >= 3600 ? "\(s / 3600)h\((s % 3600) / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
}

private func countsText(_ s: StoreStatus) -> String {
  TrialState.allCases.map { "\($0.rawValue) \(s.count($0))" }.joined(separator: ", ")
}

private func writeOut(_ text: String) {
  FileHandle.standardOutput.write(Data(text.utf8))
}

/// The RESULTS argument and --sweep option every read command shares.
struct ResultsArguments: ParsableArguments {
  @Argument(
    help: ArgumentHelp(
      "A sweep's results folder, its sweep.sqlite, or the folder given to run --results.",
      discussion: "Default: ./results, when it holds one sweep."))
  var results: String?

  @Option(
    help: ArgumentHelp(
      "The sweep, by name (small, or small@2 for a later definition) or by id.",
      discussion:
        "Default: the current definition of the sweep, the one run last. Several, "
        + "comma-separated (small,small@2), are taken together."))
  var sweep: String?
}

struct Status: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Counts of trials by state and per-worker activity.",
    discussion: "Opens the store read-only: safe while a sweep is running.")

  @OptionGroup var location: ResultsArguments

  @Flag(help: "Also check SQLite's integrity and the store's invariants (exit 1 on a problem).")
  var check = false

  @Flag(help: "Print one JSON object instead of text.")
  var json = false

  func run() throws {
    let (store, chosen) = try ResultsLocation.open(location.results, sweep: location.sweep)
    defer { try? store.close() }
    let all = try store.sweeps()
    let sweeps = all.filter { chosen.contains($0.id) }
    let others = all.filter { !chosen.contains($0.id) }
    let status = try store.status(sweepID: chosen.count == 1 ? chosen[0] : nil)
    let running = try store.openAttempts(sweepID: chosen.count == 1 ? chosen[0] : nil)
    // Liveness as the coordinator recorded it: present workers first, then by id.
    let heartbeats = try store.workers().sorted {
      ($0.state == .gone ? 1 : 0, $0.worker) < ($1.state == .gone ? 1 : 0, $1.worker)
    }
    let problems = check ? try store.verify() : []
    if json {
      try writeJSON(
        store: store, sweeps: sweeps, others: others, status: status, running: running,
        heartbeats: heartbeats, problems: problems)
      if !problems.isEmpty { throw ExitCode(1) }
      return
    }
    var out = "store: \(store.path)\n"
    if sweeps.isEmpty { out += "no sweeps yet\n" }
    for info in sweeps {
      let s = try store.status(sweepID: info.id)
      var line = "sweep \(info.name) (id \(info.id)): \(info.trialCount) trials, \(info.runs) run"
      line += info.runs == 1 ? "" : "s"
      if let p = info.provenance {
        line += ", last run \(timeText(info.lastRunAt)) (tailsweep \(p.toolVersion)"
        if let commit = p.gitCommit { line += ", commit \(commit)" }
        line += ", host \(p.host))"
      }
      out += line + "\n  " + countsText(s) + "\n"
    }
    if !others.isEmpty {
      out +=
        "other definitions (--sweep NAME to see one): "
        + others.map { "\($0.name) (id \($0.id), \($0.trialCount) trials)" }.joined(
          separator: ", ") + "\n"
    }
    out += "trials: \(status.total) total: \(countsText(status))\n"
    if !running.isEmpty {
      out += "running now: \(running.count)\n"
      let now = Date()
      for a in running.prefix(20) {
        let since = a.startedAt.map { " for \(durationText(now.timeIntervalSince($0)))" } ?? ""
        var progress = ""
        if let i = a.iteration, let m = a.maxIterations {
          progress = ", iteration \(i)/\(m)"
          if let t = a.progressAt {
            progress += " (reported \(durationText(max(0, now.timeIntervalSince(t)))) ago)"
          }
        }
        out += "  trial \(a.trial.short) attempt \(a.attempt) on \(a.worker)\(since)\(progress)\n"
      }
      if running.count > 20 { out += "  … and \(running.count - 20) more\n" }
    }
    if status.workers.isEmpty {
      out += "workers: none yet\n"
    } else {
      out += "workers: \(status.workers.count)\n"
      let header = [
        "worker", "host", "attempts", "running", "committed", "duplicates", "failed", "last seen",
      ]
      let body = status.workers.map { w in
        [
          w.worker.isEmpty ? "(unknown)" : w.worker, w.host.isEmpty ? "-" : w.host,
          "\(w.attempts)", "\(w.running)", "\(w.committed)", "\(w.duplicates)", "\(w.failed)",
          timeText(w.lastSeen),
        ]
      }
      for line in alignedColumns([header] + body) { out += "  " + line + "\n" }
    }
    if !heartbeats.isEmpty {
      let present = heartbeats.count { $0.state != .gone }
      out +=
        "heartbeats (recorded by the coordinator about once a second): \(present) present, "
        + "\(heartbeats.count - present) gone\n"
      let now = Date()
      let header = ["worker", "host", "slots", "state", "registered", "last heartbeat"]
      let body = heartbeats.prefix(20).map { w in
        [
          w.worker, w.host.isEmpty ? "-" : w.host, "\(w.slots)", w.state.rawValue,
          timeText(w.registeredAt),
          durationText(max(0, now.timeIntervalSince(w.lastSeen))) + " ago",
        ]
      }
      for line in alignedColumns([header] + body) { out += "  " + line + "\n" }
      if heartbeats.count > 20 { out += "  … and \(heartbeats.count - 20) more\n" }
    }
    if check {
      out += problems.isEmpty ? "check: ok\n" : problems.map { "check: \($0)\n" }.joined()
      writeOut(out)
      if !problems.isEmpty { throw ExitCode(1) }
      return
    }
    writeOut(out)
  }

  private func writeJSON(
    store: SweepStore, sweeps: [SweepInfo], others: [SweepInfo], status: StoreStatus,
    running: [AttemptRecord], heartbeats: [WorkerLiveness], problems: [String]
  ) throws {
    func counts(_ s: StoreStatus) -> [String: Int] {
      Dictionary(uniqueKeysWithValues: TrialState.allCases.map { ($0.rawValue, s.count($0)) })
    }
    func describe(_ info: SweepInfo, shown: Bool) throws -> [String: Any] {
      var d: [String: Any] = [
        "id": info.id, "name": info.name, "family": info.family, "version": info.version,
        "current": info.isCurrent, "trials": info.trialCount, "runs": info.runs,
        "path": info.path, "description": info.description,
      ]
      if let h = info.definitionHash { d["definitionHash"] = h }
      if let t = info.lastRunAt { d["lastRunAt"] = timeText(t) }
      if let p = info.provenance {
        d["toolVersion"] = p.toolVersion
        d["host"] = p.host
        if let c = p.gitCommit { d["gitCommit"] = c }
      }
      if shown { d["counts"] = counts(try store.status(sweepID: info.id)) }
      return d
    }
    var object: [String: Any] = [
      "store": store.path,
      "sweeps": try sweeps.map { try describe($0, shown: true) },
      "otherDefinitions": try others.map { try describe($0, shown: false) },
      "trials": ["total": status.total, "counts": counts(status)] as [String: Any],
      "workers": status.workers.map { w -> [String: Any] in
        var d: [String: Any] = [
          "worker": w.worker, "host": w.host, "attempts": w.attempts, "running": w.running,
          "committed": w.committed, "duplicates": w.duplicates, "failed": w.failed,
        ]
        if let t = w.lastSeen { d["lastSeen"] = timeText(t) }
        return d
      },
    ]
    object["running"] = running.map { a -> [String: Any] in
      var d: [String: Any] = [
        "trial": a.trial.hex, "attempt": a.attempt, "worker": a.worker, "host": a.host,
      ]
      if let t = a.startedAt {
        d["startedAt"] = timeText(t)
        d["elapsedSeconds"] = (Date().timeIntervalSince(t) * 10).rounded() / 10
      }
      if let i = a.iteration { d["iteration"] = i }
      if let m = a.maxIterations { d["maxIterations"] = m }
      if let t = a.progressAt { d["progressAt"] = timeText(t) }
      return d
    }
    object["heartbeats"] = heartbeats.map { w -> [String: Any] in
      [
        "worker": w.worker, "host": w.host, "slots": w.slots, "state": w.state.rawValue,
        "registeredAt": timeText(w.registeredAt), "lastHeartbeat": timeText(w.lastSeen),
        "secondsSinceHeartbeat": (max(0, Date().timeIntervalSince(w.lastSeen)) * 10).rounded()
          / 10,
      ]
    }
    if check { object["check"] = problems.isEmpty ? ["ok"] : problems }
    let data = try JSONSerialization.data(
      withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    writeOut(String(decoding: data, as: UTF8.self) + "\n")
  }
}

struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "One row per trial: configuration and measurements.",
    discussion: "Opens the store read-only: safe while a sweep is running.")

  @OptionGroup var location: ResultsArguments

  @OptionGroup var filter: WhereOption

  @Option(
    help: ArgumentHelp(
      "csv, jsonl or markdown.",
      discussion:
        "Keys as in sweep files; accuracies, losses and the pruning ratio are fractions, wall "
        + "time in seconds, times in UTC."))
  var format: String = "csv"

  @Option(help: "Write to this file instead of standard output.")
  var out: String?

  @Option(help: ArgumentHelp("Old name of --out.", visibility: .hidden))
  var output: String?

  func validate() throws {
    if out != nil && output != nil {
      throw ValidationError("give --out only (--output is its old name)")
    }
  }

  func run() throws {
    guard let format = ExportFormat(rawValue: format) else {
      throw UsageError(
        "unknown export format '\(format)': use one of "
          + ExportFormat.allCases.map(\.rawValue).joined(separator: ", "))
    }
    let (store, chosen) = try ResultsLocation.open(location.results, sweep: location.sweep)
    defer { try? store.close() }
    let rows = try filter.apply(ResultsLocation.rows(store, sweeps: chosen))
    let names = try store.sweeps().filter { chosen.contains($0.id) }.map(\.name)
    var times: [TrialID: TrialTimes] = [:]
    for id in chosen { times.merge(try store.trialTimes(sweepID: id)) { a, _ in a } }
    let context = TrialExport.Context(sweep: names.joined(separator: "+"), times: times)
    let text = try TrialExport.render(rows, format: format, context: context)
    if let target = out ?? output {
      do {
        try text.write(toFile: target, atomically: true, encoding: .utf8)
      } catch {
        throw UsageError("cannot write \(target): \(error.localizedDescription)")
      }
    } else {
      writeOut(text)
    }
  }
}

/// Hidden: writes results in a loop so a test can kill it mid-commit.
struct StoreProbe: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "store-probe",
    abstract: "Testing aid: commits synthetic results in a loop, printing one line per commit.",
    shouldDisplay: false)

  @Argument(help: "The .sqlite file (created if missing).")
  var database: String

  @Option(help: "Trials in the probe sweep.")
  var count: Int = 100

  @Option(help: "Evaluation points per result (larger: longer transactions).")
  var historyPoints: Int = 200

  func run() throws {
    guard count >= 1, historyPoints >= 1 else {
      throw UsageError("--count and --history-points must be ≥ 1")
    }
    let store = try SweepStore(path: database)
    let trials = (1...count).map { seed -> PlannedTrial in
      let c = TrialConfig(
        dataset: DatasetSpec(name: "synthetic"), width: 16, eta: 0.1, batchSize: 8,
        seed: UInt64(seed))
      return PlannedTrial(config: c, relativeCost: 1)
    }
    let host = ProcessInfo.processInfo.hostName
    let id = try store.beginSweep(
      name: "store-probe", description: "store crash probe", text: "", trials: trials,
      provenance: Provenance(
        toolVersion: "store-probe", gitCommit: nil, host: host, datasetHashes: [:], blas: "none"))
    let todo = try store.trialsToRun(sweepID: id)
    writeOut("probe: \(todo.count) of \(count) to run\n")
    let worker = "probe-\(ProcessInfo.processInfo.processIdentifier)"
    for (i, t) in todo.enumerated() {
      try store.attemptStarted(trial: t.id, attempt: 1, worker: worker, host: host, at: Date())
      let outcome = try store.commit(
        trial: t.id, attempt: 1, worker: worker, result: result(t), at: Date())
      writeOut("\(outcome.rawValue) \(i + 1)/\(todo.count) \(t.id.hex)\n")
    }
    try store.close()
    writeOut("probe: done\n")
  }

  private func evalPoint(_ k: Int) -> EvalPoint {
    let x = Double(k + 1)
    return EvalPoint(
      iteration: k * 10, trainLoss: 1 / x, trainAccuracy: 1 - 1 / (x + 1), testLoss: 1.1 / x,
      testAccuracy: 1 - 1.1 / (x + 1))
  }

  /// A synthetic result with `historyPoints` evaluations; every seventh seed diverged.
  private func result(_ t: PlannedTrial) -> TrialResult {
    let history = (0..<historyPoints).map(evalPoint)
    let diverged = t.config.seed % 7 == 0
    let final = history.last
    let compression = final.map { f in
      CompressionReport(
        budget: t.config.budget, pruningRatio: 0.5, layers: [], unpruned: f, pruned: f,
        fixedRatioCurve: [])
    }
    return TrialResult(
      config: t.config,
      training: TrainingSummary(
        stopReason: diverged ? .diverged : .maxIterations, iterations: historyPoints * 10,
        divergedAt: diverged ? historyPoints * 10 : nil, wallSeconds: 0, final: final,
        history: history),
      compression: diverged ? nil : compression, datasetHash: nil)
  }
}
