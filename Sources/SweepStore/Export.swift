import Foundation
import SweepSpec
import TailNet

/// Output formats of `tailsweep export`.
public enum ExportFormat: String, Sendable, CaseIterable {
  /// Comma-separated values with a header line (RFC 4180 quoting).
  case csv
  /// One JSON object per line: id, state, attempts, full config, full result, last error.
  case jsonl
  /// A GitHub-flavoured Markdown table.
  case markdown
}

/// Renders trial rows as CSV, JSON Lines or Markdown: one row per trial with its configuration
/// and measurements.
public enum TrialExport {
  /// The flat columns of the CSV and Markdown formats, in order. Configuration keys are named
  /// as in sweep files; accuracies, losses and the pruning ratio are fractions (not percent),
  /// `wallSeconds` is in seconds, times are ISO 8601 in UTC, `tailIndex…Hill` are the Hill
  /// estimates α̂ of layer 1 (neuron norms, entries).
  public static let columns: [String] = [
    "trial", "sweep", "state", "attempts", "dataset", "datasetOptions", "width", "depth", "eta",
    "batchSize", "alpha", "sigma", "noiseType", "targetAccuracy", "maxIterations", "evalEvery",
    "budget", "seed", "stopReason", "iterations", "divergedAt", "wallSeconds", "trainLoss",
    "trainAccuracy", "testLoss", "testAccuracy", "pruningRatio", "unprunedTestAccuracy",
    "prunedTestAccuracy", "prunedTrainAccuracy", "tailIndexNormsHill", "tailIndexEntriesHill",
    "startedAt", "committedAt", "datasetHash", "lastError",
  ]

  /// What the store knows of a trial beyond its row: the sweep it is exported as part of and
  /// when its first attempt started and its result was committed.
  public struct Context: Sendable {
    /// The sweep's name (`small`, `small@2`).
    public var sweep: String
    /// First attempt start and commit time per trial.
    public var times: [TrialID: TrialTimes]
    /// Creates a context.
    public init(sweep: String, times: [TrialID: TrialTimes]) {
      self.sweep = sweep
      self.times = times
    }
  }

  /// The columns of `rows`: `columns`, then `model` and `channels` when some row is not a
  /// fully connected network (so exports of fully connected sweeps are unchanged).
  public static func columns(for rows: [TrialRow]) -> [String] {
    hasModels(rows) ? columns + ["model", "channels"] : columns
  }

  static func hasModels(_ rows: [TrialRow]) -> Bool {
    rows.contains { $0.config.modelKind != .fcn }
  }

  /// `values(_:context:)`, then the model and channel multiplier when `models` is true.
  public static func values(_ row: TrialRow, context: Context? = nil, models: Bool) -> [String] {
    let base = values(row, context: context)
    guard models else { return base }
    return base + [row.config.modelKind.rawValue, row.config.channels.map { "\($0)" } ?? ""]
  }

  /// The flat values of one row, aligned with `columns` (empty string: no value).
  public static func values(_ row: TrialRow, context: Context? = nil) -> [String] {
    let c = row.config
    let r = row.result
    let f = r?.training.final
    let comp = r?.compression
    let layer = comp?.layers.first
    let times = context?.times[row.id]
    func num(_ x: Double?) -> String { x.map { "\($0)" } ?? "" }
    func int(_ x: Int?) -> String { x.map { "\($0)" } ?? "" }
    func time(_ d: Date?) -> String { d.map(isoTime) ?? "" }
    return [
      row.id.hex, context?.sweep ?? "", row.state.rawValue, "\(row.attempts)", c.dataset.name,
      datasetOptions(c.dataset), "\(c.width)", "\(c.depth)", "\(c.eta)", "\(c.batchSize)",
      "\(c.alpha)", "\(c.sigma)", "\(c.noiseType.rawValue)", "\(c.targetAccuracy)",
      "\(c.maxIterations)", "\(c.evalEvery)", "\(c.budget)", "\(c.seed)",
      r?.training.stopReason.rawValue ?? "", int(r?.training.iterations),
      int(r?.training.divergedAt), num(r?.training.wallSeconds), num(f?.trainLoss),
      num(f?.trainAccuracy), num(f?.testLoss), num(f?.testAccuracy), num(comp?.pruningRatio),
      num(comp?.unpruned.testAccuracy), num(comp?.pruned.testAccuracy),
      num(comp?.pruned.trainAccuracy), num(layer?.tailIndexNorms.hill),
      num(layer?.tailIndexEntries.hill), time(times?.firstStarted), time(times?.committed),
      r?.datasetHash ?? "", row.lastError ?? "",
    ]
  }

