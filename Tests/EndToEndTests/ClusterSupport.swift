import Foundation
import TailSweepTestSupport
import Testing

/// Helpers of the cluster tests: the scripts in `cluster/` and their sweep. Processes, ports and
/// waiting are `Binary`, `Processes` and `BackgroundProcess` (TailSweepTestSupport).
enum ClusterSupport {
  /// The cluster tests start daemons, namespaces and links: root only.
  static var isRoot: Bool { getuid() == 0 }

  /// Path of a script under `cluster/`.
  static func script(_ relative: String) -> String {
    TestFiles.repositoryRoot.appendingPathComponent("cluster").appendingPathComponent(relative).path
  }

  /// Runs `executable args…` to completion (within `timeout` seconds, then SIGKILL) and returns
  /// its status and output. Children it leaves running must not keep its stdout/stderr open.
  @discardableResult
  static func run(
    _ executable: String, _ args: [String], environment: [String: String] = [:],
    timeout: TimeInterval = 120
  ) throws -> Binary.Output {
    try Binary.runProcess(
      executable, args, in: TestFiles.repositoryRoot, environment: environment, timeout: timeout)
  }

  /// Runs a script of `cluster/` (see `run`).
  @discardableResult
  static func runScript(
    _ relative: String, _ args: [String], environment: [String: String] = [:],
    timeout: TimeInterval = 120
  ) throws -> Binary.Output {
    try run(script(relative), args, environment: environment, timeout: timeout)
  }

  /// The tiny sweep of the cluster tests: synthetic data, width 16, `trials` seeds. Training
  /// stops only at evaluations, so `evalEvery == maxIterations` runs every trial to the end
  /// (about 20000 steps a second in a debug build).
  static func writeSweep(
    in dir: URL, name: String, trials: Int, maxIterations: Int, evalEvery: Int
  ) throws -> String {
    let text = """
      # Answers: does a sweep served to workers on other "hosts" finish with exactly one result
      # per trial? \(trials) tiny synthetic trials (width 16, \(maxIterations) steps of batch 10):
      # seconds on 2 cores. Written by the cluster tests.
      name: \(name)
      description: "Cluster test: \(trials) tiny synthetic trials"
      dataset: {name: synthetic, trainSize: 300, testSize: 100}
      train:
        eta: 0.05
        batchSize: 10
        alpha: 1.75
        sigma: 0.1
        noiseType: 1
        targetAccuracy: 1.0
        maxIterations: \(maxIterations)
        evalEvery: \(evalEvery)
      grid:
        width: [16]
      seeds: \(trials)
      run: {retries: 3, trialTimeout: 600}

      """
    let url = dir.appendingPathComponent("\(name).yaml")
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
  }
}
