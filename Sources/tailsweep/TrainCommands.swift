import ArgumentParser

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Train one trial and print its outcome.")
  func run() throws { throw UsageError("'Train' is not built yet") }
}

struct Sample: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Write samples of the noise law to a .npy file.")
  func run() throws { throw UsageError("'Sample' is not built yet") }
}

struct Compress: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Analyse weight matrices saved as .npy.")
  func run() throws { throw UsageError("'Compress' is not built yet") }
}
