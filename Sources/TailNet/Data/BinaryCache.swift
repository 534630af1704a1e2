import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The converted cache of a large data set: `cache/<name>.<split>.f32`, a 4096-byte text header
/// (`TAILSWEEP-CACHE 1`, then `key=value` lines: rows, columns, source key, source hash, class
/// labels, normalisation) padded with zeros, then rows×columns Float32 (normalised features,
/// row-major, little-endian), then rows Int32 labels. It is memory-mapped read-only and shared
/// (MAP_SHARED), so worker processes on one machine share one copy in the page cache. Files are
/// written to a temporary name and renamed (atomic); a lock file serialises conversion so that
/// workers starting together convert once.
enum BinaryCache {
  static let headerSize = 4096
  static let magic = "TAILSWEEP-CACHE 1"

  struct Header {
    var rows: Int
    var columns: Int
    var sourceKey: String
    var sourceHash: String
    var classLabels: [String]
    var normalization: String

    func encoded() -> [UInt8] {
      let fields: [(String, String)] = [
        ("rows", String(rows)), ("columns", String(columns)), ("sourceKey", sourceKey),
        ("sourceHash", sourceHash), ("classLabels", classLabels.joined(separator: "\u{1F}")),
        ("normalization", normalization), ("endian", "little"),
      ]
      var text = magic + "\n"
      for (k, v) in fields {
        text += k + "=" + v.replacingOccurrences(of: "\n", with: " ") + "\n"
      }
      var bytes = Array(text.utf8)
      bytes.append(contentsOf: [UInt8](repeating: 0, count: max(0, headerSize - bytes.count)))
      return bytes
    }

    static func decode(_ p: UnsafeRawBufferPointer) -> Header? {
      let end = p.firstIndex(of: 0) ?? p.count
      let text = String(decoding: UnsafeRawBufferPointer(rebasing: p[0..<end]), as: UTF8.self)
      var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
      guard lines.first.map(String.init) == magic else { return nil }
      lines.removeFirst()
      var d: [String: String] = [:]
      for l in lines {
        guard let eq = l.firstIndex(of: "=") else { continue }
        d[String(l[..<eq])] = String(l[l.index(after: eq)...])
      }
      guard let r = d["rows"].flatMap({ Int($0) }), let c = d["columns"].flatMap({ Int($0) }),
        let key = d["sourceKey"], let hash = d["sourceHash"], let labels = d["classLabels"],
        let norm = d["normalization"], d["endian"] == "little"
      else { return nil }
      return Header(
        rows: r, columns: c, sourceKey: key, sourceHash: hash,
        classLabels: labels.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(
          String.init),
        normalization: norm)
    }
  }

  /// Writes `split` with `header` to `url` atomically (temporary file + rename).
  static func store(_ url: URL, header: Header, split: RawSplit) throws {
    let dir = url.deletingLastPathComponent()
    do {
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    } catch {
      throw DataError(
        file: dir.path, "cannot create the cache folder: \(error.localizedDescription)")
    }
    let tmp = dir.appendingPathComponent(
      ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    let fd = open(tmp.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else {
      throw DataError(
        file: tmp.path, "cannot create a cache file: \(String(cString: strerror(errno)))")
    }
    var ok = true
    let h = header.encoded()
    ok = ok && h.withUnsafeBytes { writeAll(fd, $0) }
    ok = ok && split.features.withUnsafeBytes { writeAll(fd, $0) }
    ok = ok && split.labels.withUnsafeBytes { writeAll(fd, $0) }
    let err = errno
    close(fd)
    guard ok, rename(tmp.path, url.path) == 0 else {
      unlink(tmp.path)
      throw DataError(
        file: url.path, "cannot write the cache file: \(String(cString: strerror(err)))")
    }
  }

  private static func writeAll(_ fd: Int32, _ p: UnsafeRawBufferPointer) -> Bool {
    guard var base = p.baseAddress else { return true }
    var left = p.count
    while left > 0 {
      let n = write(fd, base, left)
      if n < 0 {
        if errno == EINTR { continue }
        return false
      }
      left -= n
      base += n
    }
    return true
  }

  /// The size of a cache of `rows`×`columns` features: header, Float32 features, Int32 labels;
  /// nil when a dimension is negative or the size overflows (a damaged header).
  static func fileSize(rows: Int, columns: Int) -> Int? {
    guard rows >= 0, columns >= 0 else { return nil }
    let (cells, o1) = rows.multipliedReportingOverflow(by: columns)
    let (values, o2) = cells.addingReportingOverflow(rows)  // features and labels, 4 bytes each
    let (bytes, o3) = values.multipliedReportingOverflow(by: 4)
    let (total, o4) = bytes.addingReportingOverflow(headerSize)
    return o1 || o2 || o3 || o4 ? nil : total
  }

  /// Maps `url` read-only if it is a complete cache made from sources with key `sourceKey`;
  /// nil when missing or stale (then the caller rebuilds it).
  static func map(_ url: URL, sourceKey: String) -> (Header, FeatureMatrix, [Int32])? {
    let fd = open(url.path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { return nil }
    let size = Int(st.st_size)
    guard size >= headerSize else { return nil }
    guard let base = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), base != MAP_FAILED else {
      return nil
    }
    let raw = UnsafeRawPointer(base)
    guard let header = Header.decode(UnsafeRawBufferPointer(start: raw, count: headerSize)),
      header.sourceKey == sourceKey,
      size == fileSize(rows: header.rows, columns: header.columns)
    else {
      munmap(base, size)
      return nil
    }
    let labelPtr = (raw + headerSize + header.rows * header.columns * 4).bindMemory(
      to: Int32.self, capacity: header.rows)
    let labels = Array(UnsafeBufferPointer(start: labelPtr, count: header.rows))
    let classes = Int32(header.classLabels.count)
    guard labels.allSatisfy({ $0 >= 0 && $0 < classes }) else {
      munmap(base, size)
      return nil
    }
    let storage = FeatureStorage(mapped: raw, byteCount: size, path: url.path)
    let features = FeatureMatrix(
      rows: header.rows, columns: header.columns,
      pointer: (raw + headerSize).bindMemory(
        to: Float.self, capacity: header.rows * header.columns),
      storage: storage)
    return (header, features, labels)
  }

  /// Runs `body` holding an exclusive lock on `url` (created if needed); without a lock if the
  /// file cannot be created (a read-only folder).
  static func withLock<T>(_ url: URL, _ body: () throws -> T) rethrows -> T {
    try? FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    let fd = open(url.path, O_RDWR | O_CREAT, 0o644)
    guard fd >= 0 else { return try body() }
    defer { close(fd) }
    while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
    defer { flock(fd, LOCK_UN) }
    return try body()
  }
}
