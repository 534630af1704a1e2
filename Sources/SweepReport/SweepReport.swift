import Foundation
import SweepStore
import TailNet

/// Output formats of `renderTable`.
public enum TableFormat: String, CaseIterable, Sendable {
  /// Aligned text for a terminal (wrapped to the width given).
  case table
  /// GitHub-flavoured Markdown.
  case markdown
  /// CSV with raw numbers (fractions, full precision).
  case csv
  /// JSON with the aggregation and the paired comparison.
  case json
}

/// What `SweepReport.write` produced.
public struct ReportSummary: Sendable {
  /// The folder written to.
  public var folder: URL
  /// Every file written, relative to `folder` (`report.md`, `summary.csv`, `figures/…svg`, …).
  public var files: [String]
  /// The grouping keys used.
  public var keys: [String]
  /// Number of groups in the summary table.
  public var groups: Int
  /// Trial counts over the whole sweep.
  public var totals: TrialCounts
}

/// Aggregation over seeds, tables (terminal, Markdown, CSV, JSON), SVG figures and an HTML page
/// for the results of a sweep.
public enum SweepReport {
  /// The tables of a report, in order: summary, paired comparison (and detail when asked).
  public static func tables(
    rows: [TrialRow], by keys: [String]? = nil, detail: Bool = false
  ) throws(ReportError) -> [Table] {
    let agg = try aggregate(rows, by: keys)
    let notes = noiseScaleNotes(rows)
    var t = [noted(summaryTable(agg), notes)]
    let p = paired(rows)
    if !p.rows.isEmpty { t.append(noted(pairedTable(p), notes)) }
    if detail { t.append(detailTable(agg)) }
    return t
  }

  /// The report's tables as one string for the terminal or a pipe.
  /// - Parameters:
  ///   - rows: the trials (any states).
  ///   - keys: grouping keys; nil groups by every varying key except seed.
  ///   - format: `table` (aligned, wrapped to `maxWidth`), `markdown`, `csv` (raw numbers; the
  ///     summary, a blank line, then the paired table) or `json`.
  ///   - detail: also the long table with n, mean, std and CI of every measurement.
  public static func renderTable(
    rows: [TrialRow], by keys: [String]? = nil, format: TableFormat = .table,
    maxWidth: Int = 100, detail: Bool = false
  ) throws(ReportError) -> String {
    switch format {
    case .table:
      let t = try tables(rows: rows, by: keys, detail: detail).map {
        $0.renderText(maxWidth: maxWidth)
      }
      return answerText(rows: rows, maxWidth: maxWidth) + t.joined(separator: "\n")
    case .markdown:
      let t = try tables(rows: rows, by: keys, detail: detail).map { $0.renderMarkdown() }
      return answerMarkdown(rows: rows) + t.joined(separator: "\n")
    case .csv:
      let agg = try aggregate(rows, by: keys)
      let p = paired(rows)
      var out = summaryCSVTable(agg).renderCSV()
      if !p.rows.isEmpty { out += "\n" + pairedCSVTable(p).renderCSV() }
      return out
    case .json:
      return try json(rows: rows, by: keys)
    }
  }

  /// The aggregation and the paired comparison as pretty-printed JSON (fractions, not percent).
  public static func json(rows: [TrialRow], by keys: [String]? = nil) throws(ReportError) -> String
  {
    struct Payload: Encodable {
      var aggregation: Aggregation
      var paired: PairedComparison
    }
    let payload = Payload(aggregation: try aggregate(rows, by: keys), paired: paired(rows))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    do {
      return String(decoding: try encoder.encode(payload), as: UTF8.self) + "\n"
    } catch {
      return "{}\n"
    }
  }

