import Foundation

// The lean encoding of the hot messages (assign, progress, result, ack, cancel, heartbeat):
// Codable values written field after field in declaration order, without keys.
//
// - Int, Int64, UInt64, Double (its IEEE bits): 8 bytes little-endian; Int32, UInt32, Float:
//   4; Int16, UInt16: 2; Bool, Int8, UInt8: 1.
// - String: its UTF-8 length as 4 bytes, then the bytes (must be valid UTF-8).
// - Optional field of a struct: one byte 0 (absent) or 1 (present, then the value).
// - Array: its element count as 4 bytes, then the elements.
// - Enum with a raw value: the raw value.
// Both sides run the same Swift types, whose synthesized Codable visits fields in declaration
// order, so no keys are needed; the protocol version covers any change of a type. Decoding is
// for untrusted bytes: every read is bounds-checked and throws `DecodingError` (never traps),
// an array may not claim more elements than bytes remain, and strings must be valid UTF-8.
// Not supported: dictionaries (their keys are not written, so decoding them fails with bytes
// left over) and nil outside a struct field (an array of optionals: encoding throws).

/// Encodes `value` in the lean binary form.
func binaryEncode<T: Encodable>(_ value: T) throws -> [UInt8] {
  let sink = BinarySink()
  try value.encode(to: BinaryEncoder(sink: sink))
  return sink.bytes
}

/// Decodes a `T` from `bytes`; all of them must be used.
func binaryDecode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
  let source = BinarySource(bytes)
  let value = try T(from: BinaryDecoder(source: source))
  guard source.offset == bytes.count else {
    throw DecodingError.dataCorrupted(
      .init(codingPath: [], debugDescription: "\(bytes.count - source.offset) bytes left over"))
  }
  return value
}

/// Decodes a `T` from the first bytes of `bytes` (the rest is ignored).
func binaryDecodePrefix<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
  try T(from: BinaryDecoder(source: BinarySource(bytes)))
}

final class BinarySink {
  var bytes: [UInt8] = []
  init() { bytes.reserveCapacity(512) }

  @inline(__always) func fixed<I: FixedWidthInteger>(_ v: I) {
    withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
  }
  func string(_ s: String) throws {
    let n = s.utf8.count
    guard n <= Int(UInt32.max) else {
      throw EncodingError.invalidValue(
        s, .init(codingPath: [], debugDescription: "string too long"))
    }
    fixed(UInt32(n))
    bytes.append(contentsOf: s.utf8)
  }
}

struct BinaryEncoder: Encoder {
  let sink: BinarySink
  var codingPath: [any CodingKey] = []
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
    KeyedEncodingContainer(KeyedBinaryEncoder<Key>(sink: sink))
  }
  func unkeyedContainer() -> any UnkeyedEncodingContainer { UnkeyedBinaryEncoder(sink: sink) }
  func singleValueContainer() -> any SingleValueEncodingContainer {
    SingleBinaryEncoder(sink: sink)
  }
}

/// Shared by the three containers: one value of each supported type.
protocol BinaryWriting {
  var sink: BinarySink { get }
}

extension BinaryWriting {
  func write(_ v: Bool) { sink.bytes.append(v ? 1 : 0) }
  func write(_ v: String) throws { try sink.string(v) }
  func write(_ v: Double) { sink.fixed(v.bitPattern) }
  func write(_ v: Float) { sink.fixed(v.bitPattern) }
  func writeFixed<I: FixedWidthInteger>(_ v: I) { sink.fixed(v) }
  func write<T: Encodable>(_ v: T) throws {
    // Primitives reached through a generic call (metadata compares, no dynamic casts).
    if T.self == Int.self {
      writeFixed(Int64(unsafeBitCast(v, to: Int.self)))
    } else if T.self == Double.self {
      write(unsafeBitCast(v, to: Double.self))
    } else if T.self == String.self {
      try write(unsafeBitCast(v, to: String.self))
    } else if T.self == Bool.self {
      write(unsafeBitCast(v, to: Bool.self))
    } else if T.self == UInt64.self {
      writeFixed(unsafeBitCast(v, to: UInt64.self))
    } else {
      try v.encode(to: BinaryEncoder(sink: sink))
    }
  }
}

struct KeyedBinaryEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol, BinaryWriting {
  let sink: BinarySink
  var codingPath: [any CodingKey] = []

