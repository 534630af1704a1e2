import Foundation

/// One split in owned memory, before caching or wrapping.
struct RawSplit {
  var features: [Float]
  var labels: [Int32]
}

/// A data set as a reader produces it.
struct RawData {
  var columns: Int
  var classLabels: [String]
  var train: RawSplit
  var test: RawSplit
  var normalization: String
}

/// Reads a whole file, or throws a `DataError` naming it.
func readBytes(_ url: URL) throws -> [UInt8] {
  guard FileManager.default.fileExists(atPath: url.path) else {
    throw DataError(file: url.path, "file is missing")
  }
  do {
    let data = try Data(contentsOf: url)
    return data.withUnsafeBytes { Array($0.bindMemory(to: UInt8.self)) }
  } catch {
    throw DataError(file: url.path, "cannot read the file: \(error.localizedDescription)")
  }
}

// MARK: - IDX (MNIST, Fashion-MNIST)

/// The IDX format (LeCun): big-endian magic 0x000008dd (type 0x08 = unsigned byte, dd = number
/// of dimensions), the dimensions as big-endian UInt32, then the bytes.
enum IDXReader {
  private static func be32(_ b: [UInt8], _ o: Int) -> Int {
    Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3])
  }

  private static func hex8(_ v: Int) -> String {
    let h = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - h.count)) + h
  }

  /// Dimensions and payload offset of an IDX file of unsigned bytes with `dims` dimensions.
  static func header(_ b: [UInt8], dims: Int, path: String, what: String) throws -> (
    shape: [Int], offset: Int
  ) {
    let expectedMagic = 0x0800 | dims
    guard b.count >= 4 else {
      throw DataError(file: path, "truncated: \(b.count) bytes, too short for an IDX header")
    }
    let magic = be32(b, 0)
    guard magic == expectedMagic else {
      throw DataError(
        file: path,
        "wrong magic number \(hex8(magic)) (expected \(hex8(expectedMagic)) for an IDX \(what) file)"
      )
    }
    let offset = 4 + 4 * dims
    guard b.count >= offset else {
      throw DataError(
        file: path, "truncated: \(b.count) bytes, too short for an IDX header of \(dims) dimensions"
      )
    }
    let shape = (0..<dims).map { be32(b, 4 + 4 * $0) }
    // Each dimension is < 2³², so their product can overflow Int: such a header is refused.
    var payload = 1
    for d in shape {
      let (p, overflow) = payload.multipliedReportingOverflow(by: d)
      guard !overflow, p <= Int.max - offset else {
        throw DataError(
          file: path,
          "the header declares \(shape.map(String.init).joined(separator: "×")) bytes, more than can be addressed"
        )
      }
      payload = p
    }
    if b.count < offset + payload {
      throw DataError(
        file: path,
        "truncated: the header declares \(shape.map(String.init).joined(separator: "×")) = \(offset + payload) bytes in all, the file has \(b.count)"
      )
    }
    if b.count > offset + payload {
      throw DataError(
        file: path,
        "the file has \(b.count) bytes, more than the \(offset + payload) its header declares")
    }
    return (shape, offset)
  }

  /// Images normalised as ((x/255) − mean)/std, with labels, from an image/label file pair.
  static func read(images: URL, labels: URL, classes: Int, mean: Float, std: Float) throws
    -> RawSplit
  {
    let ib = try readBytes(images)
    let (ishape, ioff) = try header(ib, dims: 3, path: images.path, what: "image")
    let lb = try readBytes(labels)
    let (lshape, loff) = try header(lb, dims: 1, path: labels.path, what: "label")
    guard ishape[0] == lshape[0] else {
      throw DataError(
        file: labels.path,
        "has \(lshape[0]) labels but \(images.lastPathComponent) has \(ishape[0]) images")
    }
    let n = ishape[0]
    var out = [Int32](repeating: 0, count: n)
    for i in 0..<n {
      let v = Int(lb[loff + i])
      guard v < classes else {
        throw DataError(
          file: labels.path, "label \(v) at index \(i) is out of range 0...\(classes - 1)")
      }
      out[i] = Int32(v)
    }
    var table = [Float](repeating: 0, count: 256)
    for k in 0..<256 { table[k] = (Float(k) / 255 - mean) / std }
    let count = n * ishape[1] * ishape[2]
    let features = [Float](unsafeUninitializedCapacity: count) { buf, initialized in
      ib.withUnsafeBufferPointer { src in
        table.withUnsafeBufferPointer { t in
          for i in 0..<count { buf[i] = t[Int(src[ioff + i])] }
        }
      }
      initialized = count
    }
    return RawSplit(features: features, labels: out)
  }
}

