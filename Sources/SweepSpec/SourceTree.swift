import Foundation
import Yams

/// A YAML node with the file and line it came from (includes are merged at this level, so each
/// node keeps naming its own file).
struct SNode {
  enum ScalarType { case string, int, float, bool, null }

  enum Kind {
    case scalar(String, ScalarType)
    case mapping([SEntry])
    case sequence([SNode])
  }

  var kind: Kind
  var origin: Origin

  var entries: [SEntry]? {
    if case .mapping(let e) = kind { return e }
    return nil
  }

  var isNull: Bool {
    if case .scalar(_, .null) = kind { return true }
    return false
  }

  /// A short description of the node's kind for messages ("a list", "a mapping", "'abc'").
  var shape: String {
    switch kind {
    case .scalar(let s, let t):
      switch t {
      case .null: return "nothing"
      case .string: return "the string '\(s)'"
      default: return "'\(s)'"
      }
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    }
  }
}

/// One `key: value` pair of a mapping.
struct SEntry {
  var key: String
  /// Where the key is written (errors about the key point here).
  var keyOrigin: Origin
  var value: SNode
}

/// Reads a sweep file and its includes into one merged `SNode` mapping.
struct SourceReader {
  /// Files read so far, the sweep file first.
  var sources: [SweepSource] = []
  private var rankCounter = 0

  /// Top-level sections whose mappings are merged key by key with those of included files.
  static let mergedSections: Set<String> = ["train", "run", "grid", "dataset"]
  /// Top-level keys that are never inherited from an included file.
  static let ownKeys: Set<String> = ["name", "description", "include"]

  /// Parses `text` (named `file`), resolves its includes relative to `directory`, and returns
  /// the merged top-level mapping with `include` removed.
  mutating func read(text: String, file: String, directory: String) throws(SweepError)
    -> [SEntry]
  {
    try read(text: text, file: file, directory: directory, stack: [Self.identity(of: file)])
  }

  private static func identity(of path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
  }

  private static func join(_ directory: String, _ path: String) -> String {
    if path.hasPrefix("/") || directory.isEmpty || directory == "." { return path }
    return directory.hasSuffix("/") ? directory + path : directory + "/" + path
  }