  mutating func encodeNil(forKey key: Key) throws { sink.bytes.append(0) }
  mutating func encode(_ value: Bool, forKey key: Key) throws { write(value) }
  mutating func encode(_ value: String, forKey key: Key) throws { try write(value) }
  mutating func encode(_ value: Double, forKey key: Key) throws { write(value) }
  mutating func encode(_ value: Float, forKey key: Key) throws { write(value) }
  mutating func encode(_ value: Int, forKey key: Key) throws { writeFixed(Int64(value)) }
  mutating func encode(_ value: Int8, forKey key: Key) throws { writeFixed(value) }
  mutating func encode(_ value: Int16, forKey key: Key) throws { writeFixed(value) }
  mutating func encode(_ value: Int32, forKey key: Key) throws { writeFixed(value) }
  mutating func encode(_ value: Int64, forKey key: Key) throws { writeFixed(value) }
  mutating func encode(_ value: UInt, forKey key: Key) throws { writeFixed(UInt64(value)) }
  mutating func encode(_ value: UInt8, forKey key: Key) throws { writeFixed(value) }
  mutating func encode(_ value: UInt16, forKey key: Key) throws { writeFixed(value) }
  mutating func encode(_ value: UInt32, forKey key: Key) throws { writeFixed(value) }
  mutating func encode(_ value: UInt64, forKey key: Key) throws { writeFixed(value) }
  mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try write(value) }

  // Optional fields: a presence byte (the protocol's defaults would write nothing for nil).
  mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try opt(value) }
  mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try opt(value) }
  mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try opt(value) }
  mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try opt(value) }
  mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try opt(value) }
  mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try opt(value) }
  mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try opt(value) }
  mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try opt(value) }
  mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try opt(value) }
  mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try opt(value) }
  mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try opt(value) }
  mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try opt(value) }
  mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try opt(value) }
  mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try opt(value) }
  mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
    try opt(value)
  }

  func opt<T: Encodable>(_ value: T?) throws {
    guard let value else {
      sink.bytes.append(0)
      return
    }
    sink.bytes.append(1)
    try write(value)
  }

  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type, forKey key: Key
  ) -> KeyedEncodingContainer<NestedKey> {
    KeyedEncodingContainer(KeyedBinaryEncoder<NestedKey>(sink: sink))
  }
  mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
    UnkeyedBinaryEncoder(sink: sink)
  }
  mutating func superEncoder() -> any Encoder { BinaryEncoder(sink: sink) }
  mutating func superEncoder(forKey key: Key) -> any Encoder { BinaryEncoder(sink: sink) }
}

/// An array: a 4-byte count, patched as elements are added, then the elements.
struct UnkeyedBinaryEncoder: UnkeyedEncodingContainer, BinaryWriting {
  let sink: BinarySink
  let countAt: Int
  var codingPath: [any CodingKey] = []
  private(set) var count = 0

  init(sink: BinarySink) {
    self.sink = sink
    countAt = sink.bytes.count
    sink.fixed(UInt32(0))
  }

  mutating func bump() {
    count += 1
    withUnsafeBytes(of: UInt32(truncatingIfNeeded: count).littleEndian) { b in
      for i in 0..<4 { sink.bytes[countAt + i] = b[i] }
    }
  }

  mutating func encodeNil() throws { throw Self.noNil() }

  static func noNil() -> EncodingError {
    .invalidValue(
      0, .init(codingPath: [], debugDescription: "nil outside a struct field is not supported"))
  }
  mutating func encode(_ value: Bool) throws {
    write(value)
    bump()
  }
  mutating func encode(_ value: String) throws {
    try write(value)
    bump()
  }
  mutating func encode(_ value: Double) throws {
    write(value)
    bump()
  }
  mutating func encode(_ value: Int) throws {
    writeFixed(Int64(value))
    bump()
  }
  mutating func encode<T: Encodable>(_ value: T) throws {
    try write(value)
    bump()
  }
  mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
    -> KeyedEncodingContainer<NestedKey>
  {
    bump()
    return KeyedEncodingContainer(KeyedBinaryEncoder<NestedKey>(sink: sink))
  }
  mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
    bump()
    return UnkeyedBinaryEncoder(sink: sink)
  }
  mutating func superEncoder() -> any Encoder { BinaryEncoder(sink: sink) }
}