// MARK: - CIFAR-10/100 binary

/// The CIFAR binary format: records of label byte(s) then 3072 pixel bytes (1024 red, 1024 green,
/// 1024 blue, each 32×32 row-major). CIFAR-10: one label byte (< 10); CIFAR-100: coarse (< 20)
/// then fine (< 100) label bytes, the fine label is used.
enum CIFARReader {
  static let pixels = 3072

  /// Raw pixels and labels of the files, in order.
  static func read(_ files: [URL], fine: Bool) throws -> (pixels: [UInt8], labels: [Int32]) {
    let labelBytes = fine ? 2 : 1
    let record = labelBytes + pixels
    let classes = fine ? 100 : 10
    var px: [UInt8] = []
    var labels: [Int32] = []
    for url in files {
      let b = try readBytes(url)
      guard b.count > 0, b.count % record == 0 else {
        throw DataError(
          file: url.path,
          "bad size: \(b.count) bytes is not a positive multiple of the \(record)-byte \(fine ? "CIFAR-100" : "CIFAR-10") record"
        )
      }
      let n = b.count / record
      px.reserveCapacity(px.count + n * pixels)
      for r in 0..<n {
        let o = r * record
        if fine {
          guard b[o] < 20 else {
            throw DataError(
              file: url.path, "coarse label \(b[o]) of record \(r) is out of range 0...19")
          }
        }
        let v = Int(b[o + labelBytes - 1])
        guard v < classes else {
          throw DataError(
            file: url.path, "label \(v) of record \(r) is out of range 0...\(classes - 1)")
        }
        labels.append(Int32(v))
        px.append(contentsOf: b[(o + labelBytes)..<(o + record)])
      }
    }
    return (px, labels)
  }

  /// The public code's per-channel means and standard deviations of x/255 (R, G, B), which
  /// method.md § 7 prescribes for both splits.
  static func channelStatistics(fine: Bool) -> (mean: [Double], std: [Double]) {
    fine
      ? ([0.5071, 0.4867, 0.4408], [0.2675, 0.2565, 0.2761])
      : ([0.491, 0.482, 0.447], [0.247, 0.243, 0.262])
  }

  /// Train and test sets, normalised per channel with `channelStatistics`.
  static func load(train: [URL], test: [URL], fine: Bool) throws -> RawData {
    let (trp, trl) = try read(train, fine: fine)
    let (tep, tel) = try read(test, fine: fine)
    let (mean, std) = channelStatistics(fine: fine)
    func normalise(_ p: [UInt8]) -> [Float] {
      var out = [Float](repeating: 0, count: p.count)
      for i in 0..<p.count {
        let c = (i % pixels) / 1024
        out[i] = Float((Double(p[i]) / 255 - mean[c]) / std[c])
      }
      return out
    }
    let desc = (0..<3).map { "\(mean[$0])/\(std[$0])" }.joined(separator: ", ")
    return RawData(
      columns: pixels, classLabels: (0..<(fine ? 100 : 10)).map(String.init),
      train: RawSplit(features: normalise(trp), labels: trl),
      test: RawSplit(features: normalise(tep), labels: tel),
      normalization:
        "x/255, then per channel (x − mean)/std with the public code's \(fine ? "CIFAR-100" : "CIFAR-10") constants (R, G, B: \(desc)); channel-major 3×32×32 as in the files"
    )
  }
}

// MARK: - UCR/UEA time series

/// One UCR file parsed: series (all the same length) and their original labels.
struct UCRFile {
  var series: [[Float]]
  var labels: [String]
  var declaredLabels: [String]?
}

