import ArgumentParser
import Foundation
import SweepRuntime
import TailMath
import TailNet

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Benchmarks: time per SGD iteration, dispatch overhead.",
    discussion: "Run on a release build: scripts/bench.sh (or make bench) does that.",
    subcommands: [
      BenchTrain.self, BenchConv.self, BenchDispatch.self, BenchFleet.self, BenchNoise.self,
    ])
}

/// What the compute benchmarks time: wall time, or the CPU time of the benchmarking thread,
/// which other processes on a shared machine inflate far less (they take turns on the cores;
/// cache sharing remains).
enum BenchClock: String, ExpressibleByArgument, CaseIterable {
  case wall
  case cpu

  /// Seconds on this clock.
  var now: () -> Double {
    switch self {
    case .wall: return monotonicSeconds
    case .cpu:
      return {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
      }
    }
  }
}

struct BenchTrain: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Time per SGD iteration, its GFLOP/s against sgemm alone, the share outside sgemm.",
    discussion: """
      Each case times the training step itself (batch gather, forward, softmax cross-entropy, \
      backward with the fused update, noise, divergence checks) and, in the same run, sgemm \
      alone on the step's five gemm calls (same shapes and arguments), in alternating rounds; \
      the fastest round of each is kept. GFLOP/s count the gemm flops (2·m·n·k per call) of one \
      step. step/sgemm is the step's time over that of its gemm calls alone.
      """)

  @Option(help: "Shapes as batch:inputs:width, comma-separated.")
  var shapes: String = "100:784:1000,5000:784:5000"
  @Option(help: "Noise types to time, comma-separated.") var noiseTypes: String = "1,2"
  @Option(help: "Timed iterations per round (the largest shapes use fewer).")
  var iterations: Int = 50
  @Option(help: "Alternating timed rounds per case (the fastest is kept).") var rounds: Int = 3
  @Option(help: "OpenBLAS threads.") var threads: Int = 1
  @Option(help: "Clock: wall, or cpu (this thread's CPU time; steadier on a shared machine).")
  var clock: BenchClock = .wall

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
    guard rounds >= 1 else { throw ValidationError("--rounds must be ≥ 1") }
    print(
      "OpenBLAS: \(BLASThreads.configuration), threads \(BLASThreads.current), "
        + "clock \(clock.rawValue)")
    print(
      "batch  inputs  width  noise  iterations  s/iteration  gemm s/it  noise s/it"
        + "  step GFLOP/s  sgemm GFLOP/s  step/sgemm  outside gemm")
    var targets: [String] = []
    for (b, d, n) in parsed {
      var step: [NoiseType: Double] = [:]
      for t in types {
        let flops = Double(b) * Double(d) * Double(n)
        let its = max(10, min(iterations, Int(2e10 / flops)))
        let r = StepBenchmark.run(
          inputs: d, width: n, batch: b, noiseType: t, iterations: its, rounds: rounds,
          clock: clock.now)
        print(
          String(
            format: "%5d  %6d  %5d  %5d  %10d  %11.5f  %9.5f  %10.5f"
              + "  %12.1f  %13.1f  %10.3f  %11.1f%%",
            b, d, n, t.rawValue, its, r.perIteration, r.gemmPerIteration, r.noisePerIteration,
            r.stepGFLOPS, r.gemmGFLOPS, r.stepOverGemm, 100 * r.outsideGemmShare))
        step[t] = r.perIteration
        if t == .none || t == .perNeuron {
          targets.append(
            Self.target(
              "\(b):\(d):\(n) type \(t.rawValue) step/sgemm", r.stepOverGemm, "≤ 1.10",
              met: r.stepOverGemm <= 1.10))
        }
      }
      if let one = step[.perNeuron], let two = step[.perEntry] {
        targets.append(
          Self.target(
            "\(b):\(d):\(n) type-2 step / type-1 step", two / one, "< 2", met: two / one < 2))
      }
    }
    if !targets.isEmpty {
      print("targets (issue 12):")
      for t in targets { print("  " + t) }
    }
    print(
      "reproduce: swift build -c release -Xswiftc -target-cpu -Xswiftc haswell && "
        + ".build/release/tailsweep bench train --shapes \(shapes) --noise-types \(noiseTypes)"
        + " --iterations \(iterations) --rounds \(rounds) --clock \(clock.rawValue)"
    )
  }
}

