import ArgumentParser
import Foundation
import SweepRuntime
import TailNet

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Benchmarks: time per SGD iteration, dispatch overhead.",
    discussion: "Run on a release build: scripts/bench.sh (or make bench) does that.",
    subcommands: [BenchTrain.self])
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
        let its = max(3, min(iterations, Int(2e10 / flops)))
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