/// Readers of univariate UCR/UEA time-series files: the `.ts` format (sktime/aeon) and the classic
/// UCR text format (`.tsv`/`.txt`: label first, then values separated by tabs, commas or spaces).
/// Missing values (`?`, `NaN`) and series of unequal length are reported as errors: the network
/// needs a fixed input size.
enum UCRReader {
  /// A numeric label is written canonically (`1.0000000e+00` → `1`) so that labels written
  /// differently in the train and test files (and in `binarize`) agree.
  static func canonicalLabel<S: StringProtocol>(_ s: S) -> String {
    let t = s.trimmingCharacters(in: .whitespaces)
    if let d = Double(t), d.isFinite {
      if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
      return String(d)
    }
    return t
  }

  static func lines(_ url: URL) throws -> [Substring] {
    let bytes = try readBytes(url)
    let text = String(decoding: bytes, as: UTF8.self)
    // Split on bytes (fast; grapheme-aware splitting is slow on megabyte files), drop a '\r'.
    return text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map {
      line in
      var l = Substring(line)
      if l.utf8.last == UInt8(ascii: "\r") { l = Substring(l.utf8.dropLast()) }
      return l
    }
  }

  /// `s` without leading and trailing spaces, tabs and carriage returns (byte-wise, fast).
  static func trimmed(_ s: Substring) -> Substring {
    let u = s.utf8
    let blank: (UInt8) -> Bool = { $0 == 32 || $0 == 9 || $0 == 13 }
    guard let first = u.firstIndex(where: { !blank($0) }),
      let last = u.lastIndex(where: { !blank($0) })
    else {
      return ""
    }
    return Substring(u[first...last])
  }

  static func value(_ token: Substring, line: Int, path: String) throws -> Float {
    if let v = Float(token), v.isFinite { return v }  // fast path
    let t = token.trimmingCharacters(in: .whitespaces)
    if t == "?" || t.lowercased() == "nan" {
      throw DataError(
        file: path,
        "line \(line): missing value '\(t)' (missing values are not supported; impute them first)")
    }
    guard let v = Float(t), v.isFinite else {
      throw DataError(file: path, "line \(line): non-numeric value '\(t)'")
    }
    return v
  }

  /// Parses a `.ts` file.
  static func readTS(_ url: URL) throws -> UCRFile {
    let path = url.path
    var declared: [String]? = nil
    var inData = false
    var file = UCRFile(series: [], labels: [], declaredLabels: nil)
    var length: Int? = nil
    for (index, raw) in try lines(url).enumerated() {
      let lineNo = index + 1
      let line = trimmed(raw)
      if line.isEmpty || line.hasPrefix("#") { continue }
      if !inData {
        guard line.hasPrefix("@") else {
          throw DataError(
            file: path, "line \(lineNo): expected a header line starting with '@' before @data")
        }
        let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        let key = parts[0].lowercased()
        switch key {
        case "@data": inData = true
        case "@classlabel":
          guard parts.count >= 2, parts[1].lowercased() == "true" else {
            throw DataError(
              file: path,
              "line \(lineNo): the file declares no class labels (@classLabel false); it is not a classification set"
            )
          }
          declared = parts.dropFirst(2).map { canonicalLabel($0) }
        case "@timestamps":
          if parts.count >= 2, parts[1].lowercased() == "true" {
            throw DataError(file: path, "line \(lineNo): time-stamped series are not supported")
          }
        case "@univariate":
          if parts.count >= 2, parts[1].lowercased() == "false" {
            throw DataError(file: path, "line \(lineNo): multivariate series are not supported")
          }
        default: break
        }
        continue
      }
      let fields = line.utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        .map { Substring($0) }
      guard fields.count >= 2 else {
        throw DataError(file: path, "line \(lineNo): expected values, ':' and a class label")
      }
      guard fields.count == 2 else {
        throw DataError(
          file: path,
          "line \(lineNo): \(fields.count - 1) channels; multivariate series are not supported")
      }
      let label = canonicalLabel(fields[1])
      if let declared, !declared.contains(label) {
        throw DataError(
          file: path,
          "line \(lineNo): label '\(label)' is out of range: not among the @classLabel labels \(declared.joined(separator: " "))"
        )
      }
      let values = try fields[0].utf8.split(
        separator: UInt8(ascii: ","), omittingEmptySubsequences: false
      ).map {
        try value(Substring($0), line: lineNo, path: path)
      }
      try checkLength(values.count, &length, line: lineNo, path: path)
      file.series.append(values)
      file.labels.append(label)
    }
    guard inData else { throw DataError(file: path, "no @data line") }
    guard !file.series.isEmpty else { throw DataError(file: path, "no series after @data") }
    guard declared != nil else {
      throw DataError(file: path, "no @classLabel header; it is not a classification set")
    }
    file.declaredLabels = declared
    return file
  }

