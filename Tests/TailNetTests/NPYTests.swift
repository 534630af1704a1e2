import Testing

@testable import TailNet

/// Bytes of `.npy` files written by numpy 2.4.6 (`np.save` to a BytesIO, or
/// `numpy.lib.format.write_array(..., version=(2, 0) / (3, 0))`) at authoring time, pasted as hex
/// so that the tests do not need numpy.
enum NumpyFiles {
  /// np.array([[1.5, -2, 3.25], [4, 5e-3, -6e10]], dtype='<f4') — C order, 2-D.
  static let float32C2D =
    "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000c03f000000c000005040000080400ad7a33b76845fd1"
  /// np.asfortranarray([[1., 2, 3], [4, 5, 6]], dtype='<f8') — Fortran order, 2-D.
  static let float64F2D =
    "934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a20547275652c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000000000000f03f00000000000010400000000000000040000000000000144000000000000008400000000000001840"
  /// np.array([0.1, -0.0, np.inf, 1e300], dtype='<f8') — 1-D.
  static let float64OneD =
    "934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028342c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a9a9999999999b93f0000000000000080000000000000f07f9c7500883ce4377e"
  /// np.asfortranarray(np.arange(24, dtype='<f4').reshape(2, 3, 4)) — Fortran order, 3-D.
  static let float32F3D =
    "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a20547275652c20277368617065273a2028322c20332c2034292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00000000000040410000804000008041000000410000a0410000803f000050410000a04000008841000010410000a84100000040000060410000c04000009041000020410000b04100004040000070410000e04000009841000030410000b841"
  /// np.array(2.5, dtype='<f8') — 0-d.
  static let scalar =
    "934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000000000000440"
  /// np.zeros((12345, 0), dtype='<f8') and np.zeros((0,), dtype='<f4') — empty arrays.
  static let empty12345x0 =
    "934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a202831323334352c2030292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a"
  static let empty0 =
    "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028302c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a"
  /// np.array([1., 2.], dtype='<f4') as format versions 2.0 and 3.0.
  static let version2 =
    "934e554d50590200740000007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000803f00000040"
  static let version3 =
    "934e554d50590300740000007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000803f00000040"
  /// np.array([1, 2], dtype='<i4') and np.array([1., 2.], dtype='>f4'): unsupported dtypes.
  static let int32 =
    "934e554d5059010076007b276465736372273a20273c6934272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0100000002000000"
  static let bigEndianFloat32 =
    "934e554d5059010076007b276465736372273a20273e6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a3f80000040000000"

  static func bytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { i in
      UInt8(String(decoding: digits[i..<(i + 2)], as: UTF8.self), radix: 16)!
    }
  }
}

/// Header bytes with the given dictionary text, numpy-style magic and version 1.0 length.
func handMadeFile(_ dict: String, data: [UInt8] = []) -> [UInt8] {
  let text = Array(dict.utf8) + [0x0A]
  return [
    0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(text.count & 0xFF), UInt8(text.count >> 8),
  ]
    + text + data
}

func decodeError(_ bytes: [UInt8]) -> NPYError? {
  do {
    _ = try NPY.decode(bytes, name: "w.npy")
    return nil
  } catch {
    return error
  }
}

struct NPYTests {
  @Test func decodesNumpyFloat32COrder() throws {
    let array = try NPY.decode(NumpyFiles.bytes(NumpyFiles.float32C2D), name: "a.npy")
    #expect(array.shape == [2, 3])
    let expected: [Float] = [1.5, -2, 3.25, 4, 5e-3, -6e10]
    #expect(array.values == expected.map(Double.init))
  }

  @Test func decodesNumpyFloat64FortranOrderToRowMajor() throws {
    let array = try NPY.decode(NumpyFiles.bytes(NumpyFiles.float64F2D), name: "f.npy")
    #expect(array.shape == [2, 3])
    #expect(array.values == [1, 2, 3, 4, 5, 6])
    let cube = try NPY.decode(NumpyFiles.bytes(NumpyFiles.float32F3D), name: "c.npy")
    #expect(cube.shape == [2, 3, 4])
    #expect(cube.values == (0..<24).map(Double.init))
  }

