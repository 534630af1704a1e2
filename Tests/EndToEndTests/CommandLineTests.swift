import Foundation
import TailSweepTestSupport
import Testing

/// One command-line grammar, through the built binary: help that reads as sentences, negative
/// numbers, contradictory flags, one results folder for every command, `--sweep` by name or id,
/// `--out` everywhere, `status --json`.
@Suite(.serialized) struct CommandLineTests {
  /// Every command path (`["train"]`, `["keys", "generate"]`, …) from the SUBCOMMANDS sections.
  static func commandPaths(_ prefix: [String] = []) throws -> [[String]] {
    let help = try Binary.run(prefix + ["--help"])
    var paths: [[String]] = [prefix]
    guard let section = help.stdout.components(separatedBy: "SUBCOMMANDS:").dropFirst().first
    else { return paths }
    // "  name    abstract": two spaces then the name; continuation lines are indented deeper;
    // the list ends at the first blank line.
    for line in section.split(separator: "\n", omittingEmptySubsequences: false).dropFirst() {
      if line.trimmingCharacters(in: .whitespaces).isEmpty { break }
      guard line.hasPrefix("  "), !line.hasPrefix("   ") else { continue }
      let name = String(line.dropFirst(2).prefix { $0 != " " })
      guard !name.isEmpty, name != "help", name.allSatisfy({ $0.isLowercase || $0 == "-" }),
        prefix.count < 3
      else { continue }
      paths += try commandPaths(prefix + [name])
    }
    return paths
  }

