import ArgumentParser
import Foundation
import SweepSpec

/// `tailsweep plan SWEEP.yaml [--json]`: validates a sweep file and prints its expanded trials
/// without running anything. A bad sweep file exits with status 2 and `file:line: key 'k': …`
/// on stderr.
struct Plan: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print the expanded trials of a sweep file without running anything.",
    discussion: """
      Validates the sweep file (and its includes), expands its grid and prints the number of
      trials, the settings shared by all of them, and one row per trial with its id, the
      values that vary and an estimate of its cost relative to the cheapest trial. The format
      of sweep files is described in docs/sweep-files.md.
      """)

  @Argument(help: "The sweep file (YAML or JSON).")
  var sweep: String

  @Flag(help: "Print a JSON object with 'count' and 'trials' instead of a table.")
  var json = false

  func run() throws {
    let loaded: Sweep
    do {
      loaded = try SweepLoader.load(path: sweep)
    } catch {
      throw UsageError(error.description)
    }
    if json {
      print(try loaded.planJSON())
    } else {
      print(loaded.planText(), terminator: "")
    }
  }
}
