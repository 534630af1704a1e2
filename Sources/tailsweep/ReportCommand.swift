import ArgumentParser
import Foundation
import SweepReport
import SweepStore

/// `tailsweep report [RESULTS] [--by k1,k2] [--format table|markdown|csv|json] [--out DIR]`.
struct Report: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Aggregated tables and figures of a sweep's results.",
    discussion: """
      Groups trials by configuration keys and summarizes every measurement over the seeds \
      (mean ± 95 % CI, Student t), counts diverged, failed and pending trials, and compares noisy \
      with plain SGD seed by seed. Prints the tables and writes report.md, summary.csv, \
      paired.csv, report.json, figures/*.svg and index.html into the results folder (or --out).
      """)

  @OptionGroup var location: ResultsArguments

  @Option(
    help: ArgumentHelp(
      "Comma-separated grouping keys, e.g. width,alpha,sigma.",
      discussion: "Default: every key that varies, except seed."))
  var by: String?

  @OptionGroup var filter: WhereOption

  @Option(
    help: ArgumentHelp(
      "Another results folder (or store) whose trials join this report; repeatable.",
      discussion:
        "Its current definitions are read; the same trial in both counts once. Group by the key "
        + "that tells the folders apart (it is in the default grouping when it varies)."))
  var compare: [String] = []

  @Option(help: "Terminal output: table, markdown, csv or json.")
  var format: String = "table"

  @Option(
    help: ArgumentHelp(
      "Folder for the report files.", discussion: "Default: the sweep's results folder."))
  var out: String?

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
    let (store, chosen) = try ResultsLocation.open(location.results, sweep: location.sweep)
    let storePath = store.path
    let folder = URL(fileURLWithPath: storePath).deletingLastPathComponent()
    var rows: [TrialRow]
    do {
      rows = try ResultsLocation.rows(store, sweeps: chosen)
    } catch let e as StoreError {
      if case .unknownSweep = e { throw UsageError(e.description) }
      throw e
    }
    try? store.close()
    var seen = Set(rows.map(\.id))
    for other in compare {
      let (more, ids) = try ResultsLocation.open(other, sweep: nil)
      for r in try ResultsLocation.rows(more, sweeps: ids) where seen.insert(r.id).inserted {
        rows.append(r)
      }
      try? more.close()
    }
    rows = try filter.apply(rows)

    do {
      if keys != nil {
        let pooled = try SweepReport.aggregate(rows, by: keys).pooledKeys
        if !pooled.isEmpty {
          FileHandle.standardError.write(
            Data(
              ("warning: --by \(keys?.joined(separator: ",") ?? "") pools trials that differ in "
                + "\(pooled.joined(separator: ", ")); add \(pooled.count == 1 ? "it" : "them") to "
                + "--by (or use --where) to keep them apart\n").utf8))
        }
      }
      let text = try SweepReport.renderTable(
        rows: rows, by: keys, format: fmt, maxWidth: columns, detail: detail)
      FileHandle.standardOutput.write(Data(text.utf8))
      if !noFiles {
        let target = out.map { URL(fileURLWithPath: $0) } ?? folder
        let names =
          [folder.lastPathComponent] + compare.map { URL(fileURLWithPath: $0).lastPathComponent }
        let title = "TailSweep report: \(names.joined(separator: " + "))"
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
