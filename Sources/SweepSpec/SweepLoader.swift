import Foundation
import TailNet

/// Reads, validates and expands sweep files (format: `docs/sweep-files.md`).
public enum SweepLoader {
  /// Largest number of values a range may produce.
  static let rangeLimit = 100_000
  /// Largest number of grid points a sweep may expand to (before merging).
  static let pointLimit = 1_000_000
  /// Largest `run.retries` (attempts per trial and run: retries + 1).
  static let maxRetries = 100
  /// Largest `run.trialTimeout` in seconds: 30 days.
  static let maxTrialTimeout = 30 * 86_400.0

  /// A check of one expanded trial against what lies outside the file (the data set is present,
  /// its limits fit the data, the network fits in memory): the key and message of the first
  /// problem, nil when the trial can run. The loader reports a problem as a `SweepError` at the
  /// line that gave the key (a data-set field such as `trainLimit` points at its own line).
  public typealias TrialCheck = (TrialConfig) -> (key: String, message: String)?

  /// Reads the sweep file at `path` (and its includes) and expands it, checking every trial
  /// with `check` when given. Errors name the file as `path` names it.
  public static func load(path: String, check: TrialCheck? = nil) throws(SweepError) -> Sweep {
    let text: String
    do {
      text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
      let reason =
        FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file"
      throw SweepError(file: path, line: 0, key: nil, message: reason)
    }
    return try parse(text: text, file: path, baseDirectory: nil, check: check)
  }

  /// Validates and expands sweep `text`, named `file` in messages. Includes are resolved
  /// relative to `baseDirectory` (default: the directory part of `file`, else the current
  /// directory); `check` as in `load(path:check:)`.
  public static func parse(
    text: String, file: String, baseDirectory: String? = nil, check: TrialCheck? = nil
  ) throws(SweepError) -> Sweep {
    var reader = SourceReader()
    let entries = try reader.read(
      text: text, file: file, directory: baseDirectory ?? SourceReader.directory(of: file))
    var sweep = try Interpreter(file: file, entries: entries, check: check).run()
    sweep.path = file
    sweep.text = text
    sweep.sources = reader.sources
    return sweep
  }
}

/// One swept dimension: a single key (grid, seeds) or several moving together (zip).
private struct Axis {
  /// Where it is declared, for messages: "grid", "zip group 2", "seeds".
  var place: String
  var keys: [String]
  var keyOrigins: [Origin]
  /// rows[i][k]: the i-th value of keys[k].
  var rows: [[(value: Value, origin: Origin)]]
}

/// A fixed value: from `train:` or the top-level `dataset:`.
private struct Fixed {
  var key: String
  var value: Value
  var origin: Origin
  var keyOrigin: Origin
  var place: String
}

private struct Matcher {
  var key: String
  var values: [Value]
  /// For a data set given by name only: match the name, not the whole spec.
  var nameOnly: Bool

  func matches(_ c: TrialConfig) -> Bool {
    guard let current = ConfigKeys.get(key, c) else { return false }
    return values.contains { v in
      switch (v, current) {
      case (.dataset(let a), .dataset(let b)):
        return nameOnly
          ? a.normalized().name == b.normalized().name
          : a.normalized() == b.normalized()
      default: return v == current
      }
    }
  }
}

private struct Override {
  var origin: Origin
  var when: [Matcher]
  var set: [(key: String, value: Value, origin: Origin)]
}

private struct Interpreter {
  let file: String
  let entries: [SEntry]
  var check: SweepLoader.TrialCheck? = nil

  static let topKeys = [
    "description", "name", "include", "dataset", "train", "grid", "zip", "seeds", "overrides",
    "run",
  ]
  static let trainKeys = ConfigKeys.names.filter { $0 != "dataset" && $0 != "seed" }
  static let axisKeys = ConfigKeys.names.filter { $0 != "seed" }

  var top: Origin { Origin(file: file, line: 1, rank: Int.max) }

  func entry(_ key: String) -> SEntry? { entries.first { $0.key == key } }

