import ArgumentParser
import Foundation
import SweepRuntime

#if canImport(Glibc)
  import Glibc
#endif

struct BenchFleet: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fleet",
    abstract: "A coordinator under a thousand heartbeating workers: CPU, memory, lost leases.",
    discussion: """
      Starts `tailsweep coordinator --null-trials` as a child process on loopback TCP, and \
      plays --workers workers in this process (one DEALER socket and the real worker state \
      machine each; null trials that take --trial-ms). After every worker got its first \
      assignment (the warm-up), measures for --seconds: results asked (workers ÷ trial time) \
      and acknowledged per second, ack latency, re-registrations (a worker presumed its \
      coordinator gone, or the coordinator forgot it), workers the coordinator declared dead, \
      and the coordinator's CPU share and resident memory (from /proc). Overload must slow \
      the coordinator down, never cost a live worker its lease.
      """)

  @Option(help: "Workers to play.") var workers: Int = 1000
  @Option(help: "Milliseconds each null trial takes.") var trialMs: Int = 2000
  @Option(help: "Heartbeat interval in milliseconds (both ways).") var heartbeatMs: Int = 1000
  @Option(help: "Seconds to measure after the warm-up.") var seconds: Int = 30

  func validate() throws {
    if !(1...5000).contains(workers) { throw ValidationError("--workers must be in 1…5000") }
    if trialMs < 1 { throw ValidationError("--trial-ms must be ≥ 1") }
    if heartbeatMs < 10 { throw ValidationError("--heartbeat-ms must be ≥ 10") }
    if seconds < 1 { throw ValidationError("--seconds must be ≥ 1") }
  }

  /// utime + stime of `pid` in seconds, and its resident set in MiB.
  func usage(_ pid: pid_t) -> (cpu: Double, rssMiB: Double)? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // After the command: state is field 3; utime and stime are fields 14 and 15.
    guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else {
      return nil
    }
    let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    var rss = 0.0
    if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    {
      rss = (Double(line.split(separator: " ")[1]) ?? 0) / 1024
    }
    return ((u + s) / ticks, rss)
  }

  func run() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tailsweep-fleet-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let trialSeconds = Double(trialMs) / 1000
    // Enough trials that the sweep outlasts warm-up and measurement.
    let needed = Double(workers) * (Double(seconds) + 60) / trialSeconds * 1.2 + Double(workers)
    let widths = max(1, Int(needed / 2))
    let sweep = dir.appendingPathComponent("fleet.yaml")
    try Data(
      """
      # Fleet benchmark: null trials.
      description: "fleet benchmark"
      dataset: synthetic
      train: {eta: 0.1, batchSize: 10, maxIterations: 1, evalEvery: 1}
      grid: {width: {from: 1, to: \(widths), step: 1}}
      seeds: 2
      """.utf8
    ).write(to: sweep)
    let endpoint = "tcp://127.0.0.1:\(try freeLoopbackPort())"
    let log = dir.appendingPathComponent("coordinator.log")
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    let coordinator = Process()
    coordinator.executableURL = URL(fileURLWithPath: LocalSupervisor.currentExecutable())
    coordinator.arguments = [
      "coordinator", sweep.path, "--bind", endpoint, "--null-trials", "--results",
      dir.appendingPathComponent("results").path, "--progress", "none", "--heartbeat-ms",
      "\(heartbeatMs)", "--log-level", "warning",
    ]
    coordinator.standardOutput = FileHandle.nullDevice
    coordinator.standardError = try FileHandle(forWritingTo: log)
    try coordinator.run()
    defer {
      if coordinator.isRunning {
        kill(coordinator.processIdentifier, SIGKILL)
        coordinator.waitUntilExit()
      }
    }
    let pid = coordinator.processIdentifier

    let fleet = try Fleet(
      workers: workers, endpoint: endpoint, trialSeconds: trialSeconds,
      heartbeatInterval: Double(heartbeatMs) / 1000)
    defer { fleet.close() }
    try fleet.start()
    // Warm-up: until every worker got an assignment (or two minutes).
    let warmStart = monotonicSeconds()
    while fleet.counts.assigned < workers && monotonicSeconds() - warmStart < 120 {
      try fleet.run(until: monotonicSeconds() + 0.5)
    }
    let warmup = monotonicSeconds() - warmStart
    let before = fleet.counts
    let latencyStart = fleet.ackLatencies.count
    let deadBefore = declaredDead(log)
    guard let u0 = usage(pid), let f0 = usage(getpid()) else {
      throw RuntimeFailure("the coordinator is not running")
    }
    let t0 = monotonicSeconds()
    var peakRSS = u0.rssMiB
    while monotonicSeconds() - t0 < Double(seconds) {
      try fleet.run(until: min(t0 + Double(seconds), monotonicSeconds() + 1))
      if let u = usage(pid) { peakRSS = max(peakRSS, u.rssMiB) }
    }
    let elapsed = monotonicSeconds() - t0
    guard let u1 = usage(pid), let f1 = usage(getpid()) else {
      throw RuntimeFailure("the coordinator died")
    }
    let after = fleet.counts
    let dead = declaredDead(log) - deadBefore
    var lat = Array(fleet.ackLatencies[latencyStart...]).sorted()
    if lat.isEmpty { lat = [0] }
    func pct(_ p: Double) -> Double { lat[min(lat.count - 1, Int(p * Double(lat.count)))] * 1000 }
    kill(pid, SIGINT)
    try fleet.run(until: monotonicSeconds() + 3)
    coordinator.waitUntilExit()

    print(
      "fleet: \(workers) workers in one process, null trials of \(trialMs) ms, heartbeats "
        + "every \(heartbeatMs) ms; warm-up \(String(format: "%.1f", warmup)) s, then "
        + "\(String(format: "%.1f", elapsed)) s measured")
    print("| figure | value |")
    print("| --- | --- |")
    let asked = Double(workers) / trialSeconds
    print(String(format: "| results asked | %.0f/s |", asked))
    print(
      String(
        format: "| results acknowledged | %.0f/s |", Double(after.acked - before.acked) / elapsed))
    print(
      String(
        format: "| ack latency p50 / p99 / max | %.1f / %.1f / %.1f ms |", pct(0.5),
        pct(0.99), lat.last! * 1000))
    print("| re-registrations | \(after.reRegistrations - before.reRegistrations) |")
    print("| workers declared dead by the coordinator | \(dead) |")
    print("| rejects received | \(after.rejects - before.rejects) |")
    print(
      String(
        format: "| coordinator CPU | %.0f %% of one core |", 100 * (u1.cpu - u0.cpu) / elapsed))
    print(String(format: "| coordinator resident memory | %.0f MiB (peak) |", peakRSS))
    print(
      String(
        format: "| this fleet process's CPU (the %d workers) | %.0f %% of one core |", workers,
        100 * (f1.cpu - f0.cpu) / elapsed))
    let share = (u1.cpu - u0.cpu) / elapsed
    print("targets (issue 12):")
    print(
      "  "
        + BenchTrain.target("coordinator CPU, share of a core", share, "< 0.50", met: share < 0.5))
    print(
      "  "
        + BenchTrain.target(
          "workers declared dead", Double(dead), "0 (overload slows, never drops)", met: dead == 0))
    print(
      "reproduce: swift build -c release -Xswiftc -target-cpu -Xswiftc haswell && "
        + ".build/release/tailsweep bench fleet --workers \(workers) --trial-ms \(trialMs) "
        + "--heartbeat-ms \(heartbeatMs) --seconds \(seconds)")
  }

  func declaredDead(_ log: URL) -> Int {
    guard let text = try? String(contentsOf: log, encoding: .utf8) else { return 0 }
    return text.components(separatedBy: "worker declared dead").count - 1
  }
}
