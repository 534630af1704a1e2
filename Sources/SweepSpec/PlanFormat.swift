import Foundation
import TailNet

extension DatasetSpec {
  /// `mnist`, or `mnist (trainLimit 10000, testLimit 2000)` when fields are set.
  public var summary: String {
    var parts: [String] = []
    if let v = trainLimit { parts.append("trainLimit \(v)") }
    if let v = testLimit { parts.append("testLimit \(v)") }
    if let v = binarize { parts.append("binarize \(v)") }
    if let v = resplit { parts.append("resplit \(v)") }
    if let v = dataSeed { parts.append("dataSeed \(v)") }
    if let v = inputs { parts.append("inputs \(v)") }
    if let v = classes { parts.append("classes \(v)") }
    if let v = trainSize { parts.append("trainSize \(v)") }
    if let v = testSize { parts.append("testSize \(v)") }
    if let v = teacherWidth { parts.append("teacherWidth \(v)") }
    return parts.isEmpty ? name : "\(name) (\(parts.joined(separator: ", ")))"
  }
}

extension Sweep {
  /// The sum of the trials' relative costs (in units of the cheapest trial).
  public var totalRelativeCost: Double { trials.reduce(0) { $0 + $1.relativeCost } }

  /// What `tailsweep plan` prints: a summary, the settings shared by every trial, and a table
  /// with one row per trial (id, the keys that vary, relative cost), most expensive first.
  public func planText() -> String {
    func cell(_ key: String, _ c: TrialConfig) -> String {
      guard let v = ConfigKeys.get(key, c) else { return "" }
      if case .dataset(let d) = v { return d.summary }
      return v.text
    }
    // Keys that do not apply are left out: a fully connected sweep shows no model or
    // channels, a sweep of VGGs only no width or depth.
    let allVGG = trials.allSatisfy { $0.config.modelKind == .vgg11 }
    let keys = ConfigKeys.names.filter { k in
      switch k {
      case "model": return trials.contains { $0.config.model != nil }
      case "width", "depth": return !allVGG
      default: return trials.contains { cell(k, $0.config) != "" }
      }
    }
    let varying = keys.filter { k in Set(trials.map { cell(k, $0.config) }).count > 1 }
    var out = "sweep \(name) (\(path)): \(description)\n"
    out += "\(trials.count) trial\(trials.count == 1 ? "" : "s")"
    if mergedDuplicates > 0 {
      out +=
        ", merged \(mergedDuplicates) identical point\(mergedDuplicates == 1 ? "" : "s")"
        + " made by overrides"
    }
    out += "; total relative cost \(Self.cost(totalRelativeCost))"
    out += " (1 = the cheapest trial); retries \(settings.retries),"
    out += " trial timeout \(Value.format(settings.trialTimeout)) s\n"
    if let first = trials.first {
      let fixed = keys.filter { !varying.contains($0) }.map { "\($0) \(cell($0, first.config))" }
      if !fixed.isEmpty { out += "fixed: " + fixed.joined(separator: ", ") + "\n" }
    }
    out += "\n"
    let header = ["id"] + varying + ["relative cost"]
    var rows = [header]
    for t in trials {
      rows.append([t.id.short] + varying.map { cell($0, t.config) } + [Self.cost(t.relativeCost)])
    }
    var widths = [Int](repeating: 0, count: header.count)
    for r in rows {
      for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) }
    }
    for r in rows {
      let padded = r.enumerated().map { i, c in
        i == r.count - 1
          ? String(repeating: " ", count: widths[i] - c.count) + c
          : c + String(repeating: " ", count: widths[i] - c.count)
      }
      out += padded.joined(separator: "  ") + "\n"
    }
    return out
  }

  /// What `tailsweep plan --json` prints: an object with `name`, `description`, `path`,
  /// `count`, `mergedDuplicates`, `settings`, `totalRelativeCost` and `trials` (each with `id`,
  /// `relativeCost` and the full `config`), keys sorted.
  public func planJSON() throws -> String {
    struct Plan: Encodable {
      var name: String
      var description: String
      var path: String
      var count: Int
      var mergedDuplicates: Int
      var settings: SweepSettings
      var totalRelativeCost: Double
      var trials: [PlannedTrial]
    }
    let plan = Plan(
      name: name, description: description, path: path, count: trials.count,
      mergedDuplicates: mergedDuplicates, settings: settings,
      totalRelativeCost: totalRelativeCost, trials: trials)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(plan), as: UTF8.self)
  }

  static func cost(_ x: Double) -> String {
    x >= 100 ? String(format: "%.0f", x) : String(format: "%.3g", x)
  }
}
