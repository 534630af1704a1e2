import ArgumentParser
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A mistake in what the user asked for (flags, files): printed and exit status 2.
struct UsageError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// Where converted data sets live: `--data`, else `$TAILSWEEP_DATA`, else `./data`.
struct DataDirOption: ParsableArguments {
  @Option(name: .customLong("data"), help: "Data folder (default: $TAILSWEEP_DATA or ./data).")
  var dataDir: String?

  var url: URL {
    if let d = dataDir { return URL(fileURLWithPath: d) }
    if let e = ProcessInfo.processInfo.environment["TAILSWEEP_DATA"], !e.isEmpty {
      return URL(fileURLWithPath: e)
    }
    return URL(fileURLWithPath: "data")
  }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it back, close):
/// for the benchmarks and the chaos runner, which start a coordinator process on it.
func freeLoopbackPort() throws -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var addr = sockaddr_in()
  addr.sin_family = sa_family_t(AF_INET)
  addr.sin_addr.s_addr = inet_addr("127.0.0.1")
  var len = socklen_t(MemoryLayout<sockaddr_in>.size)
  let ok = withUnsafeMutablePointer(to: &addr) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
    }
  }
  guard ok else { throw RuntimeFailure("no free TCP port on 127.0.0.1") }
  return Int(UInt16(bigEndian: addr.sin_port))
}

/// Rows of cells as text lines, each column padded to its widest cell and two spaces between
/// columns, trailing blanks trimmed (the plain tables of `status` and `sweeps list`).
func alignedColumns(_ rows: [[String]]) -> [String] {
  let count = rows.map(\.count).max() ?? 0
  let widths = (0..<count).map { i in rows.map { i < $0.count ? $0[i].count : 0 }.max() ?? 0 }
  return rows.map { cells in
    cells.enumerated().map { i, c in c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
      .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
  }
}