struct SingleBinaryEncoder: SingleValueEncodingContainer, BinaryWriting {
  let sink: BinarySink
  var codingPath: [any CodingKey] = []
  mutating func encodeNil() throws { throw UnkeyedBinaryEncoder.noNil() }
  mutating func encode(_ value: Bool) throws { write(value) }
  mutating func encode(_ value: String) throws { try write(value) }
  mutating func encode(_ value: Double) throws { write(value) }
  mutating func encode(_ value: Float) throws { write(value) }
  mutating func encode(_ value: Int) throws { writeFixed(Int64(value)) }
  mutating func encode(_ value: Int8) throws { writeFixed(value) }
  mutating func encode(_ value: Int16) throws { writeFixed(value) }
  mutating func encode(_ value: Int32) throws { writeFixed(value) }
  mutating func encode(_ value: Int64) throws { writeFixed(value) }
  mutating func encode(_ value: UInt) throws { writeFixed(UInt64(value)) }
  mutating func encode(_ value: UInt8) throws { writeFixed(value) }
  mutating func encode(_ value: UInt16) throws { writeFixed(value) }
  mutating func encode(_ value: UInt32) throws { writeFixed(value) }
  mutating func encode(_ value: UInt64) throws { writeFixed(value) }
  mutating func encode<T: Encodable>(_ value: T) throws { try write(value) }
}

// MARK: Decoding

final class BinarySource {
  let bytes: [UInt8]
  var offset = 0
  init(_ bytes: [UInt8]) { self.bytes = bytes }

  var remaining: Int { bytes.count - offset }

  func fail(_ what: String) -> DecodingError {
    .dataCorrupted(.init(codingPath: [], debugDescription: "\(what) at byte \(offset)"))
  }

  @inline(__always) func fixed<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
    let n = MemoryLayout<I>.size
    guard remaining >= n else { throw fail("truncated \(I.self)") }
    var v: I = 0
    bytes.withUnsafeBytes { b in
      withUnsafeMutableBytes(of: &v) {
        $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[offset..<offset + n]))
      }
    }
    offset += n
    return I(littleEndian: v)
  }
  func bool() throws -> Bool {
    switch try fixed(UInt8.self) {
    case 0: return false
    case 1: return true
    default: throw fail("bad Bool")
    }
  }
  func string() throws -> String {
    let n = Int(try fixed(UInt32.self))
    guard n <= remaining else { throw fail("string longer than the message") }
    let s = bytes[offset..<offset + n]
    guard let text = String(validating: s, as: UTF8.self) else { throw fail("invalid UTF-8") }
    offset += n
    return text
  }
  func int() throws -> Int { Int(try fixed(Int64.self)) }
  func uint() throws -> UInt { UInt(try fixed(UInt64.self)) }
  func double() throws -> Double { Double(bitPattern: try fixed(UInt64.self)) }
  func float() throws -> Float { Float(bitPattern: try fixed(UInt32.self)) }

  func read<T: Decodable>(_ type: T.Type) throws -> T {
    if T.self == Int.self { return unsafeBitCast(try int(), to: T.self) }
    if T.self == Double.self { return unsafeBitCast(try double(), to: T.self) }
    if T.self == String.self { return unsafeBitCast(try string(), to: T.self) }
    if T.self == Bool.self { return unsafeBitCast(try bool(), to: T.self) }
    if T.self == UInt64.self { return unsafeBitCast(try fixed(UInt64.self), to: T.self) }
    return try T(from: BinaryDecoder(source: self))
  }
}

struct BinaryDecoder: Decoder {
  let source: BinarySource
  var codingPath: [any CodingKey] = []
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
    KeyedDecodingContainer(KeyedBinaryDecoder<Key>(source: source))
  }
  func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
    try UnkeyedBinaryDecoder(source: source)
  }
  func singleValueContainer() throws -> any SingleValueDecodingContainer {
    SingleBinaryDecoder(source: source)
  }
}

