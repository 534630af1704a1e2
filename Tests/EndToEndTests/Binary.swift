import Foundation

/// Runs the built `tailsweep` binary (it sits next to the test bundle in the build folder).
enum Binary {
  /// Path of the built executable.
  static var path: String {
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

  /// The repository root (for sweeps/, scripts/ and data/).
  static var repositoryRoot: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
  }

  struct Output {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// Runs `tailsweep args…` to completion in `directory` and returns its exit status and output.
  static func run(
    _ args: [String], in directory: URL? = nil, environment: [String: String] = [:]
  ) throws -> Output {
    try runProcess(path, args, in: directory ?? repositoryRoot, environment: environment)
  }

  /// Runs `executable args…` to completion (within `timeout` seconds, then SIGKILL) and returns
  /// its status and output. Both pipes are read concurrently so neither fills up and blocks the
  /// child; children it leaves running must not keep its stdout/stderr open.
  static func runProcess(
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
    let status = ClusterSupport.exitStatus(of: p, timeout: timeout) ?? -1
    watchdog.cancel()
    return Output(
      status: status, stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData, as: UTF8.self))
  }

  /// A fresh temporary folder.
  static func temporaryDirectory(_ prefix: String = "tailsweep-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "\(prefix)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }
}
