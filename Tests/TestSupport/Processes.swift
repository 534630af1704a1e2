import Foundation

/// Runs the built `tailsweep` binary (it sits next to the test bundle in the build folder).
public enum Binary {
  /// Path of the built executable.
  public static var path: String {
    let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = runner.deletingLastPathComponent()
    // xctest bundles may be directories on some platforms: walk up until the binary is found.
    for _ in 0..<4 {
      let candidate = dir.appendingPathComponent("tailsweep").path
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
      dir = dir.deletingLastPathComponent()
    }
    return "tailsweep"
  }

  public struct Output: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
  }

  /// Runs `tailsweep args…` to completion in `directory` (default: the repository root) and
  /// returns its exit status and output.
  public static func run(
    _ args: [String], in directory: URL? = nil, environment: [String: String] = [:]
  ) throws -> Output {
    try runProcess(
      path, args, in: directory ?? TestFiles.repositoryRoot, environment: environment)
  }

  /// Runs `executable args…` to completion (within `timeout` seconds, then SIGKILL) and returns
  /// its status and output. Both pipes are read concurrently so neither fills up and blocks the
  /// child; children it leaves running must not keep its stdout/stderr open.
  public static func runProcess(
    _ executable: String, _ args: [String], in directory: URL, environment: [String: String] = [:],
    timeout: TimeInterval = 600
  ) throws -> Output {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    p.currentDirectoryURL = directory
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let pid = p.processIdentifier
    let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
      errData = err.fileHandleForReading.readDataToEndOfFile()
      group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let status = Processes.exitStatus(of: p, timeout: timeout) ?? -1
    watchdog.cancel()
    return Output(
      status: status, stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData, as: UTF8.self))
  }
}

/// Child processes, loopback ports and waiting with a deadline.
public enum Processes {
  /// Whether an executable exists on PATH or at an absolute path.
  public static func hasProgram(_ name: String) -> Bool {
    if name.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: name) }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin:/usr/sbin:/sbin"
    return path.split(separator: ":").contains {
      FileManager.default.isExecutableFile(atPath: "\($0)/\(name)")
    }
  }

  /// The exit status of `process` once it has exited (128 + signal if killed), or nil after
  /// `timeout` seconds. `Process.waitUntilExit()` on Linux waits for a socket it passed to the
  /// child to close, and hangs while any daemon the child started still holds it
  /// (swift-corelibs-foundation issue 4795); so this also asks the kernel, with
  /// `waitid(WNOWAIT)`, which leaves the child for Foundation to reap.
  public static func exitStatus(of process: Process, timeout: TimeInterval) -> Int32? {
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

  /// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it).
  public static func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSetupError("socket() failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
    }
    guard bound == 0 else { throw TestSetupError("bind() failed") }
    let named = withUnsafeMutablePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    guard named == 0 else { throw TestSetupError("getsockname() failed") }
    return Int(UInt16(bigEndian: addr.sin_port))
  }

  /// Polls `condition` every `interval` seconds until it holds (true) or `timeout` passes
  /// (false; the last poll is at or after the deadline).
  public static func waitUntil(
    timeout: TimeInterval, interval: TimeInterval = 0.25, _ condition: () throws -> Bool
  ) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
      if try condition() { return true }
      if Date() >= deadline { return false }
      Thread.sleep(forTimeInterval: interval)
    }
  }
}

/// A failure of the test machinery (not of the code under test).
public struct TestSetupError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// A process started in the background, its output going to a log file; stopped by its PID.
public final class BackgroundProcess: @unchecked Sendable {
  public let process: Process
  /// The file receiving the process's stdout and stderr.
  public let log: URL
  private var stopped = false

  /// Starts `executable args…` in `directory` (default: the repository root).
  public init(
    _ executable: String, _ args: [String], log: URL, in directory: URL? = nil,
    environment: [String: String] = [:]
  ) throws {
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    let handle = try FileHandle(forWritingTo: log)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    p.currentDirectoryURL = directory ?? TestFiles.repositoryRoot
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

  public var pid: Int32 { process.processIdentifier }
  /// Whether the process has not exited yet (see `Processes.exitStatus`).
  public var isRunning: Bool { Processes.exitStatus(of: process, timeout: 0) == nil }

  /// What the process wrote so far.
  public var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

  /// Sends signal `s` to the process.
  public func signal(_ s: Int32) { kill(pid, s) }

  /// Waits up to `timeout` seconds for the process to exit; its status, or nil if still running.
  public func wait(timeout: TimeInterval) -> Int32? {
    Processes.exitStatus(of: process, timeout: timeout)
  }

  /// SIGTERM by PID, then SIGKILL after `grace` seconds; waits for the exit. Idempotent.
  public func stop(grace: TimeInterval = 5) {
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
