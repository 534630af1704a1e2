import Foundation
import TailNet

/// The type of a `TrialConfig` key in a sweep file.
enum KeyType {
  case int, double, noise, seed, dataset, model
}

/// A parsed value of one `TrialConfig` key.
enum Value: Hashable {
  case int(Int)
  case double(Double)
  case noise(NoiseType)
  case seed(UInt64)
  case dataset(DatasetSpec)
  case model(ModelKind)

  /// How the value is shown in messages and tables.
  var text: String {
    switch self {
    case .int(let v): return "\(v)"
    case .double(let v): return Value.format(v)
    case .noise(let n): return "\(n.rawValue)"
    case .seed(let s): return "\(s)"
    case .dataset(let d): return d.name
    case .model(let m): return m.rawValue
    }
  }

  /// Shortest text of a double: `0.01`, `2`, `1e-05`.
  static func format(_ v: Double) -> String {
    if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
    return v.description
  }
}

/// The `TrialConfig` keys, their types, reading and writing.
enum ConfigKeys {
  /// Every key, in `TrialConfig`'s order.
  static let all: [(name: String, type: KeyType)] = [
    ("dataset", .dataset), ("width", .int), ("depth", .int), ("eta", .double),
    ("batchSize", .int), ("alpha", .double), ("sigma", .double), ("noiseType", .noise),
    ("targetAccuracy", .double), ("maxIterations", .int), ("evalEvery", .int),
    ("budget", .double), ("seed", .seed), ("model", .model), ("channels", .double),
  ]

  static let names = all.map(\.name)

  static func type(of key: String) -> KeyType? { all.first { $0.name == key }?.type }

  /// Keys without a default in `TrialConfig.init`: every sweep must give them.
  static let required = ["dataset", "width", "eta", "batchSize"]

  /// A configuration that passes `problems()`, onto which single values are written to check
  /// them on their own.
  static let probe = TrialConfig(
    dataset: DatasetSpec(name: "mnist"), width: 1, eta: 0.1, batchSize: 1)

  static func get(_ key: String, _ c: TrialConfig) -> Value? {
    switch key {
    case "dataset": return .dataset(c.dataset)
    case "width": return .int(c.width)
    case "depth": return .int(c.depth)
    case "eta": return .double(c.eta)
    case "batchSize": return .int(c.batchSize)
    case "alpha": return .double(c.alpha)
    case "sigma": return .double(c.sigma)
    case "noiseType": return .noise(c.noiseType)
    case "targetAccuracy": return .double(c.targetAccuracy)
    case "maxIterations": return .int(c.maxIterations)
    case "evalEvery": return .int(c.evalEvery)
    case "budget": return .double(c.budget)
    case "seed": return .seed(c.seed)
    case "model": return .model(c.modelKind)
    case "channels": return c.channels.map { .double($0) }
    default: return nil
    }
  }

  static func set(_ key: String, _ value: Value, _ c: inout TrialConfig) {
    switch (key, value) {
    case ("dataset", .dataset(let d)): c.dataset = d
    case ("width", .int(let v)): c.width = v
    case ("depth", .int(let v)): c.depth = v
    case ("eta", .double(let v)): c.eta = v
    case ("batchSize", .int(let v)): c.batchSize = v
    case ("alpha", .double(let v)): c.alpha = v
    case ("sigma", .double(let v)): c.sigma = v
    case ("noiseType", .noise(let n)): c.noiseType = n
    case ("targetAccuracy", .double(let v)): c.targetAccuracy = v
    case ("maxIterations", .int(let v)): c.maxIterations = v
    case ("evalEvery", .int(let v)): c.evalEvery = v
    case ("budget", .double(let v)): c.budget = v
    case ("seed", .seed(let s)): c.seed = s
    case ("model", .model(let m)): c.model = m
    case ("channels", .double(let v)): c.channels = v
    default: break
    }
  }

  /// Names accepted for noise types (case-insensitive), besides the numbers 0–3.
  static let noiseNames: [String: NoiseType] = [
    "none": .none, "neuron": .perNeuron, "perneuron": .perNeuron, "entry": .perEntry,
    "perentry": .perEntry, "isotropic": .isotropic,
  ]
}

