import ArgumentParser

struct DataCommand: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "List and fetch data sets.")
  func run() throws { throw UsageError("'DataCommand' is not built yet") }
}
