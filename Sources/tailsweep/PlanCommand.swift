import ArgumentParser
import Foundation
import SweepRuntime
import SweepSpec

/// `tailsweep plan SWEEP.yaml [--json]`: validates a sweep file and prints its expanded trials
/// without running anything. A bad sweep file exits with status 2 and `file:line: key 'k': …`
/// on stderr.
struct Plan: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print the expanded trials of a sweep file without running anything.",
    discussion: """
      Validates the sweep file (and its includes), expands its grid and checks every trial \
      against the data folder (the data set is there, its limits fit the data, the network \
      fits in memory), as `run` does before it starts. Then prints the number of trials, the \
      settings shared by all of them, and one row per trial with its id, the values that vary \
      and an estimate of its cost relative to the cheapest trial. The format of sweep files is \
      described in docs/sweep-files.md.
      """)

  @Argument(help: "The sweep file (YAML or JSON).")
  var sweep: String

  @Flag(help: "Print a JSON object with 'count' and 'trials' instead of a table.")
  var json = false

  @OptionGroup var data: DataDirOption

  @Flag(
    name: .customLong("no-data-check"),
    help: "Do not check the trials against the data folder (plan on a machine without the data).")
  var noDataCheck = false

  func run() throws {
    let loaded: Sweep
    do {
      let check = noDataCheck ? nil : PreDispatchCheck(dataDirectory: data.url)
      loaded = try SweepLoader.load(path: sweep, check: check?.trialCheck)
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