extension BenchTrain {
  /// One line of a benchmark's "targets" list: the figure, the target and whether it is met.
  static func target(_ name: String, _ value: Double, _ goal: String, met: Bool) -> String {
    name.padding(toLength: 40, withPad: " ", startingAt: 0)
      + String(format: "%8.3f", value) + "  target \(goal)  " + (met ? "met" : "NOT met")
  }
}

struct BenchConv: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "conv",
    abstract: "VGG-11-wide SGD step: time, GFLOP/s, against sgemm alone on its gemm calls.",
    discussion: """
      Each case times the convolutional training step itself (batch gather, im2col, forward, \
      softmax cross-entropy, backward with fused updates, col2im, pooling, noise, divergence \
      scan) and, in the same run, sgemm alone on the step's gemm calls (same shapes, \
      transposes and leading dimensions), in alternating rounds; the fastest round of each is \
      kept. GFLOP/s count the gemm flops of one step; step/sgemm is the step's time over that \
      of its gemm calls alone. Also prints the process's peak resident memory.
      """)

  @Option(help: "Channel multipliers, comma-separated.") var channels: String = "0.125,0.25"
  @Option(help: "Image sizes C:H:W, comma-separated.") var images: String = "1:28:28,3:32:32"
  @Option(help: "Mini-batch size.") var batch: Int = 100
  @Option(help: "Noise type.") var noiseType: Int = 1
  @Option(help: "Timed iterations per round.") var iterations: Int = 5
  @Option(help: "Alternating timed rounds per case (the fastest is kept).") var rounds: Int = 3
  @Option(help: "OpenBLAS threads.") var threads: Int = 1

  func run() throws {
    BLASThreads.set(threads)
    let multipliers = try channels.split(separator: ",").map { s -> Double in
      guard let m = Double(s), m > 0, m <= 4 else { throw ValidationError("bad multiplier '\(s)'") }
      return m
    }
    let shapes = try images.split(separator: ",").map { s -> TensorShape in
      let p = s.split(separator: ":").compactMap { Int($0) }
      guard p.count == 3, p.allSatisfy({ $0 > 0 }) else {
        throw ValidationError("bad image size '\(s)': expected C:H:W")
      }
      return TensorShape(channels: p[0], height: p[1], width: p[2])
    }
    guard let type = NoiseType(rawValue: noiseType) else {
      throw ValidationError("bad noise type \(noiseType)")
    }
    guard batch >= 1, iterations >= 1, rounds >= 1 else {
      throw ValidationError("--batch, --iterations and --rounds must be ≥ 1")
    }
    print("OpenBLAS: \(BLASThreads.configuration), threads \(BLASThreads.current)")
    print(
      "channels  image     batch  s/iteration  gemm s/it  step GFLOP/s  sgemm GFLOP/s"
        + "  step/sgemm  peak RSS")
    for shape in shapes {
      for m in multipliers {
        let a = Architecture.vgg11(multiplier: m, input: shape, classes: 10)
        let r = ConvStepBenchmark.run(
          architecture: a, batch: batch, noiseType: type, iterations: iterations, rounds: rounds,
          clock: monotonicSeconds)
        print(
          String(format: "%8g  ", m)
            + shape.description.padding(
              toLength: 8, withPad: " ", startingAt: 0)
            + String(
              format: "  %5d  %11.4f  %9.4f  %12.1f  %13.1f  %10.3f  %5.0f MiB",
              batch, r.perIteration, r.gemmPerIteration, r.stepGFLOPS,
              r.gemmGFLOPS, r.stepOverGemm, Double(Self.peakResidentBytes()) / 1_048_576))
      }
    }
    print("targets (issue 17): the step no slower than PyTorch CPU at one thread on the same")
    print("  shapes (scripts/reference/torch_step_bench.py, same arguments; docs/performance.md);")
    print("  the convolutions' gemms within 1.15× of plain sgemm: they are plain cblas_sgemm calls")
    print("  (1.0 by construction); step/sgemm above is all the rest of the step.")
    print(
      "reproduce: swift build -c release && .build/release/tailsweep bench conv --channels "
        + "\(channels) --images \(images) --batch \(batch) --noise-type \(noiseType)"
        + " --iterations \(iterations) --rounds \(rounds)")
  }

  /// Peak resident set size of this process (VmHWM of /proc/self/status), 0 if unknown.
  static func peakResidentBytes() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
      return 0
    }
    for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
      let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
      return kb * 1024
    }
    return 0
  }
}