  /// Parses a classic UCR text file (label first).
  static func readText(_ url: URL) throws -> UCRFile {
    let path = url.path
    var file = UCRFile(series: [], labels: [], declaredLabels: nil)
    var length: Int? = nil
    for (index, raw) in try lines(url).enumerated() {
      let lineNo = index + 1
      let tokens = raw.utf8.split(whereSeparator: { $0 == 44 || $0 == 9 || $0 == 32 }).map {
        Substring($0)
      }  // , \t space
      if tokens.isEmpty { continue }
      guard tokens.count >= 2 else {
        throw DataError(file: path, "line \(lineNo): a label but no values")
      }
      let label = canonicalLabel(tokens[0])
      let values = try tokens.dropFirst().map { try value($0, line: lineNo, path: path) }
      try checkLength(values.count, &length, line: lineNo, path: path)
      file.series.append(values)
      file.labels.append(label)
    }
    guard !file.series.isEmpty else { throw DataError(file: path, "no series in the file") }
    return file
  }

  static func checkLength(_ n: Int, _ length: inout Int?, line: Int, path: String) throws {
    if let l = length {
      guard n == l else {
        throw DataError(
          file: path,
          "line \(line): ragged row: \(n) values, expected \(l) like the first series (series of unequal length are not supported)"
        )
      }
    } else {
      guard n > 0 else { throw DataError(file: path, "line \(line): no values") }
      length = n
    }
  }

  /// Reads a file by its extension (`.ts`, else the text format).
  static func read(_ url: URL) throws -> UCRFile {
    url.pathExtension.lowercased() == "ts" ? try readTS(url) : try readText(url)
  }

  /// Sorted distinct labels: numerically when all are numbers, else as strings.
  static func sortedLabels(_ labels: Set<String>) -> [String] {
    let numeric = labels.compactMap { Double($0) }
    if numeric.count == labels.count {
      return labels.sorted { (Double($0) ?? 0, $0) < (Double($1) ?? 0, $1) }
    }
    return labels.sorted()
  }

  /// Per-series z-normalisation: (x − mean)/std of each series (population std); a constant
  /// series is only centred.
  static func zNormalise(_ s: [Float]) -> [Float] {
    let n = Double(s.count)
    let mean = s.reduce(0.0) { $0 + Double($1) } / n
    let v = s.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
    let sd = v.squareRoot()
    return s.map { sd > 1e-8 ? Float((Double($0) - mean) / sd) : Float(Double($0) - mean) }
  }

  /// A train/test pair: labels mapped to 0..<C in sorted order of the union of the declared and
  /// observed labels, each series z-normalised.
  static func load(train: URL, test: URL) throws -> RawData {
    let tr = try read(train)
    let te = try read(test)
    let trLen = tr.series[0].count
    let teLen = te.series[0].count
    guard trLen == teLen else {
      throw DataError(
        file: test.path,
        "series have length \(teLen) but those of \(train.lastPathComponent) have length \(trLen)")
    }
    var all = Set(tr.labels).union(te.labels)
    all.formUnion(tr.declaredLabels ?? [])
    all.formUnion(te.declaredLabels ?? [])
    let classLabels = sortedLabels(all)
    guard classLabels.count >= 2 else {
      throw DataError(
        file: train.path,
        "only one class ('\(classLabels.first ?? "")') in the train and test files")
    }
    var index: [String: Int32] = [:]
    for (i, l) in classLabels.enumerated() { index[l] = Int32(i) }
    func split(_ f: UCRFile) -> RawSplit {
      RawSplit(features: f.series.flatMap(zNormalise), labels: f.labels.map { index[$0] ?? 0 })
    }
    return RawData(
      columns: trLen, classLabels: classLabels, train: split(tr), test: split(te),
      normalization: "per-series z-normalisation ((x − mean)/std of each series)")
  }
}