struct KeyedBinaryDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
  let source: BinarySource
  var codingPath: [any CodingKey] = []
  var allKeys: [Key] { [] }

  func contains(_ key: Key) -> Bool { true }
  func decodeNil(forKey key: Key) throws -> Bool { try !source.bool() }
  func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try source.bool() }
  func decode(_ type: String.Type, forKey key: Key) throws -> String { try source.string() }
  func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try source.double() }
  func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try source.float() }
  func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try source.int() }
  func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try source.fixed(Int8.self) }
  func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 {
    try source.fixed(Int16.self)
  }
  func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 {
    try source.fixed(Int32.self)
  }
  func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
    try source.fixed(Int64.self)
  }
  func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try source.uint() }
  func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 {
    try source.fixed(UInt8.self)
  }
  func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 {
    try source.fixed(UInt16.self)
  }
  func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 {
    try source.fixed(UInt32.self)
  }
  func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
    try source.fixed(UInt64.self)
  }
  func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
    try source.read(T.self)
  }

  func present() throws -> Bool { try source.bool() }
  func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
    try present() ? source.bool() : nil
  }
  func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
    try present() ? source.string() : nil
  }
  func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
    try present() ? source.double() : nil
  }
  func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
    try present() ? source.float() : nil
  }
  func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
    try present() ? source.int() : nil
  }
  func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? {
    try present() ? source.fixed(Int8.self) : nil
  }
  func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? {
    try present() ? source.fixed(Int16.self) : nil
  }
  func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? {
    try present() ? source.fixed(Int32.self) : nil
  }
  func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? {
    try present() ? source.fixed(Int64.self) : nil
  }
  func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? {
    try present() ? source.uint() : nil
  }
  func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? {
    try present() ? source.fixed(UInt8.self) : nil
  }
  func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? {
    try present() ? source.fixed(UInt16.self) : nil
  }
  func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? {
    try present() ? source.fixed(UInt32.self) : nil
  }
  func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? {
    try present() ? source.fixed(UInt64.self) : nil
  }
  func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
    try present() ? source.read(T.self) : nil
  }

  func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key)
    throws -> KeyedDecodingContainer<NestedKey>
  {
    KeyedDecodingContainer(KeyedBinaryDecoder<NestedKey>(source: source))
  }
  func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
    try UnkeyedBinaryDecoder(source: source)
  }
  func superDecoder() throws -> any Decoder { BinaryDecoder(source: source) }
  func superDecoder(forKey key: Key) throws -> any Decoder { BinaryDecoder(source: source) }
}

struct UnkeyedBinaryDecoder: UnkeyedDecodingContainer {
  let source: BinarySource
  var codingPath: [any CodingKey] = []
  let total: Int
  var currentIndex = 0
  var count: Int? { total }
  var isAtEnd: Bool { currentIndex >= total }

  init(source: BinarySource) throws {
    self.source = source
    total = Int(try source.fixed(UInt32.self))
    // Every element takes at least one byte: a count beyond the bytes left is a lie.
    guard total <= source.remaining else { throw source.fail("array count \(total) too large") }
  }

  mutating func advance() throws {
    guard !isAtEnd else { throw source.fail("read past the end of an array") }
    currentIndex += 1
  }
  mutating func decodeNil() throws -> Bool { false }  // never encoded (see the encoder)
  mutating func decode(_ type: Bool.Type) throws -> Bool {
    try advance()
    return try source.bool()
  }
  mutating func decode(_ type: String.Type) throws -> String {
    try advance()
    return try source.string()
  }
  mutating func decode(_ type: Double.Type) throws -> Double {
    try advance()
    return try source.double()
  }
  mutating func decode(_ type: Int.Type) throws -> Int {
    try advance()
    return try source.int()
  }
  mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
    try advance()
    return try source.read(T.self)
  }
  mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
    -> KeyedDecodingContainer<NestedKey>
  {
    try advance()
    return KeyedDecodingContainer(KeyedBinaryDecoder<NestedKey>(source: source))
  }
  mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
    try advance()
    return try UnkeyedBinaryDecoder(source: source)
  }
  mutating func superDecoder() throws -> any Decoder { BinaryDecoder(source: source) }
}

struct SingleBinaryDecoder: SingleValueDecodingContainer {
  let source: BinarySource
  var codingPath: [any CodingKey] = []
  func decodeNil() -> Bool { false }
  func decode(_ type: Bool.Type) throws -> Bool { try source.bool() }
  func decode(_ type: String.Type) throws -> String { try source.string() }
  func decode(_ type: Double.Type) throws -> Double { try source.double() }
  func decode(_ type: Float.Type) throws -> Float { try source.float() }
  func decode(_ type: Int.Type) throws -> Int { try source.int() }
  func decode(_ type: Int8.Type) throws -> Int8 { try source.fixed(Int8.self) }
  func decode(_ type: Int16.Type) throws -> Int16 { try source.fixed(Int16.self) }
  func decode(_ type: Int32.Type) throws -> Int32 { try source.fixed(Int32.self) }
  func decode(_ type: Int64.Type) throws -> Int64 { try source.fixed(Int64.self) }
  func decode(_ type: UInt.Type) throws -> UInt { try source.uint() }
  func decode(_ type: UInt8.Type) throws -> UInt8 { try source.fixed(UInt8.self) }
  func decode(_ type: UInt16.Type) throws -> UInt16 { try source.fixed(UInt16.self) }
  func decode(_ type: UInt32.Type) throws -> UInt32 { try source.fixed(UInt32.self) }
  func decode(_ type: UInt64.Type) throws -> UInt64 { try source.fixed(UInt64.self) }
  func decode<T: Decodable>(_ type: T.Type) throws -> T { try source.read(T.self) }
}
