import ArgumentParser
import Foundation
import SweepStore

/// `tailsweep sweeps list [RESULTS]`: the sweeps under a results folder.
struct Sweeps: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "The sweeps stored under a results folder.",
    subcommands: [ListSweeps.self, ArchiveSweep.self, DeleteSweep.self, PruneTrials.self])
}

struct ListSweeps: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list",
    abstract: "Every sweep and definition under a results folder, with counts by state.",
    discussion: "Opens the stores read-only: safe while a sweep is running.")

  @Argument(help: "The folder given to run --results, a sweep's folder, or its sweep.sqlite.")
  var results: String = "results"

  @Flag(help: "Print one JSON object per definition, one per line.")
  var json = false

  /// Every store the argument names: itself, or the sweep folders directly under it.
  func stores() throws -> [String] {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    guard fm.fileExists(atPath: results, isDirectory: &isDirectory) else {
      throw UsageError("no such results folder or store: \(results)")
    }
    guard isDirectory.boolValue else { return [results] }
    let base = URL(fileURLWithPath: results)
    let own = base.appendingPathComponent("sweep.sqlite").path
    if fm.fileExists(atPath: own) { return [own] }
    return ((try? fm.contentsOfDirectory(atPath: results)) ?? []).sorted().map {
      base.appendingPathComponent($0).appendingPathComponent("sweep.sqlite").path
    }.filter { fm.fileExists(atPath: $0) }
  }

  func run() throws {
    let paths = try stores()
    if paths.isEmpty && !json { print("no sweeps under \(results)") }
    var rows: [[String]] = []
    var notes: [String] = []
    for path in paths {
      let store = try SweepStore(readOnlyPath: path)
      defer { try? store.close() }
      let unlinked = try store.unlinkedTrialCount()
      if unlinked > 0 {
        notes.append(
          "\(path): \(unlinked) trial\(unlinked == 1 ? "" : "s") in no sweep definition "
            + "(kept in the store, in no report; export --sweep shows only linked trials)")
      }
      for info in try store.sweeps() {
        let s = try store.status(sweepID: info.id)
        let when = info.lastRunAt.map { ISO8601DateFormatter().string(from: $0) } ?? "-"
        if json {
          var object: [String: Any] = [
            "store": path, "id": info.id, "name": info.name, "family": info.family,
            "version": info.version, "current": info.isCurrent, "trials": info.trialCount,
            "runs": info.runs, "lastRunAt": when, "path": info.path,
            "counts": Dictionary(
              uniqueKeysWithValues: TrialState.allCases.map { ($0.rawValue, s.count($0)) }),
          ]
          if let h = info.definitionHash { object["definitionHash"] = h }
          let data = try JSONSerialization.data(
            withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
          print(String(decoding: data, as: UTF8.self))
          continue
        }
        rows.append([
          info.name, "\(info.id)", info.isCurrent ? "yes" : "no", info.definitionHash ?? "-",
          "\(info.trialCount)", "\(s.count(.done))", "\(s.count(.diverged))",
          "\(s.count(.failed))", "\(s.count(.pending) + s.count(.running))", when,
          URL(fileURLWithPath: path).deletingLastPathComponent().path,
        ])
      }
    }
    defer { for n in notes where !json { print(n) } }
    guard !json, !rows.isEmpty else { return }
    let header = [
      "sweep", "id", "current", "definition", "trials", "done", "diverged", "failed", "pending",
      "last run", "folder",
    ]
    for line in alignedColumns([header] + rows) { print(line) }
  }
}

/// Opens the store of `results` (resolved as by every read command) for writing: refused while
/// a coordinator holds it.
private func writableStore(_ results: String?, sweep: String?) throws -> SweepStore {
  let path = try ResultsLocation.resolve(results, sweep: sweep)
  do {
    return try SweepStore(path: path)
  } catch let e as StoreError {
    if case .locked = e { throw UsageError(e.description) }
    throw e
  }
}

/// The definition `sweep` names (name such as small or small@2, or id) in `store`; a usage
/// error listing the store's definitions when there is none.
func definition(_ sweep: String, in store: SweepStore) throws -> SweepInfo {
  let all = try store.sweeps()
  guard
    let info = all.first(where: { $0.name == sweep }) ?? all.first(where: { "\($0.id)" == sweep })
  else {
    throw UsageError(
      "no sweep '\(sweep)' in \(store.path); sweeps there (name or id): "
        + (all.isEmpty ? "none" : all.map { "\($0.name) (\($0.id))" }.joined(separator: ", ")))
  }
  return info
}