/// Suggestions for unknown keys.
enum Suggest {
  /// Common other names for keys (compared after lower-casing and removing `_` and `-`).
  static let aliases: [String: String] = [
    "lr": "eta", "learningrate": "eta", "stepsize": "eta", "step": "eta",
    "batch": "batchSize", "bs": "batchSize", "minibatch": "batchSize",
    "minibatchsize": "batchSize",
    "n": "width", "hidden": "width", "hiddenwidth": "width", "neurons": "width",
    "hiddensize": "width", "layers": "depth", "hiddenlayers": "depth",
    "noise": "noiseType", "type": "noiseType", "scale": "sigma", "noisescale": "sigma",
    "tailindex": "alpha", "a": "alpha", "s": "sigma",
    "iterations": "maxIterations", "iters": "maxIterations", "maxiter": "maxIterations",
    "maxiters": "maxIterations", "steps": "maxIterations", "maxsteps": "maxIterations",
    "target": "targetAccuracy", "targetacc": "targetAccuracy", "accuracy": "targetAccuracy",
    "eval": "evalEvery", "evalinterval": "evalEvery", "evaluateevery": "evalEvery",
    "r": "budget", "errorbudget": "budget", "prunebudget": "budget",
    "data": "dataset", "seed": "seeds", "seeds": "seed", "axes": "grid", "sweep": "grid",
    "settings": "run", "base": "include", "extends": "include", "includes": "include",
    "override": "overrides", "fixed": "train", "training": "train", "desc": "description",
    "title": "name", "limit": "trainLimit", "ntrain": "trainLimit", "ntest": "testLimit",
    "seeddata": "dataSeed", "datasetseed": "dataSeed", "split": "resplit",
    "retry": "retries", "timeout": "trialTimeout", "zipped": "zip", "if": "when",
    "match": "when", "then": "set", "values": "set", "start": "from", "stop": "to",
    "end": "to", "num": "count", "n_points": "count", "logscale": "log", "logarithmic": "log",
    "architecture": "model", "arch": "model", "network": "model", "net": "model",
    "multiplier": "channels", "channelmultiplier": "channels", "widthmultiplier": "channels",
  ]

  private static func fold(_ s: String) -> String {
    String(s.lowercased().filter { $0 != "_" && $0 != "-" && $0 != " " })
  }

  /// The candidate closest to `key`, if any is plausibly meant.
  static func closest(_ key: String, in candidates: [String]) -> String? {
    let f = fold(key)
    if let a = aliases[f], candidates.contains(a) { return a }
    if let exact = candidates.first(where: { fold($0) == f }) { return exact }
    var best: (String, Int)?
    for c in candidates {
      let d = distance(f, fold(c))
      if best == nil || d < (best?.1 ?? Int.max) { best = (c, d) }
    }
    guard let (name, d) = best else { return nil }
    let length = fold(name).count
    let limit = length <= 3 ? 1 : length <= 6 ? 2 : 3
    return d <= limit ? name : nil
  }

  static func unknownKey(_ key: String, in candidates: [String]) -> String {
    if let s = closest(key, in: candidates) { return "unknown key (did you mean '\(s)'?)" }
    return "unknown key (expected one of: \(candidates.joined(separator: ", ")))"
  }

  /// Edit distance counting insertions, deletions, substitutions and transpositions of
  /// neighbours (optimal string alignment).
  static func distance(_ a: String, _ b: String) -> Int {
    let x = Array(a)
    let y = Array(b)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var d = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
    for i in 0...x.count { d[i][0] = i }
    for j in 0...y.count { d[0][j] = j }
    for i in 1...x.count {
      for j in 1...y.count {
        let cost = x[i - 1] == y[j - 1] ? 0 : 1
        d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
        if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
          d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
        }
      }
    }
    return d[x.count][y.count]
  }
}

/// Reading typed scalars from `SNode`s.
enum Scalars {
  static func integer(_ node: SNode, key: String) throws(SweepError) -> Int {
    guard case .scalar(let text, let type) = node.kind else {
      throw node.origin.error(key, "expected an integer, got \(node.shape)")
    }
    if type == .int, let v = Int(text.replacingOccurrences(of: "_", with: "")) {
      return v
    }
    if type == .int || type == .float {
      throw node.origin.error(
        key, "expected an integer, got '\(text)' (integer keys take whole numbers only)")
    }
    throw node.origin.error(key, "expected an integer, got \(node.shape)")
  }

  static func double(_ node: SNode, key: String) throws(SweepError) -> Double {
    guard case .scalar(let text, let type) = node.kind, type == .int || type == .float else {
      throw node.origin.error(key, "expected a number, got \(node.shape)")
    }
    let cleaned = text.replacingOccurrences(of: "_", with: "")
    guard let v = Double(cleaned), v.isFinite else {
      throw node.origin.error(key, "expected a finite decimal number, got '\(text)'")
    }
    return v == 0 ? 0 : v
  }

  static func string(_ node: SNode, key: String) throws(SweepError) -> String {
    guard case .scalar(let text, let type) = node.kind, type != .null else {
      throw node.origin.error(key, "expected a string, got \(node.shape)")
    }
    return text
  }

  static func bool(_ node: SNode, key: String) throws(SweepError) -> Bool {
    guard case .scalar(let text, .bool) = node.kind else {
      throw node.origin.error(key, "expected true or false, got \(node.shape)")
    }
    return ["true", "yes", "on"].contains(text.lowercased())
  }

