import ArgumentParser

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Run a sweep with local worker processes.")
  func run() throws { throw UsageError("'Run' is not built yet") }
}

struct Coordinator: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Serve a sweep to remote workers over ZeroMQ.")
  func run() throws { throw UsageError("'Coordinator' is not built yet") }
}

struct Worker: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Connect to a coordinator and run trials.")
  func run() throws { throw UsageError("'Worker' is not built yet") }
}

struct Keys: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "CURVE key management.")
  func run() throws { throw UsageError("'Keys' is not built yet") }
}
