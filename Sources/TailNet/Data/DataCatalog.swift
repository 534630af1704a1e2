import Foundation
import TailMath

/// The data sets under one data folder (by default `data/`, filled by `scripts/setup.sh`):
///
/// ```
/// data/MANIFEST.sha256                 sha256sum lines of every verified source file
/// data/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte          (IDX, decompressed)
/// data/fashion-mnist/...                                             (same names)
/// data/ucr/<Name>/<Name>_{TRAIN,TEST}.{ts,tsv,txt}                   (or data/ucr/<Name>_TRAIN.*)
/// data/cifar10/data_batch_{1..5}.bin, test_batch.bin                 (or data/cifar-10-batches-bin/)
/// data/cifar100/{train,test}.bin                                     (or data/cifar-100-binary/)
/// data/cache/<name>.{train,test}.f32                                 (converted, memory-mapped)
/// ```
///
/// Names: `mnist` ((x/255 − 0.1307)/0.3081), `fashion-mnist` ((x/255 − 0.2860)/0.3530, its own
/// mean and std), `cifar10`, `cifar100` (fine labels; per-channel normalisation with the public
/// code's constants, method.md § 7), `ucr/<Name>` (per-series z-normalisation; labels mapped to 0..<C in sorted order,
/// numerically when all labels are numbers), `synthetic` (teacher–student, see `DatasetSpec`).
///
/// MNIST, Fashion-MNIST and CIFAR are converted once into `cache/` and memory-mapped read-only
/// (shared between processes); a cache is rebuilt when a source file's size or modification time
/// changes. Small sets (UCR, synthetic) and re-splits live in owned memory.
///
/// `sourceHash` is the SHA-256 of the text `"<sha256>  <path>\n"` over the source files in order
/// (paths relative to the folder), each file's SHA-256 taken from `MANIFEST.sha256` when listed
/// there, else computed.
public struct DataCatalog: Sendable {
  /// The data folder.
  public let directory: URL

  /// A catalog of the data sets under `directory`.
  public init(directory: URL) {
    self.directory = directory.standardizedFileURL
  }

  /// The names of the UCR sets that `scripts/setup.sh` fetches.
  public static let shippedUCRSets = [
    "ItalyPowerDemand", "GunPoint", "ArrowHead", "OSULeaf", "ACSF1",
  ]

  private static let idxFiles = [
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
  ]

  // MARK: Loading

  /// Loads the data set `spec` names and cuts it: re-split (pool train and test, shuffle with
  /// `dataSeed`, first `resplit` examples train, the rest test), then binarise (`binarize` label
  /// → class 0, every other label → class 1), then limits (first `trainLimit` / `testLimit`).
  public func load(_ spec: DatasetSpec) throws -> Dataset {
    var ds = try loadBase(spec)
    if let n = spec.resplit { ds = try resplit(ds, trainCount: n, seed: spec.dataSeed ?? 0) }
    if let b = spec.binarize { ds = try binarize(ds, label: b) }
    if spec.trainLimit != nil || spec.testLimit != nil {
      ds = try limit(ds, train: spec.trainLimit, test: spec.testLimit)
    }
    return ds
  }

  private func loadBase(_ spec: DatasetSpec) throws -> Dataset {
    switch spec.name {
    case "mnist":
      return try loadIDX(
        name: "mnist", mean: 0.1307, std: 0.3081,
        normalization: "x/255, then (x − 0.1307)/0.3081 (MNIST mean and std)")
    case "fashion-mnist":
      return try loadIDX(
        name: "fashion-mnist", mean: 0.2860, std: 0.3530,
        normalization: "x/255, then (x − 0.2860)/0.3530 (Fashion-MNIST mean and std)")
    case "cifar10", "cifar100":
      let fine = spec.name == "cifar100"
      let (train, test) = try cifarFiles(fine: fine)
      return try cached(name: spec.name, sources: train + test) {
        try CIFARReader.load(train: train, test: test, fine: fine)
      }
    case "synthetic":
      return try synthetic(spec)
    default:
      if spec.name.hasPrefix("ucr/") {
        let set = String(spec.name.dropFirst(4))
        let (train, test) = try ucrFiles(set)
        let raw = try UCRReader.load(train: train, test: test)
        return try owned(name: spec.name, raw: raw, sourceHash: sourceHash([train, test]))
      }
      throw DataError(
        file: nil,
        "unknown data set '\(spec.name)' (known: mnist, fashion-mnist, cifar10, cifar100, synthetic, ucr/<Name>)"
      )
    }
  }