  static func directory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
  }

  private mutating func read(text: String, file: String, directory: String, stack: [String])
    throws(SweepError) -> [SEntry]
  {
    sources.append(SweepSource(path: file, text: text))
    let root = try Self.compose(text: text, file: file)
    guard case .mapping(let mapping) = root else {
      let line = root?.mark?.line ?? 1
      throw SweepError(
        file: file, line: line, key: nil,
        message: root == nil
          ? "the file is empty; a sweep file is a mapping with at least 'description'"
          : "a sweep file must be a mapping of keys (description, dataset, train, grid, …)")
    }
    // Includes first: they are the defaults this file overrides.
    var merged: [SEntry] = []
    for (keyNode, valueNode) in mapping where keyNode.scalar?.string == "include" {
      let keyLine = keyNode.mark?.line ?? 1
      var paths: [(String, Int)] = []
      switch valueNode {
      case .scalar(let s) where valueNode.tag.rawValue == Tag.Name.str.rawValue:
        paths.append((s.string, valueNode.mark?.line ?? keyLine))
      case .sequence(let seq):
        for item in seq {
          guard case .scalar(let s) = item, item.tag.rawValue == Tag.Name.str.rawValue else {
            throw SweepError(
              file: file, line: item.mark?.line ?? keyLine, key: "include",
              message: "expected a file path (a string)")
          }
          paths.append((s.string, item.mark?.line ?? keyLine))
        }
      default:
        throw SweepError(
          file: file, line: valueNode.mark?.line ?? keyLine, key: "include",
          message: "expected a file path or a list of file paths")
      }
      for (path, line) in paths {
        let shown = Self.join(directory, path)
        let identity = Self.identity(of: shown)
        if stack.contains(identity) {
          throw SweepError(
            file: file, line: line, key: "include",
            message: "include cycle: '\(path)' includes this file again")
        }
        let included: String
        do {
          included = try String(contentsOfFile: shown, encoding: .utf8)
        } catch {
          throw SweepError(
            file: file, line: line, key: "include",
            message: "cannot read included file '\(shown)'"
              + (FileManager.default.fileExists(atPath: shown) ? "" : ": no such file"))
        }
        let entries = try read(
          text: included, file: shown, directory: Self.directory(of: shown),
          stack: stack + [identity])
        merged = Self.merge(base: merged, over: entries.filter { !Self.ownKeys.contains($0.key) })
      }
    }
    rankCounter += 1
    let own = try Self.convert(.mapping(mapping), file: file, rank: rankCounter)
    return Self.merge(base: merged, over: (own.entries ?? []).filter { $0.key != "include" })
  }

  /// Merges `over` onto `base`: a key in both takes `over`'s value, except that the mappings
  /// of `mergedSections` are merged one level deep (key by key).
  static func merge(base: [SEntry], over: [SEntry]) -> [SEntry] {
    var result = base
    for entry in over {
      guard let i = result.firstIndex(where: { $0.key == entry.key }) else {
        result.append(entry)
        continue
      }
      if mergedSections.contains(entry.key), let b = result[i].value.entries,
        let o = entry.value.entries
      {
        var inner = b
        for e in o {
          if let j = inner.firstIndex(where: { $0.key == e.key }) {
            inner[j] = e
          } else {
            inner.append(e)
          }
        }
        result[i] = SEntry(
          key: entry.key, keyOrigin: entry.keyOrigin,
          value: SNode(kind: .mapping(inner), origin: entry.value.origin))
      } else {
        result[i] = entry
      }
    }
    return result
  }

  /// Parses one YAML document with Yams, turning its errors into `SweepError`s.
  static func compose(text: String, file: String) throws(SweepError) -> Node? {
    do {
      return try Yams.compose(yaml: text)
    } catch let error as YamlError {
      throw sweepError(error, file: file, text: text)
    } catch {
      throw SweepError(file: file, line: 0, key: nil, message: "cannot parse YAML: \(error)")
    }
  }

  private static func sweepError(_ error: YamlError, file: String, text: String) -> SweepError {
    func syntax(_ context: YamlError.Context?, _ problem: String, _ mark: Mark) -> SweepError {
      var message = "YAML syntax error: \(problem)"
      if let context {
        message += " (\(context.text) at line \(context.mark.line))"
      }
      return SweepError(file: file, line: mark.line, key: nil, message: message)
    }
    switch error {
    case .scanner(let context, let problem, let mark, _),
      .parser(let context, let problem, let mark, _),
      .composer(let context, let problem, let mark, _):
      return syntax(context, problem, mark)
    case .duplicatedKeysInMapping(let duplicates, let context):
      return SweepError(
        file: file, line: context.mark.line, key: duplicates.first,
        message: "the key appears more than once in the same mapping")
    case .reader(let problem, let offset, _, _):
      var line = 0
      if let offset {
        line = 1 + text.prefix(offset).reduce(0) { $1 == "\n" ? $0 + 1 : $0 }
      }
      return SweepError(file: file, line: line, key: nil, message: "cannot read text: \(problem)")
    default:
      return SweepError(file: file, line: 0, key: nil, message: "cannot parse YAML: \(error)")
    }
  }

  /// Converts a Yams node into an `SNode` that remembers `file` and `rank`.
  static func convert(_ node: Node, file: String, rank: Int) throws(SweepError) -> SNode {
    let origin = Origin(file: file, line: node.mark?.line ?? 1, rank: rank)
    switch node {
    case .scalar(let s):
      let type: SNode.ScalarType
      switch Tag.Name(rawValue: node.tag.rawValue) {
      case .int: type = .int
      case .float: type = .float
      case .bool: type = .bool
      case .null: type = .null
      default: type = .string
      }
      return SNode(kind: .scalar(s.string, type), origin: origin)
    case .sequence(let seq):
      var items: [SNode] = []
      for item in seq { items.append(try convert(item, file: file, rank: rank)) }
      return SNode(kind: .sequence(items), origin: origin)
    case .mapping(let map):
      var entries: [SEntry] = []
      for (k, v) in map {
        guard case .scalar(let ks) = k else {
          throw SweepError(
            file: file, line: k.mark?.line ?? origin.line, key: nil,
            message: "mapping keys must be plain names")
        }
        let keyOrigin = Origin(file: file, line: k.mark?.line ?? origin.line, rank: rank)
        entries.append(
          SEntry(
            key: ks.string, keyOrigin: keyOrigin, value: try convert(v, file: file, rank: rank)))
      }
      return SNode(kind: .mapping(entries), origin: origin)
    case .alias:
      throw SweepError(file: file, line: origin.line, key: nil, message: "unresolved YAML alias")
    }
  }
}