  /// A section's mapping entries; nil when absent or written as `key:` with nothing.
  func section(_ key: String) throws(SweepError) -> [SEntry]? {
    guard let e = entry(key), !e.value.isNull else { return nil }
    guard let m = e.value.entries else {
      throw e.value.origin.error(key, "expected a mapping, got \(e.value.shape)")
    }
    return m
  }

  func run() throws(SweepError) -> Sweep {
    for e in entries where !Self.topKeys.contains(e.key) {
      throw e.keyOrigin.error(e.key, Suggest.unknownKey(e.key, in: Self.topKeys))
    }
    // description, name
    guard let d = entry("description") else {
      throw top.error(
        "description", "missing required key: say what question this sweep answers")
    }
    let description = try Scalars.string(d.value, key: "description")
      .trimmingCharacters(in: .whitespacesAndNewlines)
    guard !description.isEmpty else {
      throw d.value.origin.error("description", "must not be empty")
    }
    var name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
    if let n = entry("name") {
      name = try Scalars.string(n.value, key: "name")
      guard !name.isEmpty, !name.contains(where: \.isNewline) else {
        throw n.value.origin.error("name", "expected a non-empty name on one line")
      }
    }
    let settings = try readSettings()

    // Fixed values and axes.
    var fixed: [Fixed] = []
    if let ds = entry("dataset") {
      let v = try Scalars.value(ds.value, key: "dataset", type: .dataset)
      fixed.append(
        Fixed(
          key: "dataset", value: v, origin: ds.value.origin, keyOrigin: ds.keyOrigin,
          place: "the top-level 'dataset'"))
    }
    for e in try section("train") ?? [] {
      try checkKey(e, allowed: Self.trainKeys, section: "train")
      guard let type = ConfigKeys.type(of: e.key) else { continue }
      let v = try Scalars.value(e.value, key: e.key, type: type)
      fixed.append(
        Fixed(
          key: e.key, value: v, origin: e.value.origin, keyOrigin: e.keyOrigin,
          place: "train"))
    }
    var axes: [Axis] = []
    if let g = entry("grid"), let grid = try section("grid") {
      if grid.isEmpty {
        throw g.keyOrigin.error("grid", "empty grid: give at least one axis, or remove 'grid'")
      }
      for e in grid {
        try checkKey(e, allowed: Self.axisKeys, section: "grid")
        guard let type = ConfigKeys.type(of: e.key) else { continue }
        let values = try axisValues(e.value, key: e.key, type: type, allowDuplicates: false)
        axes.append(
          Axis(place: "grid", keys: [e.key], keyOrigins: [e.keyOrigin], rows: values.map { [$0] }))
      }
    }
    axes += try readZip()
    if let s = entry("seeds") {
      let values = try seedValues(s.value)
      axes.append(
        Axis(place: "seeds", keys: ["seed"], keyOrigins: [s.keyOrigin], rows: values.map { [$0] }))
    }
    try resolveConflicts(fixed: &fixed, axes: &axes)

    let given = Set(fixed.map(\.key) + axes.flatMap(\.keys))
    // A fully connected network needs a width; a sweep that names a model checks that per
    // trial (a VGG has none).
    for key in ConfigKeys.required where !given.contains(key) {
      if key == "width" && given.contains("model") { continue }
      let hint =
        key == "dataset"
        ? "give the data set with 'dataset:' (or sweep it in grid)"
        : "set it in train, or sweep it in grid or zip"
      throw top.error(key, "missing required key: \(hint)")
    }
    let overrides = try readOverrides()
    let (trials, merged) = try expand(fixed: fixed, axes: axes, overrides: overrides)
    return Sweep(
      name: name, description: description, path: file, text: "", settings: settings,
      trials: trials, mergedDuplicates: merged)
  }

  func checkKey(_ e: SEntry, allowed: [String], section: String) throws(SweepError) {
    if allowed.contains(e.key) { return }
    switch e.key {
    case "seed", "seeds":
      throw e.keyOrigin.error(e.key, "seeds are given by the top-level 'seeds' key")
    case "dataset":
      throw e.keyOrigin.error(
        e.key, "the data set is given by the top-level 'dataset' key (or swept in grid)")
    default:
      throw e.keyOrigin.error(e.key, Suggest.unknownKey(e.key, in: allowed))
    }
  }

