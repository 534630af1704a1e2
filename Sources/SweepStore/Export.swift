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
  /// The flat columns of the CSV and Markdown formats, in order.
  public static let columns: [String] = [
    "trial", "state", "attempts", "dataset", "dataset_options", "width", "depth", "eta",
    "batch_size", "alpha", "sigma", "noise_type", "target_accuracy", "max_iterations",
    "eval_every", "budget", "seed", "stop_reason", "iterations", "diverged_at", "wall_seconds",
    "train_loss", "train_accuracy", "test_loss", "test_accuracy", "pruning_ratio",
    "unpruned_test_accuracy", "pruned_test_accuracy", "pruned_train_accuracy", "dataset_hash",
    "last_error",
  ]

  /// The columns of `rows`: `columns`, then `model` and `channels` when some row is not a
  /// fully connected network (so exports of fully connected sweeps are unchanged).
  public static func columns(for rows: [TrialRow]) -> [String] {
    hasModels(rows) ? columns + ["model", "channels"] : columns
  }

  static func hasModels(_ rows: [TrialRow]) -> Bool {
    rows.contains { $0.config.modelKind != .fcn }
  }

  /// `values(_:)`, then the model and channel multiplier when `models` is true.
  public static func values(_ row: TrialRow, models: Bool) -> [String] {
    let base = values(row)
    guard models else { return base }
    return base + [row.config.modelKind.rawValue, row.config.channels.map { "\($0)" } ?? ""]
  }

  /// The flat values of one row, aligned with `columns` (empty string: no value).
  public static func values(_ row: TrialRow) -> [String] {
    let c = row.config
    let r = row.result
    let f = r?.training.final
    let comp = r?.compression
    func num(_ x: Double?) -> String { x.map { "\($0)" } ?? "" }
    func int(_ x: Int?) -> String { x.map { "\($0)" } ?? "" }
    return [
      row.id.hex, row.state.rawValue, "\(row.attempts)", c.dataset.name,
      datasetOptions(c.dataset), "\(c.width)", "\(c.depth)", "\(c.eta)", "\(c.batchSize)",
      "\(c.alpha)", "\(c.sigma)", "\(c.noiseType.rawValue)", "\(c.targetAccuracy)",
      "\(c.maxIterations)", "\(c.evalEvery)", "\(c.budget)", "\(c.seed)",
      r?.training.stopReason.rawValue ?? "", int(r?.training.iterations),
      int(r?.training.divergedAt), num(r?.training.wallSeconds), num(f?.trainLoss),
      num(f?.trainAccuracy), num(f?.testLoss), num(f?.testAccuracy), num(comp?.pruningRatio),
      num(comp?.unpruned.testAccuracy), num(comp?.pruned.testAccuracy),
      num(comp?.pruned.trainAccuracy), r?.datasetHash ?? "", row.lastError ?? "",
    ]
  }

  /// The whole export in `format`, ending with a newline.
  public static func render(_ rows: [TrialRow], format: ExportFormat) throws -> String {
    switch format {
    case .csv:
      let models = hasModels(rows)
      var out = columns(for: rows).joined(separator: ",") + "\n"
      for row in rows {
        out += values(row, models: models).map(csvField).joined(separator: ",") + "\n"
      }
      return out
    case .markdown:
      let models = hasModels(rows)
      let header = columns(for: rows)
      var out = "| " + header.joined(separator: " | ") + " |\n"
      out += "|" + header.map { _ in " --- |" }.joined() + "\n"
      for row in rows {
        out +=
          "| " + values(row, models: models).map(markdownCell).joined(separator: " | ") + " |\n"
      }
      return out
    case .jsonl:
      let encoder = StoreJSON.encoder()
      var out = ""
      for row in rows {
        let line = JSONLine(
          id: row.id.hex, state: row.state.rawValue, attempts: row.attempts, config: row.config,
          result: row.result, lastError: row.lastError)
        out += String(decoding: try encoder.encode(line), as: UTF8.self) + "\n"
      }
      return out
    }
  }

  private struct JSONLine: Encodable {
    var id: String
    var state: String
    var attempts: Int
    var config: TrialConfig
    var result: TrialResult?
    var lastError: String?

    enum CodingKeys: String, CodingKey { case id, state, attempts, config, result, lastError }

    func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(id, forKey: .id)
      try c.encode(state, forKey: .state)
      try c.encode(attempts, forKey: .attempts)
      try c.encode(config, forKey: .config)
      // Explicit nulls, so every line has the same keys.
      try c.encode(result, forKey: .result)
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