  private func relative(_ url: URL) -> String {
    let p = url.standardizedFileURL.path
    let root = directory.path.hasSuffix("/") ? directory.path : directory.path + "/"
    return p.hasPrefix(root) ? String(p.dropFirst(root.count)) : p
  }

  private func missing(_ url: URL, fetch name: String) -> DataError {
    if FileManager.default.fileExists(atPath: url.path + ".gz") {
      return DataError(
        file: url.path,
        "missing (only the .gz is there); run `make setup` or `tailsweep data fetch \(name)` to decompress and verify it"
      )
    }
    return DataError(
      file: url.path,
      "missing; run `make setup` or `tailsweep data fetch \(name)` to fetch and verify it")
  }

  private func loadIDX(name: String, mean: Float, std: Float, normalization: String) throws
    -> Dataset
  {
    let folder = directory.appendingPathComponent(name)
    let files = DataCatalog.idxFiles.map { folder.appendingPathComponent($0) }
    for f in files where !FileManager.default.fileExists(atPath: f.path) {
      throw missing(f, fetch: name)
    }
    return try cached(name: name, sources: files) {
      let train = try IDXReader.read(
        images: files[0], labels: files[1], classes: 10, mean: mean, std: std)
      let test = try IDXReader.read(
        images: files[2], labels: files[3], classes: 10, mean: mean, std: std)
      return RawData(
        columns: 784, classLabels: (0..<10).map(String.init), train: train, test: test,
        normalization: normalization)
    }
  }

  private func cifarFiles(fine: Bool) throws -> (train: [URL], test: [URL]) {
    let names = fine ? ["cifar100", "cifar-100-binary"] : ["cifar10", "cifar-10-batches-bin"]
    let fm = FileManager.default
    let folder =
      names.map { directory.appendingPathComponent($0) }.first {
        fm.fileExists(atPath: $0.path)
      } ?? directory.appendingPathComponent(names[0])
    let hint =
      fine
      ? "CIFAR-100 is not shipped by any registry: put its binary files train.bin and test.bin into \(folder.path)/"
      : "CIFAR-10 is not shipped by any registry: put its binary files data_batch_1.bin … data_batch_5.bin and test_batch.bin into \(folder.path)/"
    if fine {
      let train = folder.appendingPathComponent("train.bin")
      let test = folder.appendingPathComponent("test.bin")
      for f in [train, test] where !fm.fileExists(atPath: f.path) {
        throw DataError(file: f.path, "missing; \(hint)")
      }
      return ([train], [test])
    }
    var train: [URL] = []
    for i in 1...5 {
      let f = folder.appendingPathComponent("data_batch_\(i).bin")
      guard fm.fileExists(atPath: f.path) else { break }
      train.append(f)
    }
    let test = folder.appendingPathComponent("test_batch.bin")
    if train.isEmpty {
      throw DataError(
        file: folder.appendingPathComponent("data_batch_1.bin").path, "missing; \(hint)")
    }
    if !fm.fileExists(atPath: test.path) { throw DataError(file: test.path, "missing; \(hint)") }
    return (train, [test])
  }