  func readSettings() throws(SweepError) -> SweepSettings {
    var s = SweepSettings()
    for e in try section("run") ?? [] {
      switch e.key {
      case "retries":
        s.retries = try Scalars.integer(e.value, key: "retries")
        guard s.retries >= 0 else {
          throw e.value.origin.error("retries", "retries must be ≥ 0, got \(s.retries)")
        }
        guard s.retries <= SweepLoader.maxRetries else {
          throw e.value.origin.error(
            "retries", "retries must be at most \(SweepLoader.maxRetries), got \(s.retries)")
        }
      case "trialTimeout":
        // Scalars.double already rejects non-finite values (.inf, .nan).
        s.trialTimeout = try Scalars.double(e.value, key: "trialTimeout")
        guard s.trialTimeout > 0 else {
          throw e.value.origin.error(
            "trialTimeout", "trialTimeout must be > 0 seconds, got \(Value.format(s.trialTimeout))")
        }
        guard s.trialTimeout <= SweepLoader.maxTrialTimeout else {
          throw e.value.origin.error(
            "trialTimeout",
            "trialTimeout must be at most \(Value.format(SweepLoader.maxTrialTimeout)) seconds "
              + "(30 days), got \(Value.format(s.trialTimeout))")
        }
      default:
        throw e.keyOrigin.error(e.key, Suggest.unknownKey(e.key, in: ["retries", "trialTimeout"]))
      }
    }
    return s
  }

  // MARK: Axes

  /// The values of one axis: a list, or a range mapping for numeric keys.
  func axisValues(_ node: SNode, key: String, type: KeyType, allowDuplicates: Bool)
    throws(SweepError) -> [(value: Value, origin: Origin)]
  {
    var values: [(value: Value, origin: Origin)] = []
    switch node.kind {
    case .sequence(let items):
      guard !items.isEmpty else {
        throw node.origin.error(key, "empty list: an axis needs at least one value")
      }
      for item in items {
        values.append((try Scalars.value(item, key: key, type: type), item.origin))
      }
    case .mapping(let fields) where type != .dataset && type != .noise && type != .model:
      values = try rangeValues(fields, node: node, key: key, type: type)
    default:
      throw node.origin.error(
        key,
        type == .dataset || type == .noise || type == .model
          ? "expected a list of values, got \(node.shape)"
          : "expected a list of values or a range {from, to, step} / {from, to, count, log},"
            + " got \(node.shape) (fixed values belong in train)")
    }
    if !allowDuplicates { try rejectDuplicates(values, key: key) }
    return values
  }

  func rejectDuplicates(_ values: [(value: Value, origin: Origin)], key: String)
    throws(SweepError)
  {
    var seen: [Value: Origin] = [:]
    for (v, o) in values {
      let canonical: Value
      if case .dataset(let d) = v { canonical = .dataset(d.normalized()) } else { canonical = v }
      if let first = seen[canonical] {
        let firstNote = first.line == o.line ? "" : " (first on line \(first.line))"
        throw o.error(key, "duplicate value \(v.text) in the axis\(firstNote)")
      }
      seen[canonical] = o
    }
  }

