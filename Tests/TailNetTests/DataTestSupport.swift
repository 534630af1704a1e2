import Foundation
import TailSweepTestSupport
import Testing

@testable import TailNet

/// Files of the data-reader tests: the real data (`TestFiles.dataDirectory`), small IDX sets.
enum DataTestSupport {
  struct MissingData: Error, CustomStringConvertible {
    var description: String
  }

  /// The real data folder; throws (the test fails, it is not skipped) telling to run
  /// `make setup` when the files setup makes are not there.
  static func realCatalog(needs relative: String) throws -> DataCatalog {
    let dir = TestFiles.dataDirectory
    let file = dir.appendingPathComponent(relative)
    guard FileManager.default.fileExists(atPath: file.path) else {
      let message =
        "real data missing: \(file.path) not found; run `make setup` (or scripts/setup.sh) first"
      throw MissingData(description: message)
    }
    return DataCatalog(directory: dir)
  }

  static func write(_ bytes: [UInt8], to url: URL) throws {
    try FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(bytes).write(to: url)
  }

  static func write(_ text: String, to url: URL) throws {
    try write(Array(text.utf8), to: url)
  }

  static func be32(_ v: Int) -> [UInt8] {
    [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
  }

  /// An IDX image file of `n` images of rows×cols with the given pixel function.
  static func idxImages(n: Int, rows: Int = 28, cols: Int = 28, pixel: (Int, Int) -> UInt8)
    -> [UInt8]
  {
    var b = be32(0x803) + be32(n) + be32(rows) + be32(cols)
    for i in 0..<n { for j in 0..<(rows * cols) { b.append(pixel(i, j)) } }
    return b
  }

  /// An IDX label file.
  static func idxLabels(_ labels: [UInt8]) -> [UInt8] {
    be32(0x801) + be32(labels.count) + labels
  }

  /// Writes a small valid MNIST-shaped set (train n, test m) into `dir/name/`.
  static func writeSmallIDXSet(
    in dir: URL, name: String = "mnist", train n: Int = 6, test m: Int = 4
  ) throws {
    let folder = dir.appendingPathComponent(name)
    try write(
      idxImages(n: n) { i, j in UInt8((i * 7 + j) % 256) },
      to: folder.appendingPathComponent("train-images-idx3-ubyte"))
    try write(
      idxLabels((0..<n).map { UInt8($0 % 10) }),
      to: folder.appendingPathComponent("train-labels-idx1-ubyte"))
    try write(
      idxImages(n: m) { i, j in UInt8((i * 3 + j) % 256) },
      to: folder.appendingPathComponent("t10k-images-idx3-ubyte"))
    try write(
      idxLabels((0..<m).map { UInt8(9 - $0 % 10) }),
      to: folder.appendingPathComponent("t10k-labels-idx1-ubyte"))
  }

  /// Loads `spec` expecting a `DataError`; returns its description ("" and a failure if none).
  static func loadError(_ catalog: DataCatalog, _ spec: DatasetSpec) -> String {
    do {
      _ = try catalog.load(spec)
      Issue.record("expected a DataError for \(spec.name)")
      return ""
    } catch let e as DataError {
      return e.description
    } catch {
      Issue.record("expected a DataError, got \(error)")
      return ""
    }
  }
}
