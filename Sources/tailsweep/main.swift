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
      Neural Networks Trained with Heavy-Tailed SGD" (ICML 2024, arXiv 2306.08125). \
      Usage errors (bad flags, a bad sweep file) exit with status 2.
      """,
    subcommands: [
      Train.self, Sample.self, Compress.self, DataCommand.self, Plan.self, Run.self,
      Coordinator.self, Worker.self, Keys.self, Status.self, Export.self, Report.self,
      Sweeps.self,
      Bench.self, Chaos.self, ChaosPeer.self, StoreProbe.self,
    ] + serveCommands)
}

/// `--name -1` as `--name=-1`: argument-parser takes a token starting with `-` for an option,
/// so a negative number after an option would be "missing". A negative number is never an
/// option name here, and no command takes a positional number, so this changes nothing else.
func joiningNegativeNumbers(_ args: [String]) -> [String] {
  var out: [String] = []
  var i = 0
  while i < args.count {
    let a = args[i]
    if a == "--" {
      out += args[i...]
      break
    }
    if a.hasPrefix("--"), a.count > 2, !a.contains("="), i + 1 < args.count,
      isNegativeNumber(args[i + 1])
    {
      out.append(a + "=" + args[i + 1])
      i += 2
      continue
    }
    out.append(a)
    i += 1
  }
  return out
}

func isNegativeNumber(_ s: String) -> Bool {
  guard s.hasPrefix("-"), s.count > 1 else { return false }
  let rest = s.dropFirst()
  if ["inf", "infinity", "nan"].contains(rest.lowercased()) { return true }
  return Double(rest) != nil && (rest.first?.isNumber == true || rest.first == ".")
}

// Usage errors (bad flags, bad sweep files) exit with status 2; argument-parser's default
// for validation errors is 64.
do {
  var command = try TailSweepCommand.parseAsRoot(
    joiningNegativeNumbers(Array(CommandLine.arguments.dropFirst())))
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