  func rangeValues(_ fields: [SEntry], node: SNode, key: String, type: KeyType)
    throws(SweepError) -> [(value: Value, origin: Origin)]
  {
    let names = ["from", "to", "step", "count", "log"]
    var from: Double?
    var to: Double?
    var step: Double?
    var count: Int?
    var log = false
    let integral = type == .int || type == .seed
    for f in fields {
      switch f.key {
      case "from": from = try Scalars.double(f.value, key: key)
      case "to": to = try Scalars.double(f.value, key: key)
      case "step":
        step =
          integral
          ? Double(try Scalars.integer(f.value, key: key)) : try Scalars.double(f.value, key: key)
      case "count": count = try Scalars.integer(f.value, key: key)
      case "log": log = try Scalars.bool(f.value, key: key)
      default: throw f.keyOrigin.error(f.key, Suggest.unknownKey(f.key, in: names))
      }
    }
    let o = node.origin
    guard let from, let to else {
      throw o.error(key, "a range needs 'from' and 'to'")
    }
    var raw: [Double] = []
    switch (step, count) {
    case (nil, nil), (.some, .some):
      throw o.error(key, "a range needs exactly one of 'step' and 'count'")
    case (.some(let step), nil):
      if log { throw o.error(key, "a log range takes 'count', not 'step'") }
      guard step != 0 else { throw o.error(key, "'step' must not be 0") }
      if integral, from != from.rounded() || to != to.rounded() {
        throw o.error(key, "'from' and 'to' must be integers for an integer key")
      }
      let span = (to - from) / step
      guard span >= -1e-9 else {
        throw o.error(key, "empty range: 'step' \(Value.format(step)) moves away from 'to'")
      }
      let n = Int((span + 1e-9).rounded(.down)) + 1
      guard n <= SweepLoader.rangeLimit else {
        throw o.error(key, "the range has \(n) values (limit \(SweepLoader.rangeLimit))")
      }
      raw = (0..<n).map { from + Double($0) * step }
    case (nil, .some(let count)):
      guard count >= 1, count <= SweepLoader.rangeLimit else {
        throw o.error(key, "'count' must be in 1…\(SweepLoader.rangeLimit), got \(count)")
      }
      if count == 1 {
        guard from == to else { throw o.error(key, "'count' 1 needs 'from' equal to 'to'") }
        raw = [from]
      } else if log {
        guard from > 0, to > 0 else {
          throw o.error(key, "a log range needs 'from' and 'to' > 0")
        }
        let (a, b) = (Foundation.log(from), Foundation.log(to))
        raw = (0..<count).map { i in
          i == 0 ? from : i == count - 1 ? to : exp(a + Double(i) * (b - a) / Double(count - 1))
        }
      } else {
        raw = (0..<count).map { i in
          i == count - 1 ? to : from + Double(i) * (to - from) / Double(count - 1)
        }
      }
    }
    var values: [(value: Value, origin: Origin)] = []
    for x in raw {
      // 12 significant digits: 0.1 + 2·0.1 is 0.3, as written by hand.
      let r = Double(String(format: "%.12g", x)) ?? x
      let v: Value
      switch type {
      case .int:
        guard let i = Int(exactly: r.rounded()) else {
          throw o.error(key, "the range gives \(r), too large for an integer key")
        }
        v = .int(i)
      case .seed:
        guard r >= 0, let i = UInt64(exactly: r.rounded()) else {
          throw o.error(key, "the range gives \(Value.format(r)), not a seed (≥ 0)")
        }
        v = .seed(i)
      default: v = .double(r == 0 ? 0 : r)
      }
      if let previous = values.last?.value, previous == v {
        throw o.error(
          key, "the range gives \(v.text) twice after rounding to integers; use fewer points")
      }
      try Scalars.check(v, key: key, origin: o)
      values.append((v, o))
    }
    return values
  }

  func seedValues(_ node: SNode) throws(SweepError) -> [(value: Value, origin: Origin)] {
    if case .scalar(_, .int) = node.kind {
      let n = try Scalars.integer(node, key: "seeds")
      guard n >= 1, n <= SweepLoader.rangeLimit else {
        throw node.origin.error(
          "seeds", "a seed count must be in 1…\(SweepLoader.rangeLimit), got \(n)")
      }
      return (1...n).map { (Value.seed(UInt64($0)), node.origin) }
    }
    switch node.kind {
    case .sequence, .mapping:
      do {
        return try axisValues(node, key: "seed", type: .seed, allowDuplicates: false)
      } catch {
        var e = error
        if e.key == "seed" { e.key = "seeds" }
        throw e
      }
    default:
      throw node.origin.error(
        "seeds", "expected a list of seeds, a count, or a range; got \(node.shape)")
    }
  }