  /// A value of config key `key`, checked on its own against `TrialConfig.problems()`.
  static func value(_ node: SNode, key: String, type: KeyType) throws(SweepError) -> Value {
    let v: Value
    switch type {
    case .int: v = .int(try integer(node, key: key))
    case .double: v = .double(try double(node, key: key))
    case .seed:
      let i = try integer(node, key: key)
      guard i >= 0 else { throw node.origin.error(key, "a seed must be ≥ 0, got \(i)") }
      v = .seed(UInt64(i))
    case .noise:
      if case .scalar(let text, .string) = node.kind {
        guard let n = ConfigKeys.noiseNames[text.lowercased()] else {
          throw node.origin.error(
            key, "unknown noise type '\(text)' (expected 0–3 or none, neuron, entry, isotropic)")
        }
        v = .noise(n)
      } else {
        let i = try integer(node, key: key)
        guard let n = NoiseType(rawValue: i) else {
          throw node.origin.error(
            key, "noiseType must be 0–3 (none, neuron, entry, isotropic), got \(i)")
        }
        v = .noise(n)
      }
    case .dataset: v = .dataset(try DatasetReader.spec(node))
    case .model:
      let text = try Scalars.string(node, key: key)
      guard let m = ModelKind(rawValue: text.lowercased()) else {
        throw node.origin.error(
          key,
          "unknown model '\(text)' (expected one of: "
            + ModelKind.allCases.map(\.rawValue).joined(separator: ", ") + ")")
      }
      v = .model(m)
    }
    try check(v, key: key, origin: node.origin)
    return v
  }

  /// Checks one value against `TrialConfig.problems()` on an otherwise valid configuration.
  static func check(_ v: Value, key: String, origin: Origin) throws(SweepError) {
    var c = ConfigKeys.probe
    // The channel multiplier is checked on a VGG (on the default fully connected network any
    // value would be refused as not applying).
    if key == "channels" { c.model = .vgg11 }
    ConfigKeys.set(key, v, &c)
    if let p = c.problems().first(where: { $0.key == key }) {
      throw origin.error(key, p.message)
    }
  }
}

/// Reading `DatasetSpec`s: a plain name (`mnist`) or a mapping (`{name: mnist, trainLimit: 1000}`).
enum DatasetReader {
  static let fields = [
    "name", "trainLimit", "testLimit", "binarize", "resplit", "dataSeed", "inputs", "classes",
    "trainSize", "testSize", "teacherWidth",
  ]
  static let syntheticOnly: Set<String> = [
    "inputs", "classes", "trainSize", "testSize", "teacherWidth",
  ]

  static func checkName(_ name: String, origin: Origin, key: String) throws(SweepError) -> String {
    let lower = name.lowercased()
    if DatasetSpec.knownNames.contains(lower) { return lower }
    if lower.hasPrefix("ucr/") {
      guard name.count > 4, !name.dropFirst(4).contains("/") else {
        throw origin.error(key, "expected 'ucr/NAME' with the name of a UCR/UEA data set")
      }
      return "ucr/" + name.dropFirst(4)
    }
    var message = "unknown data set '\(name)'"
    if let s = Suggest.closest(name, in: DatasetSpec.knownNames) {
      message += " (did you mean '\(s)'?)"
    } else {
      message += " (expected one of \(DatasetSpec.knownNames.joined(separator: ", ")), or ucr/NAME)"
    }
    throw origin.error(key, message)
  }

  static func spec(_ node: SNode) throws(SweepError) -> DatasetSpec {
    switch node.kind {
    case .scalar(let text, .string):
      return DatasetSpec(name: try checkName(text, origin: node.origin, key: "dataset"))
    case .mapping(let entries):
      var spec = DatasetSpec(name: "")
      var seen: [String: Origin] = [:]
      for e in entries {
        guard fields.contains(e.key) else {
          throw e.keyOrigin.error(e.key, Suggest.unknownKey(e.key, in: fields))
        }
        seen[e.key] = e.keyOrigin
        func positive(_ minimum: Int = 1) throws(SweepError) -> Int {
          let v = try Scalars.integer(e.value, key: e.key)
          guard v >= minimum else {
            throw e.value.origin.error(e.key, "\(e.key) must be ≥ \(minimum), got \(v)")
          }
          return v
        }
        switch e.key {
        case "name":
          spec.name = try checkName(
            try Scalars.string(e.value, key: "name"), origin: e.value.origin, key: "name")
        case "trainLimit": spec.trainLimit = try positive()
        case "testLimit": spec.testLimit = try positive()
        case "resplit": spec.resplit = try positive()
        case "inputs": spec.inputs = try positive()
        case "classes": spec.classes = try positive(2)
        case "trainSize": spec.trainSize = try positive()
        case "testSize": spec.testSize = try positive()
        case "teacherWidth": spec.teacherWidth = try positive()
        case "dataSeed": spec.dataSeed = UInt64(try positive(0))
        case "binarize": spec.binarize = try Scalars.string(e.value, key: "binarize")
        default: break
        }
      }
      guard !spec.name.isEmpty else {
        throw node.origin.error("dataset", "missing key 'name' (the data set, e.g. mnist)")
      }
      if spec.name != "synthetic" {
        for e in entries where syntheticOnly.contains(e.key) {
          throw e.keyOrigin.error(
            e.key, "only the synthetic data set takes '\(e.key)' (this is \(spec.name))")
        }
        if let o = seen["dataSeed"], spec.resplit == nil {
          throw o.error(
            "dataSeed", "dataSeed is used only with 'resplit' or for synthetic data")
        }
      }
      return spec
    default:
      throw node.origin.error(
        "dataset", "expected a data set name or a mapping with 'name', got \(node.shape)")
    }
  }
}