  @Test func helpOfEveryCommandHasNoDuplicatedDefaultsNorBrokenLines() throws {
    let paths = try Self.commandPaths()
    #expect(paths.count >= 20, "\(paths)")
    for path in paths {
      let r = try Binary.run(path + ["--help"], environment: ["COLUMNS": "80"])
      let name = (["tailsweep"] + path).joined(separator: " ")
      #expect(r.status == 0, "\(name): \(r.stderr)")
      let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
      // One option's help is its line plus its deeper-indented continuation lines.
      var blocks: [String] = []
      for line in lines {
        if line.hasPrefix("  -") || line.hasPrefix("  <") || blocks.isEmpty {
          blocks.append(line)
        } else {
          blocks[blocks.count - 1] += "\n" + line
        }
      }
      for block in blocks where block.hasPrefix("  -") || block.hasPrefix("  <") {
        let defaults = block.lowercased().components(separatedBy: "default").count - 1
        #expect(defaults <= 1, "\(name): a default stated twice:\n\(block)")
      }
      // A sentence broken by a hard line break in the source: a short line that does not end
      // a sentence, followed by a line that goes on in lower case.
      for (a, b) in zip(lines, lines.dropFirst()) {
        let first = a.trimmingCharacters(in: .whitespaces)
        let next = b.trimmingCharacters(in: .whitespaces)
        guard let c = next.first, c.isLowercase, !first.isEmpty, !next.hasPrefix("tailsweep")
        else { continue }
        let ends = [".", ":", ";", ")", "!", "?"].contains { first.hasSuffix($0) }
        #expect(
          ends || a.count >= 45,
          "\(name): a line breaks mid-sentence:\n\(a)\n\(b)")
      }
    }
  }

  @Test func negativeNumbersReachTheRealValidationMessage() throws {
    let eta = try Binary.run(["train", "--eta", "-1"])
    #expect(eta.status == 2)
    #expect(eta.stderr.contains("--eta: eta must be > 0, got -1"), "\(eta.stderr)")
    #expect(!eta.stderr.contains("Missing value"), "\(eta.stderr)")
    let alpha = try Binary.run(["sample", "--alpha", "-0.5", "--count", "3", "--out", "/dev/null"])
    #expect(alpha.status == 2)
    #expect(alpha.stderr.contains("--alpha must be in (0, 2], got -0.5"), "\(alpha.stderr)")
    // A Z85 key may start with '-': it is the value of --server-key, not an option.
    let dir = try TestFiles.temporaryDirectory("negative")
    defer { try? FileManager.default.removeItem(at: dir) }
    let key = "-" + String(repeating: "a", count: 39)
    let worker = try Binary.run(
      [
        "worker", "--connect", "tcp://127.0.0.1:1", "--server-key", key, "--keys",
        dir.appendingPathComponent("none").path,
      ])
    #expect(worker.status == 2)
    #expect(!worker.stderr.contains("Missing value"), "\(worker.stderr)")
    #expect(worker.stderr.contains("keys"), "\(worker.stderr)")
  }

  @Test func contradictoryTrainFlagsAreRefused() throws {
    let noise = try Binary.run(["train", "--noise-type", "0", "--sigma", "0.1"])
    #expect(noise.status == 2)
    #expect(
      noise.stderr.contains("--sigma: sigma must be 0 with noiseType 0 (no noise), got 0.1"),
      "\(noise.stderr)")
    let inputs = try Binary.run(["train", "--dataset", "mnist", "--inputs", "10"])
    #expect(inputs.status == 2)
    #expect(
      inputs.stderr.contains("--inputs applies only to --dataset synthetic (this is mnist)"),
      "\(inputs.stderr)")
  }

  /// A tiny synthetic sweep (4 trials, well under a second each).
  static func writeTinySweep(_ dir: URL, eta: Double = 0.1, name: String = "tiny") throws {
    let text = """
      description: "command-line test sweep"
      dataset: {name: synthetic, trainSize: 200, testSize: 100}
      train: {width: 8, eta: \(eta), batchSize: 50, maxIterations: 60, evalEvery: 30}
      grid:
        sigma: [0, 0.01]
      seeds: 2
      overrides:
        - when: {sigma: 0}
          set: {noiseType: 0}
      """
    try text.write(
      to: dir.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8)
  }

  @Test func everyReadCommandTakesTheFolderGivenToRunResults() throws {
    let dir = try TestFiles.temporaryDirectory("results-folder")
    defer { try? FileManager.default.removeItem(at: dir) }
    try Self.writeTinySweep(dir)
    let run = try Binary.run(
      ["run", "tiny.yaml", "--workers", "1", "--results", "out", "--quiet"], in: dir)
    #expect(run.status == 0, "\(run.stderr)")
    // --quiet: no progress, no tables; the closing summary only.
    #expect(!run.stdout.contains("Measurements over seeds"), "\(run.stdout)")
    #expect(run.stdout.contains("sweep tiny: pending 0, running 0, done 4"), "\(run.stdout)")

    // The parent folder (what --results took), the sweep's folder and the file all work.
    for target in ["out", "out/tiny", "out/tiny/sweep.sqlite"] {
      let s = try Binary.run(["status", target], in: dir)
      #expect(s.status == 0, "\(target): \(s.stderr)")
      #expect(s.stdout.contains("sweep tiny (id 1): 4 trials"), "\(target): \(s.stdout)")
    }
    let report = try Binary.run(["report", "out", "--no-files"], in: dir)
    #expect(report.status == 0, "\(report.stderr)")
    #expect(report.stdout.contains("Measurements over seeds (4 trials)"), "\(report.stdout)")

    // --sweep by name or by id, in status, report and export alike.
    for sweep in ["tiny", "1"] {
      for command in [["status"], ["report", "--no-files"], ["export"]] {
        let r = try Binary.run(command + ["out", "--sweep", sweep], in: dir)
        #expect(r.status == 0, "\(command) --sweep \(sweep): \(r.stderr)")
      }
    }
    let unknown = try Binary.run(["export", "out", "--sweep", "7"], in: dir)
    #expect(unknown.status == 2 && unknown.stderr.contains("tiny (1)"), "\(unknown.stderr)")

    // --out everywhere; --output stays as a hidden old name.
    let export = try Binary.run(["export", "out", "--out", "trials.csv"], in: dir)
    #expect(export.status == 0 && export.stdout.isEmpty, "\(export.stderr)")
    let csv = try String(contentsOf: dir.appendingPathComponent("trials.csv"), encoding: .utf8)
    #expect(csv.split(separator: "\n").count == 5)
    let old = try Binary.run(["export", "out", "--output", "old.csv"], in: dir)
    #expect(old.status == 0, "\(old.stderr)")
    let help = try Binary.run(["export", "--help"])
    #expect(help.stdout.contains("--out <out>") && !help.stdout.contains("--output"))

    // status --json: one object with the sweep, its counts and the workers.
    let json = try Binary.run(["status", "out", "--json"], in: dir)
    #expect(json.status == 0, "\(json.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let sweeps = try #require(object["sweeps"] as? [[String: Any]])
    #expect(sweeps.count == 1 && sweeps[0]["name"] as? String == "tiny")
    let counts = try #require(sweeps[0]["counts"] as? [String: Int])
    #expect(counts["done"] == 4)
    #expect((object["workers"] as? [[String: Any]])?.count == 1)
  }
}
