import Foundation
import TailSweepTestSupport
import Testing

/// The README's main job in miniature: `tailsweep run` on real MNIST (from `make setup`) with
/// two local worker processes and the embedded SQLite store, ending with the report.
@Suite(.serialized) struct MainJobTests {
  @Test func runOnMNISTWritesStoreTablesFiguresAndReport() throws {
    let dir = try TestFiles.temporaryDirectory("main-job")
    defer { try? FileManager.default.removeItem(at: dir) }
    let sweep = """
      # Test: the main job in miniature, MNIST subset, 6 trials, seconds on 2 cores.
      description: "main job in miniature"
      dataset: {name: mnist, trainLimit: 1000, testLimit: 500}
      train: {eta: 0.1, batchSize: 50, targetAccuracy: 0.8, maxIterations: 300, evalEvery: 50}
      grid:
        width: [16, 64]
        sigma: [0, 0.01]
      seeds: 2
      overrides:
        - when: {sigma: 0}
          set: {noiseType: 0}
      """
    try sweep.write(to: dir.appendingPathComponent("mini.yaml"), atomically: true, encoding: .utf8)
    let data = TestFiles.repositoryRoot.appendingPathComponent("data").path
    let r = try Binary.run(
      ["run", "mini.yaml", "--workers", "2", "--progress", "plain", "--data", data], in: dir)
    #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
    #expect(r.stdout.contains("done 8"), "\(r.stdout)")
    #expect(r.stdout.contains("Measurements over seeds (8 trials)"), "\(r.stdout)")
    #expect(r.stdout.contains("Noisy vs plain SGD"), "\(r.stdout)")

    let folder = dir.appendingPathComponent("results/mini")
    for file in [
      "sweep.sqlite", "trials.csv", "report.md", "summary.csv", "paired.csv", "index.html",
      "figures/pruning_ratio.svg", "figures/fixed_ratio.svg",
    ] {
      #expect(
        FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path), "\(file)")
    }
    let csv = try String(
      contentsOf: folder.appendingPathComponent("trials.csv"), encoding: .utf8)
    #expect(csv.split(separator: "\n").count == 1 + 8, "header plus one row per trial")

    // Running the same command again resumes: nothing left to compute.
    let again = try Binary.run(
      ["run", "mini.yaml", "--workers", "2", "--progress", "plain", "--data", data], in: dir)
    #expect(again.status == 0, "\(again.stderr)")
    #expect(again.stdout.contains("this run: 0 committed"), "\(again.stdout)")
  }
}