  /// Writes the whole report into `folder`: `report.md` (every table), `summary.csv`,
  /// `paired.csv`, `report.json`, `figures/*.svg` and `index.html` (tables and figures together,
  /// relative links). Existing report files are replaced; nothing else is touched.
  /// - Parameters:
  ///   - rows: the trials of the sweep (any states).
  ///   - folder: the results folder (created if missing).
  ///   - keys: grouping keys; nil groups by every varying key except seed.
  ///   - title: heading of report.md and index.html.
  public static func write(
    rows: [TrialRow], to folder: URL, by keys: [String]? = nil, title: String = "TailSweep report"
  ) throws(ReportError) -> ReportSummary {
    let agg = try aggregate(rows, by: keys)
    let p = paired(rows)
    let figs = figures(rows)
    let notes = noiseScaleNotes(rows)
    var shown = [noted(summaryTable(agg), notes)]
    if !p.rows.isEmpty { shown.append(noted(pairedTable(p), notes)) }
    shown.append(detailTable(agg))

    var files: [(String, String)] = []
    var md = "# \(title)\n\n"
    md += "Trials: \(agg.totals.total) (\(okText(agg.totals)), diverged \(agg.totals.diverged), "
    md += "failed \(agg.totals.failed), pending \(agg.totals.pending)). "
    md +=
      "Grouped by: \(agg.keys.isEmpty ? "nothing (all trials together)" : agg.keys.joined(separator: ", ")).\n\n"
    md += answerMarkdown(rows: rows)
    md += "## Figures\n\n"
    for f in figs { md += "![\(f.title)](figures/\(f.name).svg)\n\n" }
    md += "## Tables\n\n"
    md += shown.map { $0.renderMarkdown() }.joined(separator: "\n")
    files.append(("report.md", md))
    files.append(("summary.csv", summaryCSVTable(agg).renderCSV()))
    files.append(("paired.csv", pairedCSVTable(p).renderCSV()))
    files.append(("report.json", try json(rows: rows, by: keys)))
    for f in figs { files.append(("figures/\(f.name).svg", f.svg)) }
    files.append(
      (
        "index.html",
        indexHTML(
          title: title, agg: agg, answer: answer(rows: rows), tables: shown, figures: figs)
      ))

    let fm = FileManager.default
    do {
      try fm.createDirectory(
        at: folder.appendingPathComponent("figures"), withIntermediateDirectories: true)
    } catch {
      throw ReportError.io(
        path: folder.path, message: "cannot create folder: \(error.localizedDescription)")
    }
    for (name, text) in files {
      let url = folder.appendingPathComponent(name)
      do {
        try Data(text.utf8).write(to: url, options: .atomic)
      } catch {
        throw ReportError.io(path: url.path, message: "cannot write: \(error.localizedDescription)")
      }
    }
    return ReportSummary(
      folder: folder, files: files.map(\.0), keys: agg.keys, groups: agg.groups.count,
      totals: agg.totals)
  }

  /// A self-contained HTML page: inline CSS, the tables, and the figures as relative links.
  /// Order: the answer (one statement per comparison), the figures, then the tables.
  static func indexHTML(
    title: String, agg: Aggregation, answer: [String], tables: [Table], figures: [Figure]
  ) -> String {
    let t = agg.totals
    var h = """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <title>\(htmlEscape(title))</title>
      <style>
      body { font-family: DejaVu Sans, Verdana, Arial, sans-serif; margin: 2em; color: #111; max-width: 1200px; }
      table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
      caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
      th, td { border: 1px solid #ccc; padding: 3px 8px; }
      th { background: #f0f0f0; }
      td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
      td.txt, th.txt { text-align: left; }
      p.notes { font-size: 12px; color: #444; }
      figure { display: inline-block; vertical-align: top; margin: 0.5em 1em 0.5em 0; }
      figure img { max-width: 560px; width: 100%; border: 1px solid #ddd; }
      figcaption { font-size: 13px; color: #333; max-width: 560px; }
      ul#answer li { margin: 0.3em 0; }
      </style>
      </head>
      <body>
      <h1>\(htmlEscape(title))</h1>
      <p>Trials: \(t.total) (\(okText(t)), diverged \(t.diverged), failed \(t.failed), pending \(t.pending)).
      Grouped by: \(htmlEscape(agg.keys.isEmpty ? "nothing" : agg.keys.joined(separator: ", "))).
      Files: <a href="report.md">report.md</a>, <a href="summary.csv">summary.csv</a>,
      <a href="paired.csv">paired.csv</a>, <a href="report.json">report.json</a>.</p>

      """
    h += "<h2>Answer</h2>\n<ul id=\"answer\">\n"
    if answer.isEmpty { h += "<li>No paired comparison of noisy and plain SGD yet.</li>\n" }
    for a in answer { h += "<li>\(htmlEscape(a))</li>\n" }
    h += "</ul>\n<p class=\"notes\">\(htmlEscape(answerNote))</p>\n"
    h += "<h2>Figures</h2>\n"
    for f in figures {
      h += """
        <figure id="\(f.name)"><a href="figures/\(f.name).svg"><img src="figures/\(f.name).svg" \
        alt="\(htmlEscape(f.title))"></a><figcaption>\(htmlEscape(f.title))</figcaption></figure>

        """
    }
    h += "<h2>Tables</h2>\n"
    for table in tables { h += table.renderHTML() }
    h += "</body>\n</html>\n"
    return h
  }
}
