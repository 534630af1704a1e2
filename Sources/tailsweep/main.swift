import ArgumentParser
import Foundation
import SweepRuntime
import SweepSpec
import SweepStore

/// The one binary. Subcommands live one family per file.
struct TailSweepCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tailsweep",
    abstract: "Heavy-tailed SGD and implicit compressibility, run as sweeps over ZeroMQ workers.",
    discussion: """
      Implements Wan, Barsbey, Zaidi, Şimşekli, "Implicit Compressibility of Overparametrized \
      Neural Networks Trained with Heavy-Tailed SGD" (ICML 2024, arXiv 2306.08125).
      Usage errors (bad flags, a bad sweep file) exit with status 2.
      """,
    subcommands: [
      Train.self, Sample.self, Compress.self, DataCommand.self, Plan.self, Run.self,
      Coordinator.self, Worker.self, Keys.self, Status.self, Export.self, Report.self,
      Bench.self, Chaos.self, StoreProbe.self,
    ] + serveCommands)
}

// Usage errors (bad flags, bad sweep files) exit with status 2; argument-parser's default
// for validation errors is 64.
do {
  var command = try TailSweepCommand.parseAsRoot()
  try command.run()
} catch {
  let code = TailSweepCommand.exitCode(for: error)
  let message = TailSweepCommand.fullMessage(for: error)
  if !message.isEmpty {
    let out = code == .success ? FileHandle.standardOutput : FileHandle.standardError
    out.write(Data((message + "\n").utf8))
  }
  var usage = code == .validationFailure || error is UsageError || error is SweepError
  if case .storeInUse? = error as? RuntimeError { usage = true }
  if usage {
    exit(2)
  }
  // The store cannot take writes (full, read-only, locked beyond the busy timeout, I/O): the
  // same status 4 whether it happens while setting up a run or during it.
  if let e = error as? StoreError, e.unavailableKind != nil {
    exit(4)
  }
  exit(code.rawValue)
}
