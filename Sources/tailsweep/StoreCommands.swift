import ArgumentParser
import Foundation
import SweepSpec
import SweepStore
import TailNet

/// Finds the store a read command should open.
enum ResultsLocation {
  /// `RESULTS` (a results folder holding `sweep.sqlite`, or the .sqlite file itself), or with
  /// nil the only results folder under `./results`. Throws `UsageError` listing the choices.
  static func resolve(_ argument: String?) throws -> String {
    let fm = FileManager.default
    if let argument {
      var isDirectory: ObjCBool = false
      guard fm.fileExists(atPath: argument, isDirectory: &isDirectory) else {
        throw UsageError(
          "no such results folder or store: \(argument) (pass a results folder or its sweep.sqlite)"
        )
      }
      guard isDirectory.boolValue else { return argument }
      let file = URL(fileURLWithPath: argument).appendingPathComponent("sweep.sqlite").path
      guard fm.fileExists(atPath: file) else {
        throw UsageError(
          "\(argument) holds no sweep.sqlite: pass a results folder written by `tailsweep run`, or the .sqlite file itself"
        )
      }
      return file
    }
    let root = "results"
    let entries = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).sorted()
    let stores = entries.filter {
      fm.fileExists(atPath: "\(root)/\($0)/sweep.sqlite")
    }
    if stores.count == 1 { return "\(root)/\(stores[0])/sweep.sqlite" }
    if stores.isEmpty {
      throw UsageError(
        "no results folder with a sweep.sqlite under ./results: pass RESULTS (a results folder or its sweep.sqlite)"
      )
    }
    throw UsageError(
      "several results folders under ./results; pass one of:\n"
        + stores.map { "  \(root)/\($0)" }.joined(separator: "\n"))
  }

  /// Opens the resolved store read-only; `--sweep NAME` picks one sweep (nil: every trial).
  static func open(_ argument: String?, sweep: String?) throws -> (SweepStore, Int64?) {
    let store = try SweepStore(readOnlyPath: resolve(argument))
    guard let sweep else { return (store, nil) }
    guard let id = try store.sweepID(named: sweep) else {
      let names = try store.sweeps().map(\.name)
      throw UsageError(
        "no sweep named '\(sweep)' in \(store.path); sweeps there: "
          + (names.isEmpty ? "none" : names.joined(separator: ", ")))
    }
    return (store, id)
  }
}

private func timeText(_ date: Date?) -> String {
  guard let date else { return "-" }
  let f = ISO8601DateFormatter()
  f.formatOptions = [.withInternetDateTime]
  return f.string(from: date)
}

private func countsText(_ s: StoreStatus) -> String {
  TrialState.allCases.map { "\($0.rawValue) \(s.count($0))" }.joined(separator: ", ")
}

private func writeOut(_ text: String) {
  FileHandle.standardOutput.write(Data(text.utf8))
}

struct Status: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Counts of trials by state and per-worker activity.",
    discussion: "Opens the store read-only: safe while a sweep is running.")

  @Argument(
    help:
      "Results folder (holding sweep.sqlite) or the .sqlite file; default: the only folder under ./results."
  )
  var results: String?

  @Option(help: "Only this sweep (by name).")
  var sweep: String?

  @Flag(help: "Also check SQLite's integrity and the store's invariants (exit 1 on a problem).")
  var check = false

  func run() throws {
    let (store, sweepID) = try ResultsLocation.open(results, sweep: sweep)
    defer { try? store.close() }
    var out = "store: \(store.path)\n"
    let sweeps = try store.sweeps().filter { sweepID == nil || $0.id == sweepID }
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
    let status = try store.status(sweepID: sweepID)
    out += "trials: \(status.total) total: \(countsText(status))\n"
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
      let all = [header] + body
      let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
      for cells in all {
        let padded = cells.enumerated().map { i, c in
          c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }
        out += "  " + padded.joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
      }
    }
    if check {
      let problems = try store.verify()
      out += problems.isEmpty ? "check: ok\n" : problems.map { "check: \($0)\n" }.joined()
      writeOut(out)
      if !problems.isEmpty { throw ExitCode(1) }
      return
    }
    writeOut(out)
  }
}

struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "One row per trial: configuration and measurements.",
    discussion: "Opens the store read-only: safe while a sweep is running.")

  @Argument(
    help:
      "Results folder (holding sweep.sqlite) or the .sqlite file; default: the only folder under ./results."
  )
  var results: String?

  @Option(help: "csv, jsonl or markdown.")
  var format: String = "csv"

  @Option(help: "Write to this file instead of standard output.")
  var output: String?

  @Option(help: "Only this sweep (by name).")
  var sweep: String?

  func run() throws {
    guard let format = ExportFormat(rawValue: format) else {
      throw UsageError(
        "unknown export format '\(format)': use one of "
          + ExportFormat.allCases.map(\.rawValue).joined(separator: ", "))
    }
    let (store, sweepID) = try ResultsLocation.open(results, sweep: sweep)
    defer { try? store.close() }
    let text = try TrialExport.render(store.rows(sweepID: sweepID), format: format)
    if let output {
      do {
        try text.write(toFile: output, atomically: true, encoding: .utf8)
      } catch {
        throw UsageError("cannot write \(output): \(error.localizedDescription)")
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