  @Test func decodesOneDimensionalScalarEmptyAndLaterVersions() throws {
    let v = try NPY.decode(NumpyFiles.bytes(NumpyFiles.float64OneD), name: "v.npy")
    #expect(v.shape == [4])
    #expect(v.values.map(\.bitPattern) == [0.1, -0.0, .infinity, 1e300].map(\.bitPattern))
    let s = try NPY.decode(NumpyFiles.bytes(NumpyFiles.scalar), name: "s.npy")
    #expect(s == NPYArray(shape: [], values: [2.5]))
    #expect(
      try NPY.decode(NumpyFiles.bytes(NumpyFiles.empty0), name: "e")
        == NPYArray(shape: [0], values: []))
    #expect(
      try NPY.decode(NumpyFiles.bytes(NumpyFiles.empty12345x0), name: "e")
        == NPYArray(shape: [12345, 0], values: []))
    for file in [NumpyFiles.version2, NumpyFiles.version3] {
      #expect(
        try NPY.decode(NumpyFiles.bytes(file), name: "v") == NPYArray(shape: [2], values: [1, 2]))
    }
  }

  @Test func encodeIsByteIdenticalToNumpy() {
    #expect(
      NPY.encode(shape: [2, 3], float32: [1.5, -2, 3.25, 4, 5e-3, -6e10])
        == NumpyFiles.bytes(NumpyFiles.float32C2D))
    #expect(
      NPY.encode(shape: [4], float64: [0.1, -0.0, .infinity, 1e300])
        == NumpyFiles.bytes(NumpyFiles.float64OneD))
    #expect(NPY.encode(shape: [], float64: [2.5]) == NumpyFiles.bytes(NumpyFiles.scalar))
    #expect(
      NPY.encode(shape: [12345, 0], float64: []) == NumpyFiles.bytes(NumpyFiles.empty12345x0))
    #expect(NPY.encode(shape: [0], float32: []) == NumpyFiles.bytes(NumpyFiles.empty0))
  }

  @Test func roundTrips() throws {
    let rows = 7
    let columns = 5
    let doubles = (0..<(rows * columns)).map { Double($0) * 0.37 - 3 }
    let floats = doubles.map(Float.init)
    let d = try NPY.decode(NPY.encode(shape: [rows, columns], float64: doubles), name: "d.npy")
    #expect(d == NPYArray(shape: [rows, columns], values: doubles))
    let f = try NPY.decode(NPY.encode(shape: [rows, columns], float32: floats), name: "f.npy")
    #expect(f == NPYArray(shape: [rows, columns], values: floats.map(Double.init)))
    let one = try NPY.decode(NPY.encode(shape: [3], float32: [.nan, -.infinity, 1]), name: "n.npy")
    #expect(one.values[0].isNaN && one.values[1] == -.infinity && one.values[2] == 1)
    // Every file is 64-byte aligned before the data, as numpy requires for memory mapping.
    for n in 0..<70 {
      let bytes = NPY.encode(shape: [n], float64: [Double](repeating: 1, count: n))
      #expect((bytes.count - 8 * n) % 64 == 0)
      #expect(try NPY.decode(bytes, name: "a").values.count == n)
    }
    // A header longer than 65535 bytes switches to format version 2.0.
    let manyDims = [Int](repeating: 1, count: 25_000)
    let big = NPY.encode(shape: manyDims, float32: [4])
    #expect(big[6] == 2)
    #expect(try NPY.decode(big, name: "big.npy") == NPYArray(shape: manyDims, values: [4]))
  }

  @Test func rejectsMalformedFiles() {
    let good = NumpyFiles.bytes(NumpyFiles.float32C2D)
    var badMagic = good
    badMagic[1] = 0x4F
    #expect(decodeError(badMagic) == .badMagic(name: "w.npy"))
    #expect(decodeError([1, 2, 3]) == .badMagic(name: "w.npy"))
    var version = good
    version[6] = 4
    #expect(decodeError(version) == .unsupportedVersion(name: "w.npy", major: 4, minor: 0))
    #expect(
      decodeError(NumpyFiles.bytes(NumpyFiles.int32))
        == .unsupportedDType(name: "w.npy", descr: "<i4"))
    #expect(
      decodeError(NumpyFiles.bytes(NumpyFiles.bigEndianFloat32))
        == .unsupportedDType(name: "w.npy", descr: ">f4"))
    // Truncated data (one byte short), truncated header, and an extra byte.
    #expect(
      decodeError(Array(good.dropLast()))
        == .truncated(name: "w.npy", expectedBytes: good.count, actualBytes: good.count - 1))
    #expect(
      decodeError(Array(good.prefix(60)))
        == .truncated(name: "w.npy", expectedBytes: 128, actualBytes: 60))
    #expect(decodeError(good + [0]) == .trailingBytes(name: "w.npy", extraBytes: 1))
    // Malformed dictionaries.
    let shapeless = handMadeFile("{'descr': '<f4', 'fortran_order': False, }")
    #expect(decodeError(shapeless) == .badHeader(name: "w.npy", reason: "missing key 'shape'"))
    for dict in [
      "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1,) ",
      "'descr': '<f4'",
      "{'descr: '<f4', 'fortran_order': False, 'shape': (1,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
    ] {
      if case .badHeader = decodeError(handMadeFile(dict, data: [0, 0, 0x80, 0x3F])) {
      } else {
        Issue.record("accepted or misreported: \(dict)")
      }
    }
    if case .unsupportedDType = decodeError(
      handMadeFile("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"))
    {
    } else {
      Issue.record("structured dtype not rejected")
    }
    // Hand-written header with double quotes and no trailing comma is valid Python.
    let relaxed = handMadeFile(
      "{\"shape\": (1,), \"fortran_order\": False, \"descr\": \"<f4\"}", data: [0, 0, 0x80, 0x3F])
    #expect((try? NPY.decode(relaxed, name: "r")) == NPYArray(shape: [1], values: [1]))
  }

  @Test func errorMessagesNameTheFile() {
    let messages = [
      NPYError.badMagic(name: "w1.npy").description,
      NPYError.unsupportedVersion(name: "w1.npy", major: 9, minor: 1).description,
      NPYError.badHeader(name: "w1.npy", reason: "missing key 'shape'").description,
      NPYError.unsupportedDType(name: "w1.npy", descr: "<i4").description,
      NPYError.truncated(name: "w1.npy", expectedBytes: 10, actualBytes: 3).description,
      NPYError.trailingBytes(name: "w1.npy", extraBytes: 2).description,
    ]
    #expect(messages.allSatisfy { $0.hasPrefix("w1.npy: ") })
    #expect(messages[3].contains("'<i4'"))
    #expect(messages[4].contains("10") && messages[4].contains("3"))
  }
}
