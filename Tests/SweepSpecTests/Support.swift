import Foundation
import TailSweepTestSupport
import Testing

@testable import SweepSpec

/// A temporary folder holding fixture files written from inline strings.
struct Fixtures {
  let directory: URL

  init() throws {
    directory = try TestFiles.temporaryDirectory("sweepspec")
  }

  /// Writes `text` to `name` (subfolders are created) and returns its path.
  @discardableResult
  func write(_ name: String, _ text: String) throws -> String {
    let url = directory.appendingPathComponent(name)
    try FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
  }

  /// Writes and loads a sweep file.
  func load(_ name: String, _ text: String) throws -> Sweep {
    try SweepLoader.load(path: try write(name, text))
  }

  /// Writes and loads a sweep file that must be rejected; returns the error and the path.
  func failure(_ name: String, _ text: String, sourceLocation: SourceLocation = #_sourceLocation)
    throws -> (error: SweepError, path: String)
  {
    let path = try write(name, text)
    do {
      let sweep = try SweepLoader.load(path: path)
      Issue.record(
        "expected an error, got \(sweep.trials.count) trials", sourceLocation: sourceLocation)
      return (SweepError(file: "", line: -1, key: nil, message: ""), path)
    } catch {
      return (error, path)
    }
  }

  /// Asserts that the sweep text is rejected at `file:line` with `key`, the message containing
  /// `message`.
  func expectError(
    _ text: String, line: Int, key: String?, message: String, in name: String = "bad.yaml",
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let (error, path) = try failure(name, text, sourceLocation: sourceLocation)
    #expect(error.file == path, sourceLocation: sourceLocation)
    #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
    #expect(error.key == key, "\(error)", sourceLocation: sourceLocation)
    #expect(error.message.contains(message), "\(error)", sourceLocation: sourceLocation)
    let prefix = "\(path):\(line): " + (key.map { "key '\($0)': " } ?? "")
    #expect(error.description.hasPrefix(prefix), "\(error)", sourceLocation: sourceLocation)
  }
}

/// The start of a sweep without `train`; tests append sections.
let head = """
  description: "test sweep"
  dataset: mnist

  """

/// A minimal valid sweep header with `train: {eta, batchSize}`; tests append sections.
let header = """
  description: "test sweep"
  dataset: mnist
  train: {eta: 0.1, batchSize: 100}

  """

extension Sweep {
  /// The distinct values of one key over the trials, as texts.
  func values(_ key: String) -> Set<String> {
    Set(trials.compactMap { ConfigKeys.get(key, $0.config)?.text })
  }
}
