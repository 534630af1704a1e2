import ArgumentParser

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Benchmarks: time per iteration, dispatch overhead.")
  func run() throws { throw UsageError("'Bench' is not built yet") }
}
