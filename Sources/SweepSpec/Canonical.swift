import TailNet

extension DatasetSpec {
  /// The data set names TailSweep knows (besides `ucr/NAME`).
  public static let knownNames = ["mnist", "fashion-mnist", "cifar10", "cifar100", "synthetic"]

  /// Defaults of the synthetic teacher–student data, filled in by `normalized()`.
  public static let syntheticDefaults = (
    inputs: 20, classes: 2, trainSize: 2000, testSize: 1000, teacherWidth: 10,
    dataSeed: UInt64(0)
  )

  /// The same data set with its defaults made explicit and irrelevant fields removed, so that
  /// writing a default or omitting it describes the same data:
  /// - known names are lower-cased (`MNIST` → `mnist`; `UCR/X` → `ucr/X`, the set's own name
  ///   keeps its case);
  /// - `synthetic`: `inputs` 20, `classes` 2, `trainSize` 2000, `testSize` 1000,
  ///   `teacherWidth` 10 and `dataSeed` 0 are filled in when absent;
  /// - other data sets: the synthetic-only fields are removed; `dataSeed` is kept (default 0)
  ///   only when `resplit` is set, since only the re-split shuffle uses it.
  public func normalized() -> DatasetSpec {
    var d = self
    let lower = name.lowercased()
    if DatasetSpec.knownNames.contains(lower) {
      d.name = lower
    } else if lower.hasPrefix("ucr/") {
      d.name = "ucr/" + name.dropFirst(4)
    }
    if d.name == "synthetic" {
      let s = DatasetSpec.syntheticDefaults
      d.inputs = inputs ?? s.inputs
      d.classes = classes ?? s.classes
      d.trainSize = trainSize ?? s.trainSize
      d.testSize = testSize ?? s.testSize
      d.teacherWidth = teacherWidth ?? s.teacherWidth
      d.dataSeed = dataSeed ?? s.dataSeed
    } else {
      d.inputs = nil
      d.classes = nil
      d.trainSize = nil
      d.testSize = nil
      d.teacherWidth = nil
      d.dataSeed = resplit == nil ? nil : (dataSeed ?? 0)
    }
    return d
  }
}

extension TrialConfig {
  /// The same trial in canonical form: the data set normalised (`DatasetSpec.normalized()`)
  /// and −0.0 written as 0. `TrialID` hashes this form, and `SweepLoader` plans it.
  public func normalized() -> TrialConfig {
    var c = self
    c.dataset = dataset.normalized()
    func z(_ x: Double) -> Double { x == 0 ? 0 : x }
    c.eta = z(eta)
    c.alpha = z(alpha)
    c.sigma = z(sigma)
    c.targetAccuracy = z(targetAccuracy)
    c.budget = z(budget)
    // The model: fcn is the default and is left out (fully connected trials keep the ids they
    // had before CNNs existed); a VGG's width and depth do not apply and are written as 1.
    switch modelKind {
    case .fcn: c.model = nil
    case .vgg11:
      c.width = 1
      c.depth = 1
    }
    c.channels = channels.map(z)
    return c
  }
}

/// Canonical JSON of an `Encodable` value: object keys sorted by their UTF-8 bytes, no
/// whitespace, absent optionals omitted, integers in decimal, `Double`s in Swift's shortest
/// round-trip form (`0.01`, `100.0`, `1e-05`; −0.0 as `0.0`), strings with only `"`, `\` and
/// control characters escaped. Independent of Foundation's JSONEncoder, whose number
/// formatting is not a stable contract.
public enum CanonicalJSON {
  static func encode<T: Encodable>(_ value: T) throws -> String {
    let slot = Slot()
    try value.encode(to: CanonicalEncoder(slot: slot, codingPath: []))
    var out = ""
    slot.render(into: &out)
    return out
  }

  /// `s` as a JSON string: `"`, `\` and control characters escaped, the rest as is.
  public static func quote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      default:
        if u.value < 0x20 {
          let hex = String(u.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(u)
        }
      }
    }
    return out + "\""
  }

  static func number(_ x: Double) -> String { (x == 0 ? 0.0 : x).description }
}

private final class Slot {
  enum Content {
    case empty
    case scalar(String)
    case object(ObjectStorage)
    case array(ArrayStorage)
  }
  var content: Content = .empty

  func render(into out: inout String) {
    switch content {
    case .empty: out += "null"
    case .scalar(let s): out += s
    case .object(let o):
      out += "{"
      let keys = o.fields.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
      for (i, k) in keys.enumerated() {
        if i > 0 { out += "," }
        out += CanonicalJSON.quote(k) + ":"
        o.fields[k]?.render(into: &out)
      }
      out += "}"
    case .array(let a):
      out += "["
      for (i, item) in a.items.enumerated() {
        if i > 0 { out += "," }
        item.render(into: &out)
      }
      out += "]"
    }
  }

  func object() -> ObjectStorage {
    if case .object(let o) = content { return o }
    let o = ObjectStorage()
    content = .object(o)
    return o
  }