  /// The whole export in `format`, ending with a newline.
  public static func render(_ rows: [TrialRow], format: ExportFormat, context: Context? = nil)
    throws -> String
  {
    switch format {
    case .csv:
      let models = hasModels(rows)
      var out = columns(for: rows).joined(separator: ",") + "\n"
      for row in rows {
        out += values(row, context: context, models: models).map(csvField).joined(separator: ",")
        out += "\n"
      }
      return out
    case .markdown:
      // For reading: short ids, numbers to 4 significant digits, no data-set hash.
      let models = hasModels(rows)
      let all = columns(for: rows)
      let shown = all.filter { $0 != "datasetHash" }
      let keep = all.indices.filter { all[$0] != "datasetHash" }
      var out = "| " + shown.joined(separator: " | ") + " |\n"
      out += "|" + shown.map { _ in " --- |" }.joined() + "\n"
      for row in rows {
        var v = values(row, context: context, models: models)
        v[0] = row.id.short
        let cells = keep.map { i -> String in
          let text = v[i]
          if let x = Double(text), text.contains(".") || text.contains("e") {
            return String(format: "%.4g", x)
          }
          return text
        }
        out += "| " + cells.map(markdownCell).joined(separator: " | ") + " |\n"
      }
      return out
    case .jsonl:
      let encoder = StoreJSON.encoder()
      var out = ""
      for row in rows {
        let times = context?.times[row.id]
        let layer = row.result?.compression?.layers.first
        let line = JSONLine(
          id: row.id.hex, sweep: context?.sweep, state: row.state.rawValue,
          attempts: row.attempts, config: row.config, result: row.result,
          tailIndexNormsHill: layer?.tailIndexNorms.hill,
          tailIndexEntriesHill: layer?.tailIndexEntries.hill,
          startedAt: times?.firstStarted.map(isoTime), committedAt: times?.committed.map(isoTime),
          lastError: row.lastError)
        out += String(decoding: try encoder.encode(line), as: UTF8.self) + "\n"
      }
      return out
    }
  }

  private struct JSONLine: Encodable {
    var id: String
    var sweep: String?
    var state: String
    var attempts: Int
    var config: TrialConfig
    var result: TrialResult?
    var tailIndexNormsHill: Double?
    var tailIndexEntriesHill: Double?
    var startedAt: String?
    var committedAt: String?
    var lastError: String?

    enum CodingKeys: String, CodingKey {
      case id, sweep, state, attempts, config, result, tailIndexNormsHill, tailIndexEntriesHill
      case startedAt, committedAt, lastError
    }

    func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(id, forKey: .id)
      // Explicit nulls, so every line has the same keys.
      try c.encode(sweep, forKey: .sweep)
      try c.encode(state, forKey: .state)
      try c.encode(attempts, forKey: .attempts)
      try c.encode(config, forKey: .config)
      try c.encode(result, forKey: .result)
      try c.encode(tailIndexNormsHill, forKey: .tailIndexNormsHill)
      try c.encode(tailIndexEntriesHill, forKey: .tailIndexEntriesHill)
      try c.encode(startedAt, forKey: .startedAt)
      try c.encode(committedAt, forKey: .committedAt)
      try c.encode(lastError, forKey: .lastError)
    }
  }

  /// Dataset options other than the name, as `key=value` pairs joined by `;` (sorted by key).
  static func datasetOptions(_ d: DatasetSpec) -> String {
    var parts: [String] = []
    func add(_ key: String, _ value: (any CustomStringConvertible)?) {
      if let value { parts.append("\(key)=\(value)") }
    }
    add("binarize", d.binarize)
    add("classes", d.classes)
    add("dataSeed", d.dataSeed)
    add("inputs", d.inputs)
    add("resplit", d.resplit)
    add("teacherWidth", d.teacherWidth)
    add("testLimit", d.testLimit)
    add("testSize", d.testSize)
    add("trainLimit", d.trainLimit)
    add("trainSize", d.trainSize)
    return parts.joined(separator: ";")
  }

  /// ISO 8601 in UTC with milliseconds.
  static func isoTime(_ d: Date) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.string(from: d)
  }

  static func csvField(_ s: String) -> String {
    if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
      return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
    return s
  }

  static func markdownCell(_ s: String) -> String {
    s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\r\n", with: " ")
      .replacingOccurrences(of: "\n", with: " ")
  }
}
