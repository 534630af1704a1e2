import ArgumentParser
import Foundation
import SweepRuntime
import SweepSpec
import SweepStore

/// `tailsweep plan SWEEP.yaml [--json]`: validates a sweep file and prints its expanded trials
/// without running anything. A bad sweep file exits with status 2 and `file:line: key 'k': …`
/// on stderr.
struct Plan: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print the expanded trials of a sweep file without running anything.",
    discussion: """
      Validates the sweep file (and its includes), expands its grid and checks every trial \
      against the data folder (the data set is there, its limits fit the data, the network \
      fits in memory), as `run` does before it starts. Then prints the number of trials, the \
      settings shared by all of them, and one row per trial with its id, the values that vary \
      and an estimate of its cost relative to the cheapest trial. The format of sweep files is \
      described in docs/sweep-files.md.
      """)

  @Argument(help: "The sweep file (YAML or JSON).")
  var sweep: String

  @Flag(help: "Print a JSON object with 'count' and 'trials' instead of a table.")
  var json = false

  @OptionGroup var data: DataDirOption

  @Flag(
    name: .customLong("no-data-check"),
    help: "Do not check the trials against the data folder (plan on a machine without the data).")
  var noDataCheck = false

  @Option(
    help: ArgumentHelp(
      "Dry run of a resume: compare with the results stored here.",
      discussion:
        "The folder given to run --results, or the sweep's own folder. Nothing is changed. "
        + "Without it, ./results is used when it holds this sweep."))
  var results: String?

  @Option(help: "With --results: which finished trials a run would retry.")
  var rerun: SweepRerunPolicy = .none

  func run() throws {
    let loaded: Sweep
    do {
      let check = noDataCheck ? nil : PreDispatchCheck(dataDirectory: data.url)
      loaded = try SweepLoader.load(path: sweep, check: check?.trialCheck)
    } catch {
      throw UsageError(error.description)
    }
    if json {
      print(try loaded.planJSON())
    } else {
      print(loaded.planText(), terminator: "")
    }
    if let results {
      print(try dryRun(loaded, results: results))
    } else if !json,
      FileManager.default.fileExists(atPath: "results/\(loaded.name)/sweep.sqlite")
    {
      // `run`'s default results folder holds this sweep: say what a run would do there, with
      // the time estimate measured on its finished trials.
      print(try dryRun(loaded, results: "results"))
    }
  }

  /// What `run SWEEP --results RESULTS` would do now: the definition it would record, and which
  /// trials it would skip or run.
  func dryRun(_ sweep: Sweep, results: String) throws -> String {
    let fm = FileManager.default
    let own = URL(fileURLWithPath: results).appendingPathComponent(sweep.name)
      .appendingPathComponent("sweep.sqlite").path
    let path: String
    if fm.fileExists(atPath: own) {
      path = own
    } else if fm.fileExists(
      atPath: URL(fileURLWithPath: results).appendingPathComponent(
        "sweep.sqlite"
      ).path) || results.hasSuffix(".sqlite")
    {
      path = try ResultsLocation.resolve(results, sweep: sweep.name)
    } else {
      return "dry run: no results for \(sweep.name) under \(results) yet; all "
        + "\(sweep.trials.count) trials would run"
    }
    let store: SweepStore
    do { store = try SweepStore(readOnlyPath: path) } catch let e as StoreError {
      throw UsageError(e.description)
    }
    defer { try? store.close() }
    let definition = try chooseDefinition(store: store, sweep: sweep)
    var states: [String: TrialState] = [:]
    var wall: [String: Double] = [:]
    for row in try store.rows(sweepID: nil) {
      states[row.id.hex] = row.state
      if let w = row.result?.training.wallSeconds, w > 0 { wall[row.id.hex] = w }
    }
    // Measured cost: seconds per unit of relative cost over the finished trials of the sweep.
    var measuredSeconds = 0.0
    var measuredCost = 0.0
    var measured = 0
    var remainingCost = 0.0
    var finished = 0
    var failed = 0
    var retried = 0
    var pending = 0
    var new = 0
    for t in sweep.trials {
      if let w = wall[t.id.hex] {
        measuredSeconds += w
        measuredCost += t.relativeCost
        measured += 1
      }
      let before = finished + failed
      defer { if finished + failed == before { remainingCost += t.relativeCost } }
      switch states[t.id.hex] {
      case nil: new += 1
      case .pending?, .running?: pending += 1
      case .failed?:
        if rerun == .failed || rerun == .all { retried += 1 } else { failed += 1 }
      case .done?, .diverged?:
        let again =
          rerun == .all || (rerun == .diverged && states[t.id.hex] == .diverged)
        if again { retried += 1 } else { finished += 1 }
      }
    }
    var out = "dry run against \(path) (nothing is changed):\n"
    out +=
      "  definition: "
      + (definition.note ?? "\(definition.name), the one stored under that name")
    out += "\n  \(sweep.trials.count) trials: \(finished) have results (skipped)"
    if failed > 0 { out += ", \(failed) failed (skipped; --rerun failed retries them)" }
    out += "; \(new + pending + retried) would run (\(new) new, \(pending) pending"
    out += retried > 0 ? ", \(retried) again)" : ")"
    if measured > 0, measuredCost > 0, remainingCost > 0 {
      let seconds = remainingCost * measuredSeconds / measuredCost
      out +=
        "\n  estimate: about \(Self.duration(seconds)) of trial time for what would run "
        + "(\(String(format: "%.3g", measuredSeconds / measuredCost)) s per unit of relative "
        + "cost, measured over \(measured) finished trial\(measured == 1 ? "" : "s")); divide by "
        + "the number of workers"
    }
    return out
  }

  static func duration(_ seconds: Double) -> String {
    let s = max(1, Int(seconds.rounded()))
    return s >= 3600
      ? "\(s / 3600) h \((s % 3600) / 60) min" : s >= 60 ? "\(s / 60) min \(s % 60) s" : "\(s) s"
  }
}