  func readZip() throws(SweepError) -> [Axis] {
    guard let z = entry("zip"), !z.value.isNull else { return [] }
    var groups: [SNode] = []
    switch z.value.kind {
    case .sequence(let items): groups = items
    case .mapping: groups = [z.value]
    default:
      throw z.value.origin.error(
        "zip", "expected a list of groups like {eta: [...], batchSize: [...]}")
    }
    if groups.isEmpty { throw z.keyOrigin.error("zip", "empty list: remove 'zip' or give a group") }
    var axes: [Axis] = []
    for (g, group) in groups.enumerated() {
      guard let fields = group.entries, !fields.isEmpty else {
        throw group.origin.error(
          "zip", "a zip group is a non-empty mapping of axes, like {eta: [...], batchSize: [...]}")
      }
      var columns: [[(value: Value, origin: Origin)]] = []
      var axis = Axis(place: "zip group \(g + 1)", keys: [], keyOrigins: [], rows: [])
      for e in fields {
        try checkKey(e, allowed: Self.axisKeys, section: "zip")
        guard let type = ConfigKeys.type(of: e.key) else { continue }
        let column = try axisValues(e.value, key: e.key, type: type, allowDuplicates: true)
        if let first = columns.first, first.count != column.count {
          throw e.keyOrigin.error(
            e.key,
            "zip axes move together and need equal lengths: '\(e.key)' has \(column.count)"
              + " values, '\(axis.keys[0])' has \(first.count)")
        }
        columns.append(column)
        axis.keys.append(e.key)
        axis.keyOrigins.append(e.keyOrigin)
      }
      let n = columns.first?.count ?? 0
      axis.rows = (0..<n).map { i in columns.map { $0[i] } }
      var seen: [[Value]: Int] = [:]
      for (i, row) in axis.rows.enumerated() {
        let key = row.map { cell -> Value in
          if case .dataset(let d) = cell.value { return .dataset(d.normalized()) }
          return cell.value
        }
        if let j = seen[key] {
          let point = zip(axis.keys, row).map { "\($0) \($1.value.text)" }.joined(separator: ", ")
          throw (row.first?.origin ?? group.origin).error(
            axis.keys[0], "duplicate point in zip group (\(point)): rows \(j + 1) and \(i + 1)")
        }
        seen[key] = i
      }
      axes.append(axis)
    }
    return axes
  }

  /// A key given in two places: the file with the higher precedence wins (an including file
  /// over an included one); in the same file it is an error.
  func resolveConflicts(fixed: inout [Fixed], axes: inout [Axis]) throws(SweepError) {
    struct Claim {
      var origin: Origin
      var place: String
      var fixedIndex: Int?
      var axisIndex: Int?
    }
    var claims: [String: [Claim]] = [:]
    var order: [String] = []
    func add(_ key: String, _ c: Claim) {
      if claims[key] == nil { order.append(key) }
      claims[key, default: []].append(c)
    }
    for (i, f) in fixed.enumerated() {
      add(f.key, Claim(origin: f.keyOrigin, place: f.place, fixedIndex: i))
    }
    for (i, a) in axes.enumerated() {
      for (k, key) in a.keys.enumerated() {
        add(key, Claim(origin: a.keyOrigins[k], place: "swept in \(a.place)", axisIndex: i))
      }
    }
    var dropFixed = Set<Int>()
    var dropAxisKeys: [Int: Set<String>] = [:]
    for key in order {
      guard let list = claims[key], list.count > 1 else { continue }
      let top = list.map(\.origin.rank).max() ?? 0
      let winners = list.filter { $0.origin.rank == top }
      if winners.count > 1 {
        let sorted = winners.sorted { $0.origin.line < $1.origin.line }
        let (a, b) = (sorted[0], sorted[1])
        let aPlace = a.fixedIndex != nil ? "fixed in \(a.place)" : a.place
        throw b.origin.error(
          key,
          "given twice: \(aPlace) (line \(a.origin.line)) and \(b.fixedIndex != nil ? "fixed in \(b.place)" : b.place)"
        )
      }
      for c in list where c.origin.rank != top {
        if let i = c.fixedIndex { dropFixed.insert(i) }
        if let i = c.axisIndex { dropAxisKeys[i, default: []].insert(key) }
      }
    }
    fixed = fixed.enumerated().filter { !dropFixed.contains($0.offset) }.map(\.element)
    for (i, keys) in dropAxisKeys {
      let keep = axes[i].keys.indices.filter { !keys.contains(axes[i].keys[$0]) }
      axes[i].keys = keep.map { axes[i].keys[$0] }
      axes[i].keyOrigins = keep.map { axes[i].keyOrigins[$0] }
      axes[i].rows = axes[i].rows.map { row in keep.map { row[$0] } }
    }
    axes.removeAll { $0.keys.isEmpty }
  }