struct DeleteSweep: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "delete",
    abstract: "Delete one sweep definition; its trials and their results stay in the store.",
    discussion:
      "Trials that no other definition contains are then in no sweep: `sweeps prune` deletes "
      + "them. Without --yes, only says what would be deleted.")

  @Argument(help: "The definition, by name (small, small@2) or id.")
  var sweep: String

  @Argument(help: "The folder given to run --results, a sweep's folder, or its sweep.sqlite.")
  var results: String?

  @Flag(help: "Delete (without it: a dry run).")
  var yes = false

  func run() throws {
    let store = try writableStore(results, sweep: sweep)
    defer { try? store.close() }
    let info = try definition(sweep, in: store)
    guard yes else {
      print(
        "would delete sweep \(info.name) (id \(info.id), \(info.trialCount) trials linked, "
          + "\(info.runs) runs) from \(store.path); pass --yes to delete it")
      return
    }
    try store.deleteSweep(id: info.id)
    let unlinked = try store.unlinkedTrialCount()
    print(
      "deleted sweep \(info.name) (id \(info.id)); \(unlinked) trial\(unlinked == 1 ? "" : "s") "
        + "of the store \(unlinked == 1 ? "is" : "are") now in no sweep (sweeps prune deletes them)"
    )
  }
}

struct ArchiveSweep: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "archive",
    abstract: "Copy one sweep definition, with its trials and results, into a store of its own.",
    discussion:
      "The archive (default: archive/NAME-YYYYMMDD-HHMMSS.sqlite in the sweep's folder) is a "
      + "store like any other: status, report and export read it. With --delete, the "
      + "definition is then deleted from the live store, as `sweeps delete --yes` does.")

  @Argument(help: "The definition, by name (small, small@2) or id.")
  var sweep: String

  @Argument(help: "The folder given to run --results, a sweep's folder, or its sweep.sqlite.")
  var results: String?

  @Option(help: "The archive file to write (it must not exist).")
  var out: String?

  @Flag(help: "Delete the definition from the live store once the archive is written.")
  var delete = false

  func run() throws {
    let store = try writableStore(results, sweep: sweep)
    defer { try? store.close() }
    let info = try definition(sweep, in: store)
    let destination: String
    if let out {
      destination = out
    } else {
      let folder = URL(fileURLWithPath: store.path).deletingLastPathComponent()
        .appendingPathComponent("archive")
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      let stamp = DateFormatter()
      stamp.locale = Locale(identifier: "en_US_POSIX")
      stamp.timeZone = TimeZone(identifier: "UTC")
      stamp.dateFormat = "yyyyMMdd-HHmmss"
      destination =
        folder.appendingPathComponent("\(info.name)-\(stamp.string(from: Date())).sqlite")
        .path
    }
    if FileManager.default.fileExists(atPath: destination) {
      throw UsageError("--out: \(destination) exists already; archives are never overwritten")
    }
    let trials = try store.archive(sweepID: info.id, to: destination)
    print("archived sweep \(info.name) (id \(info.id), \(trials) trials) to \(destination)")
    if delete {
      try store.deleteSweep(id: info.id)
      print(
        "deleted sweep \(info.name) from \(store.path) (sweeps prune deletes trials now in no sweep)"
      )
    }
  }
}

struct PruneTrials: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "prune",
    abstract: "Delete the trials that belong to no sweep definition, with their results.",
    discussion: "Without --yes, only says how many there are.")

  @Argument(help: "The folder given to run --results, a sweep's folder, or its sweep.sqlite.")
  var results: String?

  @Flag(help: "Delete (without it: a dry run).")
  var yes = false

  func run() throws {
    let store = try writableStore(results, sweep: nil)
    defer { try? store.close() }
    let unlinked = try store.unlinkedTrialCount()
    guard yes else {
      print(
        "\(unlinked) trial\(unlinked == 1 ? "" : "s") in no sweep definition in \(store.path)"
          + (unlinked > 0 ? "; pass --yes to delete them with their results" : ""))
      return
    }
    let deleted = try store.pruneUnlinkedTrials()
    print("deleted \(deleted) trial\(deleted == 1 ? "" : "s") in no sweep from \(store.path)")
  }
}
