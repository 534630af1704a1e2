import ArgumentParser

struct Status: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Counts of trials by state and per-worker activity.")
  func run() throws { throw UsageError("'Status' is not built yet") }
}

struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "One row per trial: configuration and measurements.")
  func run() throws { throw UsageError("'export' is not built yet") }
}

/// Hidden: writes results in a loop so a test can kill it mid-commit.
struct StoreProbe: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "store-probe", abstract: "Testing aid.", shouldDisplay: false)
  func run() throws { throw UsageError("'store-probe' is not built yet") }
}
