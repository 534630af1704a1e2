import ArgumentParser

struct Plan: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Print the expanded trials of a sweep file without running anything.")
  func run() throws { throw UsageError("'Plan' is not built yet") }
}
