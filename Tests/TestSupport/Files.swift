import Foundation

/// Folders the tests use: fresh temporary ones, the repository, the real data.
public enum TestFiles {
  /// The repository root (for sweeps/, scripts/, cluster/ and data/), found from this file's
  /// path (Tests/TestSupport/Files.swift).
  public static var repositoryRoot: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
  }

  /// Where the real data is: `$TAILSWEEP_DATA`, else `<repository>/data`.
  public static var dataDirectory: URL {
    if let e = ProcessInfo.processInfo.environment["TAILSWEEP_DATA"], !e.isEmpty {
      return URL(fileURLWithPath: e)
    }
    return repositoryRoot.appendingPathComponent("data")
  }

  /// A fresh, empty folder under the system temporary folder, named `prefix-<8 hex digits>`.
  public static func temporaryDirectory(_ prefix: String = "tailsweep-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "\(prefix)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }
}
