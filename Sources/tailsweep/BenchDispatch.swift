import ArgumentParser
import Foundation
import SweepRuntime

#if canImport(Glibc)
  import Glibc
#endif

struct BenchDispatch: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dispatch",
    abstract: "Null trials per second through the coordinator, durable commit included.",
    discussion: """
      For each size T, writes a sweep of T trials to a temporary folder and runs it as `tailsweep \
      run --null-trials` does: the workers answer each assignment at once with a marked empty \
      result, so what is measured is the coordinator's loop, the wire protocol, the lease \
      bookkeeping and the durable (group) commit of every attempt and result. Reports each \
      phase (plan, store setup, worker start, dispatch), then the ceiling: bare ZeroMQ \
      ROUTER/DEALER round trips over the same transport, in this binary, now.
      """)

  @Option(help: "Local worker processes.") var workers: Int = 2
  @Option(help: "Numbers of null trials, comma-separated (even; above 200000: a multiple of 10).")
  var trials: String = "2000"
  @Option(help: "Assignments each worker holds at once (its --slots), 1–64.") var slots: Int = 16
  @Flag(inversion: .prefixedNo, help: "Measure the bare ZeroMQ round trip as the ceiling.")
  var ceiling = true

  var sizes: [Int] { trials.split(separator: ",").compactMap { Int($0) } }

  func validate() throws {
    if workers < 1 { throw ValidationError("--workers must be ≥ 1") }
    if !(1...64).contains(slots) { throw ValidationError("--slots must be in 1…64") }
    let s = sizes
    if s.isEmpty || s.count != trials.split(separator: ",").count {
      throw ValidationError("--trials: comma-separated whole numbers, e.g. 1000,10000")
    }
    for t in s where t < 2 || t % 2 != 0 || t > 1_000_000 || (t > 200_000 && t % 10 != 0) {
      throw ValidationError(
        "--trials \(t): even, 2…1000000, and a multiple of 10 above 200000")
    }
  }

  struct Row {
    var trials: Int
    var laps: [String: Double]
    var committed: Int
    var loopSeconds: Double
    var dispatchCPU: Double
    /// Peak resident memory of this process (the coordinator) during the run, MiB.
    var peakMiB: Double
  }

  /// Resets the kernel's peak-RSS mark of this process (`VmHWM`) to its current RSS
  /// (Linux: `5` to /proc/self/clear_refs); false where that is not possible.
  static func resetPeakResident() -> Bool {
    (try? Data("5".utf8).write(to: URL(fileURLWithPath: "/proc/self/clear_refs"))) != nil
  }

  /// `VmHWM` of this process in MiB (peak resident set since start or the last reset).
  static func peakResidentMiB() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
      let kb = line.split(separator: " ").compactMap({ Double($0) }).first
    else { return 0 }
    return kb / 1024
  }

  func runOne(_ t: Int) throws -> Row {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tailsweep-bench-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let seeds = t > 200_000 ? 10 : 2
    let sweepFile = dir.appendingPathComponent("dispatch.yaml")
    let yaml = """
      # Dispatch benchmark: \(t) null trials (no training).
      description: "dispatch benchmark"
      dataset: synthetic
      train: {eta: 0.1, batchSize: 10, maxIterations: 1, evalEvery: 1}
      grid: {width: {from: 1, to: \(t / seeds), step: 1}}
      seeds: \(seeds)
      """
    try Data(yaml.utf8).write(to: sweepFile)
    var o = SweepServeOptions(
      sweepPath: sweepFile.path, resultsDirectory: dir.appendingPathComponent("results"),
      endpoints: ["tcp://127.0.0.1:*"])
    o.nullTrials = true
    o.progress = .none
    // The table is this command's output: no closing summary of each run between its rows.
    o.silent = true
    let clock = PhaseClock()
    o.phases = clock
    var local = LocalRunOptions(workers: workers, dataDirectory: dir)
    local.slots = slots
    let logger = makeLogger("tailsweep.bench", level: .warning)
    _ = Self.resetPeakResident()
    let code = try runLocalSweep(o, local: local, logger: logger)
    let peak = Self.peakResidentMiB()
    guard code == 0 else { throw RuntimeFailure("dispatch run failed with status \(code)") }
    var laps: [String: Double] = [:]
    for lap in clock.laps { laps[lap.name] = lap.seconds }
    let summary = clock.summary
    return Row(
      trials: t, laps: laps, committed: summary?.committed ?? 0,
      loopSeconds: summary?.seconds ?? 0,
      dispatchCPU: clock.laps.first { $0.name == "dispatch" }?.cpu ?? 0, peakMiB: peak)
  }

  func run() throws {
    var rows: [Row] = []
    print(
      "workers \(workers), slots \(slots) each, loopback TCP, synchronous=FULL group commit")
    print(
      "  trials   plan s  store s  workers s  dispatch s  trials/s  loop results/s  loop CPU s"
        + "  CPU µs/trial  peak RSS MiB")
    for t in sizes {
      let r = try runOne(t)
      rows.append(r)
      let dispatch = r.laps["dispatch"] ?? 0
      print(
        String(
          format: "%8d  %7.2f  %7.2f  %9.2f  %10.2f  %8.0f  %14.0f  %10.2f  %12.0f  %12.0f",
          r.trials, r.laps["plan"] ?? 0, r.laps["store setup"] ?? 0, r.laps["worker start"] ?? 0,
          dispatch, dispatch > 0 ? Double(r.trials) / dispatch : 0,
          r.loopSeconds > 0 ? Double(r.committed) / r.loopSeconds : 0, r.dispatchCPU,
          1e6 * r.dispatchCPU / Double(max(1, r.trials)), r.peakMiB))
    }
    if ceiling {
      let n = max(20_000, min(200_000, (sizes.max() ?? 2000) * 2))
      let rate = try zeroMQRoundTripsPerSecond(dealers: workers, depth: slots, roundTrips: n)
      let best =
        rows.map { r -> Double in
          let d = r.laps["dispatch"] ?? 0
          return d > 0 ? Double(r.trials) / d : 0
        }.max() ?? 0
      print(
        String(
          format: "ceiling: bare ROUTER/DEALER round trips %.0f/s (%d dealers, %d in flight "
            + "each); best dispatch %.0f trials/s = %.1f %% of it", rate, workers, slots, best,
          rate > 0 ? 100 * best / rate : 0))
    }
    let rates = rows.map { r -> Double in
      let d = r.laps["dispatch"] ?? 0
      return d > 0 ? Double(r.trials) / d : 0
    }
    if let best = rates.max(), let first = rates.first, let last = rates.last {
      print("targets (issue 12):")
      print("  " + BenchTrain.target("trials/s (best)", best, "≥ 5000", met: best >= 5000))
      if rates.count > 1 {
        let change = first > 0 ? last / first - 1 : 0
        print(
          "  "
            + BenchTrain.target(
              "T = \(rows[0].trials) → \(rows[rows.count - 1].trials): rate change", change,
              "within ±0.20", met: abs(change) <= 0.2))
      }
    }
    print(
      "reproduce: swift build -c release -Xswiftc -target-cpu -Xswiftc haswell && "
        + ".build/release/tailsweep bench dispatch --workers \(workers) --slots \(slots) "
        + "--trials \(trials)")
  }
}
