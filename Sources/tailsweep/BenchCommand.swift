import ArgumentParser
import Foundation
import SweepRuntime
import TailNet

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Benchmarks: time per SGD iteration, dispatch overhead.",
    discussion: "Run on a release build: scripts/bench.sh (or make bench) does that.",
    subcommands: [BenchTrain.self, BenchDispatch.self])
}

struct BenchTrain: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Time per SGD iteration, and the share spent outside sgemm.")

  @Option(help: "Shapes as batch:inputs:width, comma-separated.")
  var shapes: String = "100:784:1000,5000:784:5000"
  @Option(help: "Noise types to time, comma-separated.") var noiseTypes: String = "1,2"
  @Option(help: "Timed iterations per case (the largest shapes use fewer).")
  var iterations: Int = 50
  @Option(help: "OpenBLAS threads.") var threads: Int = 1

  func run() throws {
    BLASThreads.set(threads)
    let parsed: [(Int, Int, Int)] = try shapes.split(separator: ",").map { s in
      let p = s.split(separator: ":").compactMap { Int($0) }
      guard p.count == 3, p.allSatisfy({ $0 > 0 }) else {
        throw ValidationError("bad shape '\(s)': expected batch:inputs:width")
      }
      return (p[0], p[1], p[2])
    }
    let types: [NoiseType] = try noiseTypes.split(separator: ",").map {
      guard let v = Int($0), let t = NoiseType(rawValue: v) else {
        throw ValidationError("bad noise type '\($0)'")
      }
      return t
    }
    print("OpenBLAS: \(BLASThreads.configuration), threads \(BLASThreads.current)")
    print(
      "batch  inputs  width  noise  iterations  s/iteration  gemm s/it  noise s/it  outside gemm")
    for (b, d, n) in parsed {
      for t in types {
        let flops = Double(b) * Double(d) * Double(n)
        let its = max(10, min(iterations, Int(2e10 / flops)))
        let r = StepBenchmark.run(
          inputs: d, width: n, batch: b, noiseType: t, iterations: its, clock: monotonicSeconds)
        print(
          String(
            format: "%5d  %6d  %5d  %5d  %10d  %11.5f  %9.5f  %10.5f  %11.1f%%", b, d, n,
            t.rawValue, its, r.perIteration, r.gemmPerIteration, r.noisePerIteration,
            100 * r.outsideGemmShare))
      }
    }
    print(
      "reproduce: swift build -c release -Xswiftc -target-cpu -Xswiftc haswell && "
        + ".build/release/tailsweep bench train --shapes \(shapes) --noise-types \(noiseTypes) --iterations \(iterations)"
    )
  }
}

struct BenchDispatch: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dispatch",
    abstract: "Null trials per second through the coordinator, durable commit included.",
    discussion: """
      Writes a sweep of N trials to a temporary folder and runs it with `tailsweep run
      --null-trials`: the workers answer each assignment at once with a marked empty result, so
      what is measured is the coordinator's loop, the wire protocol, the lease bookkeeping and
      the SQLite commit of every attempt and result.
      """)

  @Option(help: "Local worker processes.") var workers: Int = 2
  @Option(help: "Number of null trials (even, ≥ 2).") var trials: Int = 2000

  func validate() throws {
    if workers < 1 { throw ValidationError("--workers must be ≥ 1") }
    if trials < 2 || trials % 2 != 0 { throw ValidationError("--trials must be even and ≥ 2") }
  }

  func run() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tailsweep-bench-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let sweepFile = dir.appendingPathComponent("dispatch.yaml")
    let yaml = """
      # Dispatch benchmark: \(trials) null trials (no training).
      description: "dispatch benchmark"
      dataset: synthetic
      train: {eta: 0.1, batchSize: 10, maxIterations: 1, evalEvery: 1}
      grid: {width: {from: 1, to: \(trials / 2), step: 1}}
      seeds: 2
      """
    try Data(yaml.utf8).write(to: sweepFile)
    var o = SweepServeOptions(
      sweepPath: sweepFile.path, resultsDirectory: dir.appendingPathComponent("results"),
      endpoints: ["tcp://127.0.0.1:*"])
    o.nullTrials = true
    o.progress = .none
    let local = LocalRunOptions(workers: workers, dataDirectory: dir)
    let logger = makeLogger("tailsweep.bench", level: .warning)
    let start = monotonicSeconds()
    let code = try runLocalSweep(o, local: local, logger: logger)
    let seconds = monotonicSeconds() - start
    guard code == 0 else { throw RuntimeFailure("dispatch run failed with status \(code)") }
    print("workers  trials  wall s (store setup, worker start, run)  trials/s")
    print(
      String(
        format: "%7d  %6d  %38.2f  %8.0f", workers, trials, seconds, Double(trials) / seconds))
    print(
      "reproduce: swift build -c release -Xswiftc -target-cpu -Xswiftc haswell && "
        + ".build/release/tailsweep bench dispatch --workers \(workers) --trials \(trials)")
  }
}
