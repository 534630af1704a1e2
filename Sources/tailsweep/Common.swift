import ArgumentParser
import Foundation

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