  // MARK: Overrides

  func readOverrides() throws(SweepError) -> [Override] {
    guard let o = entry("overrides"), !o.value.isNull else { return [] }
    guard case .sequence(let items) = o.value.kind else {
      throw o.value.origin.error(
        "overrides", "expected a list of {when: {...}, set: {...}}, got \(o.value.shape)")
    }
    var result: [Override] = []
    for item in items {
      guard let fields = item.entries else {
        throw item.origin.error(
          "overrides", "expected {when: {...}, set: {...}}, got \(item.shape)")
      }
      var override = Override(origin: item.origin, when: [], set: [])
      var sawWhen = false
      var sawSet = false
      for f in fields {
        switch f.key {
        case "when":
          sawWhen = true
          guard let conditions = f.value.entries, !conditions.isEmpty else {
            throw f.value.origin.error("when", "expected a non-empty mapping of key: value")
          }
          override.origin = f.keyOrigin
          for c in conditions {
            guard let type = ConfigKeys.type(of: c.key) else {
              throw c.keyOrigin.error(c.key, Suggest.unknownKey(c.key, in: ConfigKeys.names))
            }
            var values: [Value] = []
            var nameOnly = false
            let nodes: [SNode]
            if case .sequence(let list) = c.value.kind { nodes = list } else { nodes = [c.value] }
            if nodes.isEmpty { throw c.value.origin.error(c.key, "empty list") }
            for n in nodes {
              values.append(try Scalars.value(n, key: c.key, type: type))
              if case .scalar = n.kind { nameOnly = true }
            }
            override.when.append(Matcher(key: c.key, values: values, nameOnly: nameOnly))
          }
        case "set":
          sawSet = true
          guard let assignments = f.value.entries, !assignments.isEmpty else {
            throw f.value.origin.error("set", "expected a non-empty mapping of key: value")
          }
          for a in assignments {
            if a.key == "seed" {
              throw a.keyOrigin.error("seed", "an override cannot change the seed")
            }
            guard let type = ConfigKeys.type(of: a.key) else {
              throw a.keyOrigin.error(a.key, Suggest.unknownKey(a.key, in: Self.axisKeys))
            }
            override.set.append(
              (a.key, try Scalars.value(a.value, key: a.key, type: type), a.value.origin))
          }
        default:
          throw f.keyOrigin.error(f.key, Suggest.unknownKey(f.key, in: ["when", "set"]))
        }
      }
      guard sawWhen, sawSet else {
        throw item.origin.error(sawWhen ? "set" : "when", "an override needs both 'when' and 'set'")
      }
      result.append(override)
    }
    return result
  }

  // MARK: Expansion