  private func ucrFiles(_ set: String) throws -> (train: URL, test: URL) {
    guard !set.isEmpty, !set.contains("/"), !set.hasPrefix(".") else {
      throw DataError(file: nil, "bad UCR set name 'ucr/\(set)'")
    }
    let fm = FileManager.default
    let ucr = directory.appendingPathComponent("ucr")
    for folder in [ucr.appendingPathComponent(set), ucr] {
      for ext in ["ts", "tsv", "txt"] {
        let train = folder.appendingPathComponent("\(set)_TRAIN.\(ext)")
        let test = folder.appendingPathComponent("\(set)_TEST.\(ext)")
        if fm.fileExists(atPath: train.path) {
          guard fm.fileExists(atPath: test.path) else {
            throw DataError(
              file: test.path, "missing (its training file \(train.lastPathComponent) is there)")
          }
          return (train, test)
        }
      }
    }
    let shipped = DataCatalog.shippedUCRSets.contains(set)
    throw DataError(
      file: ucr.appendingPathComponent(set).appendingPathComponent("\(set)_TRAIN.ts").path,
      shipped
        ? "missing; run `make setup` or `tailsweep data fetch ucr/\(set)` to fetch and verify it"
        : "missing; put \(set)_TRAIN and \(set)_TEST (.ts, or the UCR archive's .tsv/.txt) into \(ucr.path)/\(set)/"
    )
  }

  // MARK: Hashes

