/// NumPy `.npy` files (format versions 1.0, 2.0 and 3.0; see numpy/lib/format.py): the
/// interchange format for weight matrices and samples with Python. Pure byte codec, no I/O.

/// A decoded array: the shape and the values in row-major (C) order, widened to `Double`.
public struct NPYArray: Hashable, Sendable {
  /// Dimensions, outermost first; [] for a 0-d (scalar) array. Every entry ≥ 0.
  public var shape: [Int]
  /// The Π(shape) values in row-major order (Fortran-ordered files are transposed on decode).
  public var values: [Double]

  /// Memberwise initialiser (no validation).
  public init(shape: [Int], values: [Double]) {
    self.shape = shape
    self.values = values
  }
}

/// Why a `.npy` byte buffer could not be decoded. `description` names the file and the problem.
public enum NPYError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The buffer does not start with the magic string "\x93NUMPY".
  case badMagic(name: String)
  /// A format version other than 1.0, 2.0 or 3.0.
  case unsupportedVersion(name: String, major: UInt8, minor: UInt8)
  /// The header dictionary is malformed or misses a key; `reason` says what was wrong.
  case badHeader(name: String, reason: String)
  /// A dtype other than little-endian float32 ('<f4') or float64 ('<f8').
  case unsupportedDType(name: String, descr: String)
  /// Fewer bytes than the header (or the data of the declared shape) needs.
  case truncated(name: String, expectedBytes: Int, actualBytes: Int)
  /// More bytes after the data than the declared shape accounts for.
  case trailingBytes(name: String, extraBytes: Int)

  /// "<name>: <problem>".
  public var description: String {
    switch self {
    case .badMagic(let name):
      return "\(name): not a .npy file (the magic string \\x93NUMPY is missing)"
    case .unsupportedVersion(let name, let major, let minor):
      return "\(name): unsupported .npy format version \(major).\(minor) (supported: 1.0, 2.0, 3.0)"
    case .badHeader(let name, let reason):
      return "\(name): malformed .npy header: \(reason)"
    case .unsupportedDType(let name, let descr):
      return
        "\(name): unsupported dtype '\(descr)' (supported: '<f4' float32 and '<f8' float64, little-endian)"
    case .truncated(let name, let expected, let actual):
      return "\(name): truncated .npy file: needs \(expected) bytes, has \(actual)"
    case .trailingBytes(let name, let extra):
      return "\(name): \(extra) unexpected bytes after the array data"
    }
  }
}

/// Encoder and decoder of `.npy` byte buffers.
public enum NPY {
  static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