  func expand(fixed: [Fixed], axes: [Axis], overrides: [Override]) throws(SweepError)
    -> (trials: [PlannedTrial], merged: Int)
  {
    var total = 1
    for a in axes {
      total *= a.rows.count
      if total > SweepLoader.pointLimit {
        throw top.error(nil, "the sweep expands to more than \(SweepLoader.pointLimit) points")
      }
    }
    var base = ConfigKeys.probe
    var baseOrigins: [String: Origin] = [:]
    for f in fixed {
      ConfigKeys.set(f.key, f.value, &base)
      baseOrigins[f.key] = f.origin
    }
    var matched = [Bool](repeating: false, count: overrides.count)
    var configs: [TrialConfig] = []
    configs.reserveCapacity(total)
    var index = [Int](repeating: 0, count: axes.count)
    for _ in 0..<total {
      var c = base
      var origins = baseOrigins
      for (a, axis) in axes.enumerated() {
        for (k, cell) in axis.rows[index[a]].enumerated() {
          ConfigKeys.set(axis.keys[k], cell.value, &c)
          origins[axis.keys[k]] = cell.origin
        }
      }
      for (i, o) in overrides.enumerated() where o.when.allSatisfy({ $0.matches(c) }) {
        matched[i] = true
        for s in o.set {
          ConfigKeys.set(s.key, s.value, &c)
          origins[s.key] = s.origin
        }
      }
      switch c.modelKind {
      case .fcn:
        if origins["width"] == nil {
          throw top.error(
            "width", "missing required key: set it in train, or sweep it in grid or zip")
        }
      case .vgg11:
        for key in ["width", "depth"] {
          if let o = origins[key] {
            throw o.error(
              key,
              "\(key) does not apply to model vgg11 (a VGG is sized by channels, its multiplier)")
          }
        }
      }
      if let p = c.problems().first {
        throw (origins[p.key] ?? origins["model"] ?? top).error(p.key, p.message)
      }
      if let check, let p = check(c) {
        throw locate(p.key, origins: origins).error(p.key, p.message)
      }
      configs.append(c)
      // Odometer: the last axis (seeds) moves fastest.
      var a = axes.count - 1
      while a >= 0 {
        index[a] += 1
        if index[a] < axes[a].rows.count { break }
        index[a] = 0
        a -= 1
      }
    }
    if let i = matched.firstIndex(of: false) {
      throw overrides[i].origin.error("when", "this override matches no point of the sweep")
    }
    try rejectNoiselessAxes(axes: axes, configs: configs)
    var seen = Set<TrialID>()
    var unique: [TrialConfig] = []
    var ids: [TrialID] = []
    for c in configs {
      let n = c.normalized()
      let id = TrialID(config: n)
      if seen.insert(id).inserted {
        unique.append(n)
        ids.append(id)
      }
    }
    let work = unique.map(\.estimatedWork)
    let cheapest = work.min() ?? 1
    var trials: [PlannedTrial] = []
    for (i, c) in unique.enumerated() {
      trials.append(
        PlannedTrial(id: ids[i], config: c, relativeCost: cheapest > 0 ? work[i] / cheapest : 1))
    }
    trials.sort {
      $0.relativeCost != $1.relativeCost ? $0.relativeCost > $1.relativeCost : $0.id < $1.id
    }
    return (trials, configs.count - unique.count)
  }

  /// α (or σ) swept while every point has noise type 0: every value would train the same
  /// plain SGD under another trial id.
  func rejectNoiselessAxes(axes: [Axis], configs: [TrialConfig]) throws(SweepError) {
    guard configs.allSatisfy({ $0.noiseType == .none }) else { return }
    for axis in axes {
      for (k, key) in axis.keys.enumerated() where key == "alpha" || key == "sigma" {
        let distinct = Set(axis.rows.map { $0[k].value })
        guard distinct.count > 1 else { continue }
        throw axis.keyOrigins[k].error(
          key,
          "\(key) is swept, but noiseType is 0 (no noise) for every trial, so every value would "
            + "train the same plain SGD; set noiseType 1–3, or remove the axis")
      }
    }
  }

  /// Where a key of a trial was given: a data-set field (`trainLimit`, `binarize`, …) at its
  /// own line inside the data set's mapping, any other key where its value came from.
  func locate(_ key: String, origins: [String: Origin]) -> Origin {
    if let o = origins[key] { return o }
    guard let d = origins["dataset"] else { return top }
    guard DatasetReader.fields.contains(key) else { return d }
    func find(_ node: SNode) -> Origin? {
      switch node.kind {
      case .scalar: return nil
      case .sequence(let items):
        for i in items { if let o = find(i) { return o } }
        return nil
      case .mapping(let fields):
        if node.origin.file == d.file, node.origin.line == d.line,
          fields.contains(where: { $0.key == "name" })
        {
          if let f = fields.first(where: { $0.key == key }) { return f.keyOrigin }
        }
        for f in fields { if let o = find(f.value) { return o } }
        return nil
      }
    }
    for e in entries { if let o = find(e.value) { return o } }
    return d
  }
}
