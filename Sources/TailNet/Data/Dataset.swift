import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A problem with data files or with a data set request: names the file (when there is one) and
/// what is wrong with it, e.g. `data/mnist/train-labels-idx1-ubyte: label 12 at index 3 is out of
/// range 0...9`.
public struct DataError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The file concerned, or nil for problems with the request itself.
  public var file: String?
  /// What is wrong, in words a person can act on.
  public var problem: String

  /// An error about `file` (a path), or about the request when `file` is nil.
  public init(file: String?, _ problem: String) {
    self.file = file
    self.problem = problem
  }

  /// `file: problem`, or the problem alone.
  public var description: String {
    if let file { return "\(file): \(problem)" }
    return problem
  }
}

/// Keeps the memory behind a `FeatureMatrix` alive: owned (heap) or a read-only memory map.
final class FeatureStorage: @unchecked Sendable {
  // Immutable after init; the memory is never written once shared, so @unchecked is sound.
  let base: UnsafeRawPointer
  let byteCount: Int
  let mappedPath: String?

  /// Owned memory holding a copy of `values`.
  init(copying values: UnsafeBufferPointer<Float>) {
    let bytes = max(values.count, 1) * MemoryLayout<Float>.stride
    let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    if let src = values.baseAddress, values.count > 0 {
      p.copyMemory(from: src, byteCount: values.count * MemoryLayout<Float>.stride)
    }
    base = UnsafeRawPointer(p)
    byteCount = bytes
    mappedPath = nil
  }

  /// Takes ownership of a mapping made with `mmap` (unmapped in `deinit`).
  init(mapped base: UnsafeRawPointer, byteCount: Int, path: String) {
    self.base = base
    self.byteCount = byteCount
    self.mappedPath = path
  }

  deinit {
    if mappedPath != nil {
      munmap(UnsafeMutableRawPointer(mutating: base), byteCount)
    } else {
      base.deallocate()
    }
  }
}

/// A row-major matrix of Float32 features: `rows` examples of `columns` inputs each. The memory
/// is either a read-only memory map of the converted cache (shared between worker processes
/// through the page cache) or owned memory; either way it lives as long as any copy of the value.
public struct FeatureMatrix: @unchecked Sendable {
  // @unchecked: the pointed-to memory is immutable once the matrix exists.
  /// Number of examples.
  public let rows: Int
  /// Number of inputs per example.
  public let columns: Int
  /// The first value of row 0; row i starts at `pointer + i * columns`. Valid only while this
  /// matrix (or a `DataSplit`/`Dataset` holding it) is alive: keep the owner alive with
  /// `withExtendedLifetime` or use `withUnsafeValues`.
  public let pointer: UnsafePointer<Float>
  let storage: FeatureStorage

  init(rows: Int, columns: Int, pointer: UnsafePointer<Float>, storage: FeatureStorage) {
    self.rows = rows
    self.columns = columns
    self.pointer = pointer
    self.storage = storage
  }

  /// A matrix in owned memory holding `values` (row-major, `rows * columns` of them).
  public init(rows: Int, columns: Int, values: [Float]) {
    precondition(
      rows >= 0 && columns >= 0 && values.count == rows * columns,
      "FeatureMatrix: \(values.count) values for \(rows)×\(columns)")
    let storage = values.withUnsafeBufferPointer { FeatureStorage(copying: $0) }
    self.init(
      rows: rows, columns: columns,
      pointer: storage.base.assumingMemoryBound(to: Float.self), storage: storage)
  }

  /// Calls `body` with all values (row-major, rows × columns), keeping the memory alive for the
  /// call. Use this (or `withExtendedLifetime`) rather than `pointer` on a temporary: the memory
  /// of a memory-mapped matrix is unmapped when the last copy of the matrix goes away.
  public func withUnsafeValues<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
    try withExtendedLifetime(storage) {
      try body(UnsafeBufferPointer(start: pointer, count: rows * columns))
    }
  }

  /// The value at (`row`, `column`).
  public subscript(row: Int, column: Int) -> Float {
    precondition(
      row >= 0 && row < rows && column >= 0 && column < columns,
      "(\(row), \(column)) out of \(rows)×\(columns)")
    return withExtendedLifetime(storage) { pointer[row * columns + column] }
  }

  /// A copy of row `i` (0 ≤ i < rows).
  public func row(_ i: Int) -> [Float] {
    precondition(i >= 0 && i < rows, "row \(i) out of 0..<\(rows)")
    return withExtendedLifetime(storage) {
      Array(UnsafeBufferPointer(start: pointer + i * columns, count: columns))
    }
  }

  /// A copy of all values, row-major.
  public func toArray() -> [Float] { withUnsafeValues { Array($0) } }

  /// The cache file this matrix maps read-only, or nil for owned memory.
  public var mappedPath: String? { storage.mappedPath }

  /// The first `count` rows, sharing this matrix's memory.
  func prefix(_ count: Int) -> FeatureMatrix {
    FeatureMatrix(rows: min(count, rows), columns: columns, pointer: pointer, storage: storage)
  }
}

/// One split (train or test) of a data set.
public struct DataSplit: Sendable {
  /// Number of examples (= features.rows = labels.count).
  public var count: Int { labels.count }
  /// Inputs, one row per example.
  public let features: FeatureMatrix
  /// Class of each example, in 0..<classes.
  public let labels: [Int32]

  /// A split; `features.rows` must equal `labels.count`.
  public init(features: FeatureMatrix, labels: [Int32]) {
    precondition(
      features.rows == labels.count, "DataSplit: \(features.rows) rows, \(labels.count) labels")
    self.features = features
    self.labels = labels
  }
}

/// A loaded data set, cut as its `DatasetSpec` asked (re-split, binarised, limited).
public struct Dataset: Sendable {
  /// The spec's name (`mnist`, `ucr/GunPoint`, `synthetic`, ...).
  public let name: String
  /// d: number of inputs per example.
  public let inputs: Int
  /// Number of classes C; labels are in 0..<C.
  public let classes: Int
  /// The original label of each class index (e.g. `["1", "2"]` for a UCR set whose labels are
  /// 1 and 2; `["N", "not N"]` after binarising on N).
  public let classLabels: [String]
  /// Training examples.
  public let train: DataSplit
  /// Test examples.
  public let test: DataSplit
  /// SHA-256 identifying the source files (see `DataCatalog`), nil for synthetic data.
  public let sourceHash: String?
  /// How the features were normalised, in words.
  public let normalization: String

  /// A data set from its parts.
  public init(
    name: String, inputs: Int, classes: Int, classLabels: [String], train: DataSplit,
    test: DataSplit, sourceHash: String?, normalization: String
  ) {
    self.name = name
    self.inputs = inputs
    self.classes = classes
    self.classLabels = classLabels
    self.train = train
    self.test = test
    self.sourceHash = sourceHash
    self.normalization = normalization
  }
}

/// What `DataCatalog.available()` knows about one data set without loading it fully.
public struct DatasetInfo: Sendable, Equatable {
  /// The name to use in a `DatasetSpec`.
  public let name: String
  /// Training examples (nominal when the files are absent), nil if unknown.
  public let trainCount: Int?
  /// Test examples, nil if unknown.
  public let testCount: Int?
  /// Inputs per example, nil if unknown.
  public let inputs: Int?
  /// Number of classes, nil if unknown.
  public let classes: Int?
  /// SHA-256 of the sources (as `Dataset.sourceHash`) when known cheaply, else nil.
  public let sha256: String?
  /// Whether the files are there (synthetic data is always present).
  public let present: Bool
  /// Where the files are (or would be), relative to the catalog's folder.
  public let location: String
}
