import Foundation
import TailSweepTestSupport
import Testing

@testable import TailNet

// Inputs found by the FuzzData libFuzzer target (Fuzz/FuzzData, docs/reliability.md) that
// trapped a data reader. Each test replays the input through the same entry point; the reader
// must answer (nil, or a thrown error) instead of trapping.

/// A cache file: the header text padded to `BinaryCache.headerSize`, then `payload`.
private func cacheFile(header: String, payload: [UInt8]) throws -> URL {
  var bytes = Array(header.utf8)
  bytes += [UInt8](repeating: 0, count: BinaryCache.headerSize - bytes.count)
  bytes += payload
  let url = try TestFiles.temporaryDirectory("tailsweep-data").appendingPathComponent("cache.f32")
  try DataTestSupport.write(bytes, to: url)
  return url
}

/// Whether `BinaryCache.map` accepts the file.
private func maps(_ url: URL) -> Bool { BinaryCache.map(url, sourceKey: "") != nil }

private func header(rows: String, columns: String) -> String {
  "TAILSWEEP-CACHE 1\nrows=\(rows)\ncolumns=\(columns)\nsourceKey=\nsourceHash=\n"
    + "classLabels=a\nnormalization=\nendian=little\n"
}

/// FuzzData crash 1 (input `Fuzz/corpus/FuzzData/cache-edge-negative`): a cache header with
/// rows = -1 and columns = -2 in a file of 4096 + 4 bytes matched the size formula
/// (4096 + (-1)(-2)·4 + (-1)·4) and trapped in `UnsafeBufferPointer(count: -1)`.
@Test func fuzzCacheWithNegativeDimensionsIsRejected() throws {
  let url = try cacheFile(header: header(rows: "-1", columns: "-2"), payload: [0, 0, 0, 0])
  #expect(!maps(url))
}

/// The same formula overflowed (trap) for huge dimensions.
@Test func fuzzCacheWithOverflowingDimensionsIsRejected() throws {
  let url = try cacheFile(
    header: header(rows: "4611686018427387904", columns: "4611686018427387904"), payload: [])
  #expect(!maps(url))
  #expect(BinaryCache.fileSize(rows: Int.max, columns: 2) == nil)
  #expect(BinaryCache.fileSize(rows: 3, columns: -1) == nil)
  #expect(BinaryCache.fileSize(rows: 2, columns: 3) == BinaryCache.headerSize + 2 * 3 * 4 + 2 * 4)
}

/// A valid cache still maps after the fix.
@Test func fuzzCacheValidStillMaps() throws {
  var payload: [UInt8] = []
  for v: Float in [1, 2, 3, 4, 5, 6] {
    withUnsafeBytes(of: v.bitPattern.littleEndian) { payload += $0 }
  }
  for l: Int32 in [0, 0] { withUnsafeBytes(of: l.littleEndian) { payload += $0 } }
  let url = try cacheFile(header: header(rows: "2", columns: "3"), payload: payload)
  let mapped = try #require(BinaryCache.map(url, sourceKey: ""))
  #expect(mapped.0.rows == 2 && mapped.1.columns == 3 && mapped.2 == [0, 0])
}

/// FuzzData crash 2 (input hex 00 00 | 00000803 7fffffff 0000ffff 00010002): an IDX image
/// header whose dimensions multiply past Int.max trapped (arithmetic overflow) in
/// `IDXReader.header`; it is now refused with a `DataError`.
@Test func fuzzIDXHeaderWithOverflowingDimensionsThrows() throws {
  let bytes: [UInt8] = [
    0x00, 0x00, 0x08, 0x03, 0x7f, 0xff, 0xff, 0xff, 0x00, 0x00, 0xff, 0xff, 0x00, 0x01, 0x00, 0x02,
  ]
  let error = #expect(throws: DataError.self) {
    try IDXReader.header(bytes, dims: 3, path: "images", what: "image")
  }
  #expect(error?.problem.contains("more than can be addressed") == true)
  // The same header as a file, through the public catalog.
  let dir = try TestFiles.temporaryDirectory("tailsweep-data")
  try DataTestSupport.writeSmallIDXSet(in: dir)
  try DataTestSupport.write(
    bytes, to: dir.appendingPathComponent("mnist/train-images-idx3-ubyte"))
  let message = DataTestSupport.loadError(DataCatalog(directory: dir), DatasetSpec(name: "mnist"))
  #expect(message.contains("train-images-idx3-ubyte"))
}
