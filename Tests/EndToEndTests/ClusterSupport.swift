import Foundation
import Testing

/// Helpers of the cluster tests: the scripts in `cluster/`, background processes stopped by
/// PID, free loopback ports, waiting with a deadline.
enum ClusterSupport {
  /// The cluster tests start daemons, namespaces and links: root only.
  static var isRoot: Bool { getuid() == 0 }

  /// Whether an executable exists on PATH or at an absolute path.
  static func hasProgram(_ name: String) -> Bool {
    if name.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: name) }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin:/usr/sbin:/sbin"
    return path.split(separator: ":").contains {
      FileManager.default.isExecutableFile(atPath: "\($0)/\(name)")
    }
  }

  /// Path of a script under `cluster/`.
  static func script(_ relative: String) -> String {
    Binary.repositoryRoot.appendingPathComponent("cluster").appendingPathComponent(relative).path
  }

  /// Runs `executable args…` to completion (within `timeout` seconds, then SIGKILL) and returns
  /// its status and output. Children it leaves running must not keep its stdout/stderr open.
  @discardableResult
  static func run(
    _ executable: String, _ args: [String], environment: [String: String] = [:],
    timeout: TimeInterval = 120
  ) throws -> Binary.Output {
    try Binary.runProcess(
      executable, args, in: Binary.repositoryRoot, environment: environment, timeout: timeout)
  }

  /// The exit status of `process` once it has exited (128 + signal if killed), or nil after
  /// `timeout` seconds. `Process.waitUntilExit()` on Linux waits for a socket it passed to the
  /// child to close, and hangs while any daemon the child started still holds it
  /// (swift-corelibs-foundation issue 4795); so this also asks the kernel, with
  /// `waitid(WNOWAIT)`, which leaves the child for Foundation to reap.
  static func exitStatus(of process: Process, timeout: TimeInterval) -> Int32? {
    let pid = process.processIdentifier
    let deadline = Date().addingTimeInterval(timeout)
    while true {
      if !process.isRunning { return process.terminationStatus }
      var info = siginfo_t()
      if waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT | WNOHANG) == 0,
        info._sifields._sigchld.si_pid == pid
      {
        let code = info._sifields._sigchld.si_status
        return info.si_code == Int32(CLD_EXITED) ? code : 128 + code
      }
      // Otherwise still running, or just reaped by Foundation (isRunning turns false soon).
      if Date() >= deadline { return nil }
      Thread.sleep(forTimeInterval: 0.05)
    }
  }

  /// Runs a script of `cluster/` (see `run`).
  @discardableResult
  static func runScript(
    _ relative: String, _ args: [String], environment: [String: String] = [:],
    timeout: TimeInterval = 120
  ) throws -> Binary.Output {
    try run(script(relative), args, environment: environment, timeout: timeout)
  }

  /// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it).
  static func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ClusterTestError("socket() failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
    }
    guard bound == 0 else { throw ClusterTestError("bind() failed") }
    let named = withUnsafeMutablePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    guard named == 0 else { throw ClusterTestError("getsockname() failed") }
    return Int(UInt16(bigEndian: addr.sin_port))
  }

  /// Polls `condition` every `interval` seconds until it holds (true) or `timeout` passes (false).
  static func waitUntil(
    timeout: TimeInterval, interval: TimeInterval = 0.25, _ condition: () throws -> Bool
  ) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
      if try condition() { return true }
      if Date() >= deadline { return false }
      Thread.sleep(forTimeInterval: interval)
    }
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

/// A failure of the cluster test machinery (not of the code under test).
struct ClusterTestError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// A process started in the background, its output going to a log file; stopped by its PID.
final class BackgroundProcess: @unchecked Sendable {
  let process: Process
  /// The file receiving the process's stdout and stderr.
  let log: URL
  private var stopped = false

  init(
    _ executable: String, _ args: [String], log: URL, environment: [String: String] = [:]
  ) throws {
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    let handle = try FileHandle(forWritingTo: log)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    p.currentDirectoryURL = Binary.repositoryRoot
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    p.standardOutput = handle
    p.standardError = handle
    p.standardInput = FileHandle.nullDevice
    try p.run()
    try handle.close()
    self.process = p
    self.log = log
  }

  var pid: Int32 { process.processIdentifier }
  /// Whether the process has not exited yet (see `ClusterSupport.exitStatus`).
  var isRunning: Bool { ClusterSupport.exitStatus(of: process, timeout: 0) == nil }

  /// What the process wrote so far.
  var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

  /// Waits up to `timeout` seconds for the process to exit; its status, or nil if still running.
  func wait(timeout: TimeInterval) -> Int32? {
    ClusterSupport.exitStatus(of: process, timeout: timeout)
  }

  /// SIGTERM by PID, then SIGKILL after `grace` seconds; waits for the exit. Idempotent.
  func stop(grace: TimeInterval = 5) {
    if stopped { return }
    stopped = true
    guard isRunning else { return }
    kill(pid, SIGTERM)
    if wait(timeout: grace) == nil {
      kill(pid, SIGKILL)
      _ = wait(timeout: 10)
    }
  }

  deinit { stop(grace: 1) }
}