  /// A little-endian float32 ('<f4'), C-order `.npy` file, byte-identical to `numpy.save`
  /// of the same array (the header layout numpy 2.x writes: 64-byte alignment, growth padding;
  /// checked byte for byte against numpy 2.4.6).
  ///
  /// - Parameters:
  ///   - shape: dimensions (each ≥ 0; [] for a scalar); Π(shape) must equal `values.count`
  ///     (precondition).
  ///   - values: the entries in row-major order.
  public static func encode(shape: [Int], float32 values: [Float]) -> [UInt8] {
    var bytes = header(shape: shape, descr: "<f4", count: values.count)
    let start = bytes.count
    bytes += [UInt8](repeating: 0, count: 4 * values.count)
    bytes.withUnsafeMutableBytes { raw in
      for (i, v) in values.enumerated() {
        raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: start + 4 * i, as: UInt32.self)
      }
    }
    return bytes
  }

  /// A little-endian float64 ('<f8'), C-order `.npy` file, byte-identical to `numpy.save`.
  ///
  /// - Parameters:
  ///   - shape: dimensions (each ≥ 0); Π(shape) must equal `values.count` (precondition).
  ///   - values: the entries in row-major order.
  public static func encode(shape: [Int], float64 values: [Double]) -> [UInt8] {
    var bytes = header(shape: shape, descr: "<f8", count: values.count)
    let start = bytes.count
    bytes += [UInt8](repeating: 0, count: 8 * values.count)
    bytes.withUnsafeMutableBytes { raw in
      for (i, v) in values.enumerated() {
        raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: start + 8 * i, as: UInt64.self)
      }
    }
    return bytes
  }

  /// Magic, version, header length and the padded header dictionary, as numpy writes them:
  /// keys sorted, `repr` of the shape tuple, 21 − len(repr(growth-axis size)) spaces of growth
  /// room, then spaces and a newline up to a multiple of 64 bytes (a full 64 when already
  /// aligned, as numpy does). Version 1.0 unless the header needs more than 65535 bytes.
  static func header(shape: [Int], descr: String, count: Int) -> [UInt8] {
    precondition(shape.allSatisfy { $0 >= 0 }, "NPY.encode: negative dimension in \(shape)")
    precondition(
      shape.reduce(1, *) == count,
      "NPY.encode: shape \(shape) holds \(shape.reduce(1, *)) values, got \(count)")
    let tuple: String
    switch shape.count {
    case 0: tuple = "()"
    case 1: tuple = "(\(shape[0]),)"
    default: tuple = "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
    var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(tuple), }"
    if let growth = shape.first {
      dict += String(repeating: " ", count: max(0, 21 - String(growth).count))
    }
    let textLength = dict.utf8.count + 1  // + the final newline
    var version: UInt8 = 1
    var prefixLength = magic.count + 2 + 2
    var padding = 64 - (prefixLength + textLength) % 64
    if textLength + padding > Int(UInt16.max) {
      version = 2
      prefixLength = magic.count + 2 + 4
      padding = 64 - (prefixLength + textLength) % 64
    }
    let headerLength = textLength + padding
    var bytes = magic + [version, 0]
    if version == 1 {
      bytes += [UInt8(headerLength & 0xFF), UInt8(headerLength >> 8)]
    } else {
      bytes += (0..<4).map { UInt8((headerLength >> (8 * $0)) & 0xFF) }
    }
    bytes += Array(dict.utf8)
    bytes += [UInt8](repeating: 0x20, count: padding)
    bytes.append(0x0A)
    return bytes
  }

  /// Decodes a `.npy` buffer of little-endian float32 or float64 values, C or Fortran order,
  /// any number of dimensions (1-D and 2-D are the common cases), into row-major `Double`s.
  ///
  /// - Parameters:
  ///   - bytes: the whole file.
  ///   - name: the file name, used only in error messages.
  /// - Throws: `NPYError` for a bad magic string, unsupported version or dtype, malformed
  ///   header, truncated data, or bytes after the data.
  public static func decode(_ bytes: [UInt8], name: String) throws(NPYError) -> NPYArray {
    guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
      throw .badMagic(name: name)
    }
    guard bytes.count >= magic.count + 2 else {
      throw .truncated(name: name, expectedBytes: magic.count + 2, actualBytes: bytes.count)
    }
    let major = bytes[6]
    let minor = bytes[7]
    guard (1...3).contains(major), minor == 0 else {
      throw .unsupportedVersion(name: name, major: major, minor: minor)
    }
    let lengthBytes = major == 1 ? 2 : 4
    let headerStart = 8 + lengthBytes
    guard bytes.count >= headerStart else {
      throw .truncated(name: name, expectedBytes: headerStart, actualBytes: bytes.count)
    }
    var headerLength = 0
    for i in 0..<lengthBytes { headerLength |= Int(bytes[8 + i]) << (8 * i) }
    let dataStart = headerStart + headerLength
    guard bytes.count >= dataStart else {
      throw .truncated(name: name, expectedBytes: dataStart, actualBytes: bytes.count)
    }
    let fields = try HeaderParser.parse(Array(bytes[headerStart..<dataStart]), name: name)

    let itemSize: Int
    switch fields.descr {
    case "<f4": itemSize = 4
    case "<f8": itemSize = 8
    default: throw .unsupportedDType(name: name, descr: fields.descr)
    }
    var count = 1
    for d in fields.shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: d)
      guard !overflow else {
        throw .badHeader(name: name, reason: "shape \(fields.shape) is too large")
      }
      count = product
    }
    let (dataLength, overflow) = count.multipliedReportingOverflow(by: itemSize)
    guard !overflow, dataStart <= Int.max - dataLength else {
      throw .badHeader(name: name, reason: "shape \(fields.shape) is too large")
    }
    let available = bytes.count - dataStart
    guard available >= dataLength else {
      throw .truncated(name: name, expectedBytes: dataStart + dataLength, actualBytes: bytes.count)
    }
    guard available == dataLength else {
      throw .trailingBytes(name: name, extraBytes: available - dataLength)
    }

    var stored = [Double](repeating: 0, count: count)
    bytes.withUnsafeBytes { raw in
      if itemSize == 4 {
        for i in 0..<count {
          let bits = raw.loadUnaligned(fromByteOffset: dataStart + 4 * i, as: UInt32.self)
          stored[i] = Double(Float(bitPattern: UInt32(littleEndian: bits)))
        }
      } else {
        for i in 0..<count {
          let bits = raw.loadUnaligned(fromByteOffset: dataStart + 8 * i, as: UInt64.self)
          stored[i] = Double(bitPattern: UInt64(littleEndian: bits))
        }
      }
    }
    let values =
      fields.fortranOrder && fields.shape.count > 1
      ? rowMajor(fromColumnMajor: stored, shape: fields.shape) : stored
    return NPYArray(shape: fields.shape, values: values)
  }

  /// Reorders column-major (Fortran) values into row-major order for any number of dimensions.
  static func rowMajor(fromColumnMajor source: [Double], shape: [Int]) -> [Double] {
    let count = source.count
    guard count > 0 else { return source }
    // Fortran strides: the first index varies fastest.
    var strides = [Int](repeating: 1, count: shape.count)
    for k in 1..<shape.count { strides[k] = strides[k - 1] * shape[k - 1] }
    var result = [Double](repeating: 0, count: count)
    var index = [Int](repeating: 0, count: shape.count)  // row-major odometer
    var offset = 0
    for i in 0..<count {
      result[i] = source[offset]
      var k = shape.count - 1
      while k >= 0 {
        index[k] += 1
        offset += strides[k]
        if index[k] < shape[k] { break }
        offset -= strides[k] * shape[k]
        index[k] = 0
        k -= 1
      }
    }
    return result
  }
}

