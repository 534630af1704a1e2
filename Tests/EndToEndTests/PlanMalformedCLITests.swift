import Foundation
import TailSweepTestSupport
import Testing

/// Sixteen distinct malformed sweep files through the binary: each exits with status 2 and
/// names the file, the line and the key (`bad.yaml:LINE: key 'KEY':`) on stderr.
@Suite struct PlanMalformedCLITests {
  static let header = "description: d\ndataset: mnist\n"

  static let cases: [(name: String, text: String, line: Int, key: String)] = [
    ("unknown-key", header + "train: {width: 8, eta: 0.1, batchSize: 10}\nlr: 0.1\n", 4, "lr"),
    ("typo-in-train", header + "train:\n  width: 8\n  etaa: 0.1\n", 5, "etaa"),
    (
      "alpha-range", header + "train: {width: 8, eta: 0.1, batchSize: 10}\ngrid:\n  alpha: [2.5]\n",
      5, "alpha"
    ),
    ("alpha-zero", header + "train: {width: 8, eta: 0.1, batchSize: 10, alpha: 0}\n", 3, "alpha"),
    (
      "negative-sigma",
      header + "train: {width: 8, eta: 0.1, batchSize: 10}\ngrid:\n  sigma: [0, -1]\n", 5, "sigma"
    ),
    (
      "zero-width", header + "train: {eta: 0.1, batchSize: 10}\ngrid:\n  width: [0, 8]\n", 5,
      "width"
    ),
    ("negative-eta", header + "train: {width: 8, eta: -0.1, batchSize: 10}\n", 3, "eta"),
    ("width-not-int", header + "train: {width: 8.5, eta: 0.1, batchSize: 10}\n", 3, "width"),
    ("eta-not-number", header + "train: {width: 8, eta: fast, batchSize: 10}\n", 3, "eta"),
    (
      "empty-axis", header + "train: {width: 8, eta: 0.1, batchSize: 10}\ngrid:\n  alpha: []\n", 5,
      "alpha"
    ),
    (
      "duplicate-value", header + "train: {eta: 0.1, batchSize: 10}\ngrid:\n  width: [8, 16, 8]\n",
      5, "width"
    ),
    (
      "fixed-and-swept",
      header + "train: {width: 8, eta: 0.1, batchSize: 10}\ngrid:\n  width: [8, 16]\n", 5, "width"
    ),
    (
      "noise-type", header + "train: {width: 8, eta: 0.1, batchSize: 10, noiseType: 7}\n", 3,
      "noiseType"
    ),
    (
      "zip-lengths",
      header + "train: {width: 8, batchSize: 10}\nzip:\n  - {eta: [0.1, 0.2], alpha: [1.5]}\n", 5,
      "alpha"
    ),
    (
      "target-range", header + "train: {width: 8, eta: 0.1, batchSize: 10, targetAccuracy: 1.5}\n",
      3, "targetAccuracy"
    ),
    (
      "budget-range",
      header + "train: {width: 8, eta: 0.1, batchSize: 10}\ngrid:\n  budget: [0.1, 2]\n", 5,
      "budget"
    ),
  ]

  @Test(arguments: cases.indices)
  func malformedSweepExitsTwoWithFileLineKey(index: Int) throws {
    let c = Self.cases[index]
    let dir = try TestFiles.temporaryDirectory("plan-bad")
    defer { try? FileManager.default.removeItem(at: dir) }
    try c.text.write(to: dir.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
    let r = try Binary.run(["plan", "bad.yaml"], in: dir)
    #expect(r.status == 2, "\(c.name): exit \(r.status)")
    #expect(r.stderr.contains("bad.yaml:\(c.line): key '\(c.key)':"), "\(c.name): \(r.stderr)")
    #expect(r.stdout.isEmpty, "\(c.name)")
  }

  @Test(arguments: [
    ["run", "bad.yaml"], ["coordinator", "bad.yaml", "--bind", "tcp://127.0.0.1:0"],
  ])
  func runningABadSweepExitsTwoBeforeAnythingStarts(command: [String]) throws {
    let dir = try TestFiles.temporaryDirectory("run-bad")
    defer { try? FileManager.default.removeItem(at: dir) }
    try (Self.header + "train: {width: 8, eta: 0.1, batchSize: 10}\nlr: 0.1\n").write(
      to: dir.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
    let r = try Binary.run(command, in: dir)
    #expect(r.status == 2, "exit \(r.status): \(r.stderr)")
    #expect(r.stderr.contains("bad.yaml:4: key 'lr':"), "\(r.stderr)")
    // Nothing was written: no results folder.
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("results").path))
  }
}