  func array() -> ArrayStorage {
    if case .array(let a) = content { return a }
    let a = ArrayStorage()
    content = .array(a)
    return a
  }
}

private final class ObjectStorage {
  var fields: [String: Slot] = [:]
}

private final class ArrayStorage {
  var items: [Slot] = []
}

private struct AnyKey: CodingKey {
  var stringValue: String
  var intValue: Int?
  init(stringValue: String) { self.stringValue = stringValue }
  init(intValue: Int) {
    self.stringValue = "\(intValue)"
    self.intValue = intValue
  }
}

private struct CanonicalEncoder: Encoder {
  let slot: Slot
  var codingPath: [any CodingKey]
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
    KeyedEncodingContainer(
      KeyedContainer<Key>(storage: slot.object(), codingPath: codingPath))
  }

  func unkeyedContainer() -> any UnkeyedEncodingContainer {
    UnkeyedContainer(storage: slot.array(), codingPath: codingPath)
  }

  func singleValueContainer() -> any SingleValueEncodingContainer {
    SingleContainer(slot: slot, codingPath: codingPath)
  }
}

/// Encodes a primitive into `slot`; returns false when `value` is not a primitive.
private func encodePrimitive<T: Encodable>(_ value: T, into slot: Slot) -> Bool {
  switch value {
  case let v as String: slot.content = .scalar(CanonicalJSON.quote(v))
  case let v as Bool: slot.content = .scalar(v ? "true" : "false")
  case let v as Double: slot.content = .scalar(CanonicalJSON.number(v))
  case let v as Float: slot.content = .scalar(CanonicalJSON.number(Double(v)))
  case let v as Int: slot.content = .scalar("\(v)")
  case let v as Int8: slot.content = .scalar("\(v)")
  case let v as Int16: slot.content = .scalar("\(v)")
  case let v as Int32: slot.content = .scalar("\(v)")
  case let v as Int64: slot.content = .scalar("\(v)")
  case let v as UInt: slot.content = .scalar("\(v)")
  case let v as UInt8: slot.content = .scalar("\(v)")
  case let v as UInt16: slot.content = .scalar("\(v)")
  case let v as UInt32: slot.content = .scalar("\(v)")
  case let v as UInt64: slot.content = .scalar("\(v)")
  default: return false
  }
  return true
}

private func encodeValue<T: Encodable>(_ value: T, into slot: Slot, path: [any CodingKey])
  throws
{
  if !encodePrimitive(value, into: slot) {
    try value.encode(to: CanonicalEncoder(slot: slot, codingPath: path))
  }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
  let storage: ObjectStorage
  var codingPath: [any CodingKey]

  private func slot(for key: Key) -> Slot {
    let s = Slot()
    storage.fields[key.stringValue] = s
    return s
  }

  mutating func encodeNil(forKey key: Key) throws { slot(for: key).content = .scalar("null") }

  mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
    try encodeValue(value, into: slot(for: key), path: codingPath + [key])
  }

  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type, forKey key: Key
  ) -> KeyedEncodingContainer<NestedKey> {
    KeyedEncodingContainer(
      KeyedContainer<NestedKey>(storage: slot(for: key).object(), codingPath: codingPath + [key]))
  }

  mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
    UnkeyedContainer(storage: slot(for: key).array(), codingPath: codingPath + [key])
  }

  mutating func superEncoder() -> any Encoder {
    let s = Slot()
    storage.fields["super"] = s
    return CanonicalEncoder(slot: s, codingPath: codingPath + [AnyKey(stringValue: "super")])
  }

  mutating func superEncoder(forKey key: Key) -> any Encoder {
    CanonicalEncoder(slot: slot(for: key), codingPath: codingPath + [key])
  }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
  let storage: ArrayStorage
  var codingPath: [any CodingKey]
  var count: Int { storage.items.count }

  private func next() -> Slot {
    let s = Slot()
    storage.items.append(s)
    return s
  }

  mutating func encodeNil() throws { next().content = .scalar("null") }

  mutating func encode<T: Encodable>(_ value: T) throws {
    try encodeValue(value, into: next(), path: codingPath + [AnyKey(intValue: count)])
  }

  mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
    -> KeyedEncodingContainer<NestedKey>
  {
    KeyedEncodingContainer(
      KeyedContainer<NestedKey>(storage: next().object(), codingPath: codingPath))
  }

  mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
    UnkeyedContainer(storage: next().array(), codingPath: codingPath)
  }

  mutating func superEncoder() -> any Encoder {
    CanonicalEncoder(slot: next(), codingPath: codingPath)
  }
}

private struct SingleContainer: SingleValueEncodingContainer {
  let slot: Slot
  var codingPath: [any CodingKey]

  mutating func encodeNil() throws { slot.content = .scalar("null") }

  mutating func encode<T: Encodable>(_ value: T) throws {
    try encodeValue(value, into: slot, path: codingPath)
  }
}
