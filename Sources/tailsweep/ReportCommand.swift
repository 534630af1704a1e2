import ArgumentParser

struct Report: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Aggregated tables and figures of a sweep's results.")
  func run() throws { throw UsageError("'Report' is not built yet") }
}
