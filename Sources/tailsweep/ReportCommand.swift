import ArgumentParser
import Foundation
import SweepReport
import SweepStore

/// `tailsweep report [RESULTS] [--by k1,k2] [--format table|markdown|csv|json] [--out DIR]`.
struct Report: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Aggregated tables and figures of a sweep's results.",
    discussion: """
      Groups trials by configuration keys and summarizes every measurement over the seeds
      (mean ± 95 % CI, Student t), counts diverged, failed and pending trials, and compares noisy
      with plain SGD seed by seed. Prints the tables and writes report.md, summary.csv,
      paired.csv, report.json, figures/*.svg and index.html into the results folder (or --out).
      """)

  @Argument(
    help:
      "Results folder containing sweep.sqlite, or the .sqlite file (default: the only folder under ./results)."
  )
  var results: String?

  @Option(
    help:
      "Comma-separated grouping keys, e.g. width,alpha,sigma (default: every key that varies, except seed)."
  )
  var by: String?

  @Option(help: "Terminal output: table, markdown, csv or json.")
  var format: String = "table"

  @Option(help: "Folder for the report files (default: the results folder).")
  var out: String?

  @Option(help: "Only the trials of this sweep (name or id; default: every trial in the store).")
  var sweep: String?

  @Flag(help: "Also print the long table with n, mean, std and 95 % CI of every measurement.")
  var detail = false

  @Flag(name: .customLong("no-files"), help: "Print only; write no files.")
  var noFiles = false

  @Option(help: "Width of terminal tables in characters.")
  var columns: Int = 100

  func run() throws {
    guard let fmt = TableFormat(rawValue: format) else {
      throw UsageError(
        "--format must be one of \(TableFormat.allCases.map(\.rawValue).joined(separator: ", ")), got '\(format)'"
      )
    }
    guard columns >= 40 else { throw UsageError("--columns must be at least 40, got \(columns)") }
    let keys: [String]? = try by.map { text in
      let k = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty }
      guard !k.isEmpty else { throw UsageError("--by needs at least one key") }
      return k
    }
    let storePath = try ResultsLocation.resolve(results)
    let folder = URL(fileURLWithPath: storePath).deletingLastPathComponent()
    let store: SweepStore
    do {
      store = try SweepStore(readOnlyPath: storePath)
    } catch let e as StoreError {
      if case .missing = e { throw UsageError(e.description) }
      throw e
    }
    var sweepID: Int64?
    if let sweep {
      if let id = Int64(sweep) {
        sweepID = id
      } else if let id = try store.sweepID(named: sweep) {
        sweepID = id
      } else {
        let names = try store.sweeps().map(\.name)
        throw UsageError(
          "no sweep named '\(sweep)' in \(storePath) (sweeps: \(names.isEmpty ? "none" : names.joined(separator: ", ")))"
        )
      }
    }
    let rows: [TrialRow]
    do {
      rows = try store.rows(sweepID: sweepID)
    } catch let e as StoreError {
      if case .unknownSweep = e { throw UsageError(e.description) }
      throw e
    }
    try? store.close()

    do {
      let text = try SweepReport.renderTable(
        rows: rows, by: keys, format: fmt, maxWidth: columns, detail: detail)
      FileHandle.standardOutput.write(Data(text.utf8))
      if !noFiles {
        let target = out.map { URL(fileURLWithPath: $0) } ?? folder
        let title = "TailSweep report: \(folder.lastPathComponent)"
        let summary = try SweepReport.write(rows: rows, to: target, by: keys, title: title)
        let line = "wrote \(summary.files.count) files to \(target.path) (open index.html)\n"
        FileHandle.standardError.write(Data(line.utf8))
      }
    } catch {
      // Typed throws: only ReportError reaches here.
      if case .unknownKey = error { throw UsageError(error.description) }
      throw error
    }
  }
}