/// Parser of the header: a Python dict literal with the keys 'descr' (a string),
/// 'fortran_order' (True/False) and 'shape' (a tuple of non-negative integers).
struct HeaderParser {
  var bytes: [UInt8]
  var position = 0
  let name: String

  struct Fields {
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]
  }

  static func parse(_ bytes: [UInt8], name: String) throws(NPYError) -> Fields {
    var parser = HeaderParser(bytes: bytes, name: name)
    return try parser.dictionary()
  }

  init(bytes: [UInt8], name: String) {
    self.bytes = bytes
    self.name = name
  }

  func fail(_ reason: String) -> NPYError { .badHeader(name: name, reason: reason) }

  var current: UInt8? { position < bytes.count ? bytes[position] : nil }

  mutating func skipSpace() {
    while let c = current, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { position += 1 }
  }

  mutating func expect(_ c: UInt8, _ what: String) throws(NPYError) {
    skipSpace()
    guard current == c else { throw fail("expected \(what) at byte \(position)") }
    position += 1
  }

  mutating func dictionary() throws(NPYError) -> Fields {
    try expect(UInt8(ascii: "{"), "'{'")
    var descr: String?
    var fortran: Bool?
    var shape: [Int]?
    while true {
      skipSpace()
      if current == UInt8(ascii: "}") {
        position += 1
        break
      }
      let key = try string()
      try expect(UInt8(ascii: ":"), "':' after '\(key)'")
      skipSpace()
      switch key {
      case "descr":
        guard current == UInt8(ascii: "'") || current == UInt8(ascii: "\"") else {
          throw NPYError.unsupportedDType(name: name, descr: "structured or non-string descr")
        }
        descr = try string()
      case "fortran_order": fortran = try boolean()
      case "shape": shape = try tuple()
      default: throw fail("unexpected key '\(key)'")
      }
      skipSpace()
      if current == UInt8(ascii: ",") { position += 1 }
    }
    skipSpace()
    guard position == bytes.count else { throw fail("unexpected text after the dictionary") }
    guard let descr else { throw fail("missing key 'descr'") }
    guard let fortran else { throw fail("missing key 'fortran_order'") }
    guard let shape else { throw fail("missing key 'shape'") }
    return Fields(descr: descr, fortranOrder: fortran, shape: shape)
  }

  mutating func string() throws(NPYError) -> String {
    skipSpace()
    guard let quote = current, quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") else {
      throw fail("expected a quoted string at byte \(position)")
    }
    position += 1
    let start = position
    while let c = current, c != quote { position += 1 }
    guard current == quote else { throw fail("unterminated string") }
    let text = String(decoding: bytes[start..<position], as: UTF8.self)
    position += 1
    return text
  }

  mutating func boolean() throws(NPYError) -> Bool {
    for (word, value) in [("True", true), ("False", false)] {
      let w = Array(word.utf8)
      if position + w.count <= bytes.count && Array(bytes[position..<(position + w.count)]) == w {
        position += w.count
        return value
      }
    }
    throw fail("'fortran_order' must be True or False")
  }

  mutating func tuple() throws(NPYError) -> [Int] {
    try expect(UInt8(ascii: "("), "'(' opening 'shape'")
    var dims: [Int] = []
    while true {
      skipSpace()
      if current == UInt8(ascii: ")") {
        position += 1
        return dims
      }
      let start = position
      var value = 0
      while let c = current, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
        let (times10, o1) = value.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times10.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
        guard !o1, !o2 else { throw fail("dimension too large in 'shape'") }
        value = sum
        position += 1
      }
      guard position > start else { throw fail("'shape' must be a tuple of non-negative integers") }
      if current == UInt8(ascii: "L") { position += 1 }  // Python 2 long suffix
      dims.append(value)
      skipSpace()
      if current == UInt8(ascii: ",") {
        position += 1
      } else if current != UInt8(ascii: ")") {
        throw fail("expected ',' or ')' in 'shape' at byte \(position)")
      }
    }
  }
}