  private func manifest() -> [String: String] {
    let url = directory.appendingPathComponent("MANIFEST.sha256")
    guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [:] }
    var out: [String: String] = [:]
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: " ", maxSplits: 1)
      guard parts.count == 2, parts[0].count == 64 else { continue }
      var path = parts[1]
      while path.first == " " || path.first == "*" { path = path.dropFirst() }
      out[String(path)] = String(parts[0])
    }
    return out
  }

  /// Per-file SHA-256 (manifest first), combined as documented on the type.
  func sourceHash(_ files: [URL], manifestOnly: Bool = false) throws -> String? {
    let m = manifest()
    var text = ""
    for f in files {
      let rel = relative(f)
      if let h = m[rel] {
        text += "\(h)  \(rel)\n"
      } else if manifestOnly {
        return nil
      } else {
        text += "\(sha256Hex(try readBytes(f)))  \(rel)\n"
      }
    }
    return sha256Hex(Array(text.utf8))
  }

  /// Lowercase hex SHA-256 of `bytes` (OpenSSL libcrypto, `SHA256Digest`).
  func sha256Hex(_ bytes: [UInt8]) -> String {
    SHA256Digest.hex(bytes)
  }

  // MARK: Cache

  /// The version of a data set's conversion into the cache; bumping it rebuilds older caches.
  /// CIFAR 2: the fixed per-channel constants of method.md § 7 (1: the training set's own
  /// statistics).
  static func cacheFormat(_ name: String) -> Int { name.hasPrefix("cifar") ? 2 : 1 }

  /// Identifies a cache file's sources and the conversion (`format`, see `cacheFormat`).
  private func sourceKey(_ files: [URL], format: Int) throws -> String {
    var parts = ["format=\(format)"]
    for f in files {
      let attributes: [FileAttributeKey: Any]
      do {
        attributes = try FileManager.default.attributesOfItem(atPath: f.path)
      } catch {
        throw DataError(
          file: f.path, "cannot read the file's attributes: \(error.localizedDescription)")
      }
      let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
      let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
      parts.append("\(relative(f)):\(size):\(mtime)")
    }
    return parts.joined(separator: ";")
  }

  private func cacheURLs(_ name: String) -> (train: URL, test: URL, lock: URL) {
    let cache = directory.appendingPathComponent("cache")
    let safe = name.replacingOccurrences(of: "/", with: "_")
    return (
      cache.appendingPathComponent("\(safe).train.f32"),
      cache.appendingPathComponent("\(safe).test.f32"),
      cache.appendingPathComponent(".\(safe).lock")
    )
  }

  private func mapCached(_ name: String, key: String) -> Dataset? {
    let urls = cacheURLs(name)
    guard let (h, trf, trl) = BinaryCache.map(urls.train, sourceKey: key),
      let (h2, tef, tel) = BinaryCache.map(urls.test, sourceKey: key),
      h.columns == h2.columns, h.classLabels == h2.classLabels
    else { return nil }
    return Dataset(
      name: name, inputs: h.columns, classes: h.classLabels.count, classLabels: h.classLabels,
      train: DataSplit(features: trf, labels: trl), test: DataSplit(features: tef, labels: tel),
      sourceHash: h.sourceHash, normalization: h.normalization)
  }

  /// Maps the cache of `name` if it is current, else converts the sources (once, under a lock)
  /// and maps the result; owned memory when the cache cannot be written.
  private func cached(name: String, sources: [URL], build: () throws -> RawData) throws -> Dataset {
    let key = try sourceKey(sources, format: Self.cacheFormat(name))
    if let ds = mapCached(name, key: key) { return ds }
    let urls = cacheURLs(name)
    return try BinaryCache.withLock(urls.lock) {
      if let ds = mapCached(name, key: key) { return ds }
      let raw = try build()
      let hash = try sourceHash(sources) ?? ""
      do {
        for (url, split) in [(urls.train, raw.train), (urls.test, raw.test)] {
          let header = BinaryCache.Header(
            rows: split.labels.count, columns: raw.columns, sourceKey: key, sourceHash: hash,
            classLabels: raw.classLabels, normalization: raw.normalization)
          try BinaryCache.store(url, header: header, split: split)
        }
      } catch {
        return try owned(name: name, raw: raw, sourceHash: hash)
      }
      if let ds = mapCached(name, key: key) { return ds }
      return try owned(name: name, raw: raw, sourceHash: hash)
    }
  }

  private func owned(name: String, raw: RawData, sourceHash: String?) throws -> Dataset {
    func split(_ s: RawSplit) -> DataSplit {
      DataSplit(
        features: FeatureMatrix(rows: s.labels.count, columns: raw.columns, values: s.features),
        labels: s.labels)
    }
    return Dataset(
      name: name, inputs: raw.columns, classes: raw.classLabels.count, classLabels: raw.classLabels,
      train: split(raw.train), test: split(raw.test), sourceHash: sourceHash,
      normalization: raw.normalization)
  }

  // MARK: Synthetic

  private func synthetic(_ spec: DatasetSpec) throws -> Dataset {
    let d = spec.inputs ?? 20
    let c = spec.classes ?? 2
    let ntr = spec.trainSize ?? 2000
    let nte = spec.testSize ?? 1000
    let h = spec.teacherWidth ?? 10
    let checks: [(Bool, String)] = [
      (d >= 1, "inputs must be ≥ 1, got \(d)"), (c >= 2, "classes must be ≥ 2, got \(c)"),
      (ntr >= 1, "trainSize must be ≥ 1, got \(ntr)"),
      (nte >= 0, "testSize must be ≥ 0, got \(nte)"),
      (h >= 1, "teacherWidth must be ≥ 1, got \(h)"),
    ]
    for (ok, message) in checks where !ok { throw DataError(file: nil, "synthetic: \(message)") }
    let raw = SyntheticData.generate(
      inputs: d, classes: c, trainSize: ntr, testSize: nte, teacherWidth: h,
      seed: spec.dataSeed ?? 0)
    return try owned(name: "synthetic", raw: raw, sourceHash: nil)
  }

  // MARK: Cuts

  private func resplit(_ ds: Dataset, trainCount n: Int, seed: UInt64) throws -> Dataset {
    let total = ds.train.count + ds.test.count
    guard n >= 1, n < total else {
      throw DataError(
        file: nil,
        "resplit \(n) must be in 1..<\(total) (\(ds.name) has \(total) examples in train and test together)"
      )
    }
    var order = Array(0..<total)
    var rng = Xoshiro256(key: seed, stream: TrialStream.data.rawValue)
    if total > 1 {
      for i in stride(from: total - 1, to: 0, by: -1) {
        order.swapAt(i, rng.nextInt(below: i + 1))
      }
    }
    let d = ds.inputs
    func gather(_ idx: ArraySlice<Int>) -> DataSplit {
      var values = [Float](repeating: 0, count: idx.count * d)
      var labels = [Int32](repeating: 0, count: idx.count)
      ds.train.features.withUnsafeValues { train in
        ds.test.features.withUnsafeValues { test in
          values.withUnsafeMutableBufferPointer { out in
            for (r, i) in idx.enumerated() {
              let (src, row) = i < ds.train.count ? (train, i) : (test, i - ds.train.count)
              for k in 0..<d { out[r * d + k] = src[row * d + k] }
              labels[r] = i < ds.train.count ? ds.train.labels[row] : ds.test.labels[row]
            }
          }
        }
      }
      return DataSplit(
        features: FeatureMatrix(rows: idx.count, columns: d, values: values), labels: labels)
    }
    return Dataset(
      name: ds.name, inputs: d, classes: ds.classes, classLabels: ds.classLabels,
      train: gather(order[0..<n]), test: gather(order[n...]), sourceHash: ds.sourceHash,
      normalization: ds.normalization)
  }

  private func binarize(_ ds: Dataset, label: String) throws -> Dataset {
    let wanted = UCRReader.canonicalLabel(label)
    guard let k = ds.classLabels.firstIndex(where: { $0 == label || $0 == wanted }) else {
      throw DataError(
        file: nil,
        "binarize: label '\(label)' is not a class of \(ds.name) (its labels: \(ds.classLabels.joined(separator: ", ")))"
      )
    }
    let target = Int32(k)
    func cut(_ s: DataSplit) -> DataSplit {
      DataSplit(features: s.features, labels: s.labels.map { $0 == target ? 0 : 1 })
    }
    let name = ds.classLabels[k]
    return Dataset(
      name: ds.name, inputs: ds.inputs, classes: 2, classLabels: [name, "not \(name)"],
      train: cut(ds.train), test: cut(ds.test), sourceHash: ds.sourceHash,
      normalization: ds.normalization)
  }

  private func limit(_ ds: Dataset, train: Int?, test: Int?) throws -> Dataset {
    if let t = train, t < 1 || t > ds.train.count {
      throw DataError(
        file: nil,
        "trainLimit \(t) must be in 1...\(ds.train.count) (the training examples of \(ds.name))")
    }
    if let t = test, t < 0 || t > ds.test.count {
      throw DataError(
        file: nil,
        "testLimit \(t) must be in 0...\(ds.test.count) (the test examples of \(ds.name))")
    }
    func cut(_ s: DataSplit, _ n: Int?) -> DataSplit {
      guard let n else { return s }
      return DataSplit(features: s.features.prefix(n), labels: Array(s.labels.prefix(n)))
    }
    return Dataset(
      name: ds.name, inputs: ds.inputs, classes: ds.classes, classLabels: ds.classLabels,
      train: cut(ds.train, train), test: cut(ds.test, test), sourceHash: ds.sourceHash,
      normalization: ds.normalization)
  }

  // MARK: Listing

  /// Every data set the catalog knows of: MNIST, Fashion-MNIST, CIFAR-10/100, synthetic (default
  /// sizes), the shipped UCR sets and any other UCR set found under `ucr/`. Counts come from file
  /// headers (IDX, CIFAR sizes) or a parse (UCR, small); nominal counts when absent. Hashes come
  /// from the manifest or an existing cache (never by hashing large files here).
  public func available() -> [DatasetInfo] {
    let fm = FileManager.default
    var out: [DatasetInfo] = []
    for (name, _) in [("mnist", 0), ("fashion-mnist", 0)] {
      let files = DataCatalog.idxFiles.map {
        directory.appendingPathComponent(name).appendingPathComponent($0)
      }
      let present = files.allSatisfy { fm.fileExists(atPath: $0.path) }
      out.append(
        DatasetInfo(
          name: name, trainCount: idxCount(files[1]) ?? 60000,
          testCount: idxCount(files[3]) ?? 10000,
          inputs: 784, classes: 10, sha256: present ? hashCheaply(name, files) : nil,
          present: present,
          location: name + "/"))
    }
    for fine in [false, true] {
      let name = fine ? "cifar100" : "cifar10"
      let record = fine ? 3074 : 3073
      if let (train, test) = try? cifarFiles(fine: fine) {
        func count(_ fs: [URL]) -> Int {
          fs.reduce(0) { acc, f in
            acc + (((try? fm.attributesOfItem(atPath: f.path))?[.size] as? NSNumber)?.intValue ?? 0)
              / record
          }
        }
        out.append(
          DatasetInfo(
            name: name, trainCount: count(train), testCount: count(test), inputs: 3072,
            classes: fine ? 100 : 10, sha256: hashCheaply(name, train + test), present: true,
            location: relative(train[0].deletingLastPathComponent()) + "/"))
      } else {
        out.append(
          DatasetInfo(
            name: name, trainCount: 50000, testCount: 10000, inputs: 3072, classes: fine ? 100 : 10,
            sha256: nil, present: false, location: name + "/"))
      }
    }
    out.append(
      DatasetInfo(
        name: "synthetic", trainCount: 2000, testCount: 1000, inputs: 20, classes: 2, sha256: nil,
        present: true, location: "(generated)"))
    var sets = Set(DataCatalog.shippedUCRSets)
    let ucr = directory.appendingPathComponent("ucr")
    for entry in (try? fm.contentsOfDirectory(atPath: ucr.path)) ?? [] where !entry.hasPrefix(".") {
      if let r = entry.range(of: "_TRAIN.") {
        sets.insert(String(entry[..<r.lowerBound]))
      } else {
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: ucr.appendingPathComponent(entry).path, isDirectory: &isDir),
          isDir.boolValue
        {
          sets.insert(entry)
        }
      }
    }
    for set in sets.sorted() {
      let name = "ucr/\(set)"
      if let (train, test) = try? ucrFiles(set),
        let raw = try? UCRReader.load(train: train, test: test)
      {
        out.append(
          DatasetInfo(
            name: name, trainCount: raw.train.labels.count, testCount: raw.test.labels.count,
            inputs: raw.columns, classes: raw.classLabels.count,
            sha256: try? sourceHash([train, test]), present: true,
            location: relative(train.deletingLastPathComponent()) + "/"))
      } else {
        out.append(
          DatasetInfo(
            name: name, trainCount: nil, testCount: nil, inputs: nil, classes: nil, sha256: nil,
            present: false, location: "ucr/\(set)/"))
      }
    }
    return out
  }

  private func idxCount(_ url: URL) -> Int? {
    guard let h = FileHandle(forReadingAtPath: url.path) else { return nil }
    defer { try? h.close() }
    guard let d = try? h.read(upToCount: 8), d.count == 8 else { return nil }
    let b = [UInt8](d)
    return Int(b[4]) << 24 | Int(b[5]) << 16 | Int(b[6]) << 8 | Int(b[7])
  }

  private func hashCheaply(_ name: String, _ files: [URL]) -> String? {
    if let h = try? sourceHash(files, manifestOnly: true) { return h }
    let urls = cacheURLs(name)
    guard let fh = FileHandle(forReadingAtPath: urls.train.path) else { return nil }
    defer { try? fh.close() }
    guard let d = try? fh.read(upToCount: BinaryCache.headerSize),
      d.count == BinaryCache.headerSize,
      let header = d.withUnsafeBytes({ BinaryCache.Header.decode($0) }),
      let key = try? sourceKey(files, format: Self.cacheFormat(name)), header.sourceKey == key,
      !header.sourceHash.isEmpty
    else { return nil }
    return header.sourceHash
  }
}
