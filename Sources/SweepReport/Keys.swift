import Foundation
import TailNet

/// The value of one configuration key of a trial, comparable for sorting groups.
public enum KeyValue: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
  /// A numeric key (width, alpha, sigma, eta, …).
  case number(Double)
  /// A textual key (the data set).
  case text(String)

  /// The shortest spelling of the value: `5000`, `1.75`, `0.003`, `mnist`.
  public var description: String {
    switch self {
    case .number(let x): return formatKeyNumber(x)
    case .text(let s): return s
    }
  }

  /// The numeric value, nil for text.
  public var number: Double? {
    if case .number(let x) = self { return x }
    return nil
  }

  /// Numbers by value, texts alphabetically, numbers before texts.
  public static func < (a: KeyValue, b: KeyValue) -> Bool {
    switch (a, b) {
    case (.number(let x), .number(let y)): return x < y
    case (.text(let x), .text(let y)): return x < y
    case (.number, .text): return true
    case (.text, .number): return false
    }
  }

  /// Decodes a JSON number or string.
  public init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if let x = try? c.decode(Double.self) {
      self = .number(x)
    } else {
      self = .text(try c.decode(String.self))
    }
  }

  /// Encodes as a JSON number or string.
  public func encode(to encoder: Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case .number(let x): try c.encode(x)
    case .text(let s): try c.encode(s)
    }
  }
}

/// Integers without a decimal point, other numbers in Swift's shortest round-trip form.
func formatKeyNumber(_ x: Double) -> String {
  if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
  return "\(x)"
}

/// The configuration keys a report can group by, named as in `TrialConfig` and sweep files.
public enum ConfigKey {
  /// Every key, in display order (`seed` last).
  public static let all: [String] = [
    "dataset", "depth", "width", "eta", "batchSize", "noiseType", "alpha", "sigma",
    "targetAccuracy", "maxIterations", "evalEvery", "budget", "model", "channels", "seed",
  ]

  /// The keys that describe the injected noise; a paired comparison holds everything else fixed.
  public static let noiseKeys: Set<String> = ["alpha", "sigma", "noiseType"]

  /// Keys whose values are spread over orders of magnitude (drawn on a log axis).
  static let logScale: Set<String> = ["width", "channels", "eta", "batchSize", "maxIterations"]

  /// The value of `key` in `config`; nil for an unknown key.
  public static func value(_ key: String, of config: TrialConfig) -> KeyValue? {
    switch key {
    case "dataset": return .text(datasetLabel(config.dataset))
    case "depth": return .number(Double(config.depth))
    case "width": return .number(Double(config.width))
    case "eta": return .number(config.eta)
    case "batchSize": return .number(Double(config.batchSize))
    case "noiseType": return .number(Double(config.noiseType.rawValue))
    case "alpha": return .number(config.alpha)
    case "sigma": return .number(config.sigma)
    case "targetAccuracy": return .number(config.targetAccuracy)
    case "maxIterations": return .number(Double(config.maxIterations))
    case "evalEvery": return .number(Double(config.evalEvery))
    case "budget": return .number(config.budget)
    case "seed": return .number(Double(config.seed))
    case "model": return .text(config.modelKind.rawValue)
    case "channels": return .number(config.channels ?? 0)
    default: return nil
    }
  }

  /// The data set and its cut in one short string: `mnist[train=10000]`, `ucr/ECG5000[bin=1]`.
  public static func datasetLabel(_ d: DatasetSpec) -> String {
    var parts: [String] = []
    if let v = d.trainLimit { parts.append("train=\(v)") }
    if let v = d.testLimit { parts.append("test=\(v)") }
    if let v = d.binarize { parts.append("bin=\(v)") }
    if let v = d.resplit { parts.append("resplit=\(v)") }
    if let v = d.dataSeed { parts.append("dseed=\(v)") }
    if let v = d.inputs { parts.append("d=\(v)") }
    if let v = d.classes { parts.append("C=\(v)") }
    if let v = d.trainSize { parts.append("ntrain=\(v)") }
    if let v = d.testSize { parts.append("ntest=\(v)") }
    if let v = d.teacherWidth { parts.append("teacher=\(v)") }
    return parts.isEmpty ? d.name : d.name + "[" + parts.joined(separator: ",") + "]"
  }

  /// A short symbol for headers and legends: α, σ, η, n, b.
  public static func symbol(_ key: String) -> String {
    switch key {
    case "alpha": return "α"
    case "sigma": return "σ"
    case "eta": return "η"
    case "width": return "n"
    case "channels": return "m"
    case "batchSize": return "b"
    case "noiseType": return "type"
    case "targetAccuracy": return "target"
    case "maxIterations": return "maxIter"
    case "budget": return "r"
    default: return key
    }
  }

  /// The keys (other than seed) whose value differs between some of `configs`, in display order.
  public static func varying(in configs: [TrialConfig]) -> [String] {
    all.filter { key in
      key != "seed" && Set(configs.compactMap { value(key, of: $0) }).count > 1
    }
  }
}