struct BenchNoise: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "noise",
    abstract: "SαS draws per second: Double per-draw sampler, Float32 batch sampler, type-2 noise.",
    discussion: """
      One thread. Rows: the Double Chambers–Mallows–Stuck sampler one draw at a time (noise \
      types 1 and 3, `sample --precise`); the vectorised Float32 sampler filling a buffer \
      (`sample`); and noise type 2 added in place to a 784×1000 Float layer, as training does. \
      Best of --repeats runs each.
      """)

  @Option(help: "α of the draws, in [0.5, 2].") var alpha: Double = 1.75
  @Option(help: "Draws per timed run.") var count: Int = 1 << 23
  @Option(help: "Timed runs per row (the best is printed).") var repeats: Int = 5
  @Option(help: "Clock: wall, or cpu (this thread's CPU time; steadier on a shared machine).")
  var clock: BenchClock = .wall

  func validate() throws {
    if !(alpha >= 0.5 && alpha <= 2) { throw ValidationError("--alpha must be in [0.5, 2]") }
    if count < 1 { throw ValidationError("--count must be ≥ 1") }
    if repeats < 1 { throw ValidationError("--repeats must be ≥ 1") }
  }

  /// The smallest of `repeats` timings of `body`, in seconds.
  func best(_ body: () -> Void) -> Double {
    var fastest = Double.infinity
    let now = clock.now
    for _ in 0..<repeats {
      let t0 = now()
      body()
      fastest = min(fastest, now() - t0)
    }
    return fastest
  }

  func run() throws {
    var rng = Xoshiro256(seed: 1)
    var sink = 0.0
    let double = best {
      for _ in 0..<count { sink += rng.nextSymmetricStable(alpha: alpha) }
    }
    var buffer = [Float](repeating: 0, count: 1 << 20)
    let batch = best {
      var left = count
      while left > 0 {
        let n = min(left, buffer.count)
        buffer.withUnsafeMutableBufferPointer { b in
          rng.fillSymmetricStable(
            alpha: Float(alpha), into: UnsafeMutableBufferPointer(rebasing: b[0..<n]))
        }
        left -= n
      }
    }
    sink += Double(buffer[0])
    let (rows, columns) = (1000, 784)
    var layer = [Float](repeating: 0, count: rows * columns)
    let steps = max(1, count / layer.count)
    let add = best {
      for _ in 0..<steps {
        NoiseInjection.add(
          type: .perEntry, alpha: alpha, scale: 1e-3, to: &layer, rows: rows, columns: columns,
          rng: &rng)
      }
    }
    sink += Double(layer[0])
    print("α = \(alpha), one thread, best of \(repeats), clock \(clock.rawValue)")
    print("sampler                                   draws/s   ns/draw  target    per step")
    func row(_ name: String, _ draws: Int, _ seconds: Double, _ target: String, _ extra: String) {
      print(
        name.padding(toLength: 40, withPad: " ", startingAt: 0)
          + String(
            format: "  %7.1f M  %8.2f", Double(draws) / seconds / 1e6, seconds / Double(draws) * 1e9
          )
          + "  " + target.padding(toLength: 8, withPad: " ", startingAt: 0) + "  " + extra)
    }
    row("Double CMS, one draw per call", count, double, "", "")
    row("Float32 batch (fillSymmetricStable)", count, batch, "≥ 60 M/s", "")
    row(
      "type-2 noise add, 784×1000 Float layer", steps * layer.count, add, "≥ 60 M/s",
      String(format: "%.2f ms", add / Double(steps) * 1e3))
    if sink.isNaN { print("(NaN in the sink)") }
    print(
      "reproduce: swift build -c release -Xswiftc -target-cpu -Xswiftc haswell && "
        + ".build/release/tailsweep bench noise --alpha \(alpha) --count \(count) --repeats \(repeats)"
        + " --clock \(clock.rawValue)"
    )
  }
}
