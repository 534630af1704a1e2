import Foundation
import Logging
import SweepWire

#if canImport(Glibc)
  import Glibc
#endif

/// Spawns local worker processes (`tailsweep worker …`), restarts those that die while the
/// sweep runs, and reports each death to the coordinator so the lease counts as a crashed
/// attempt at once. Children get their own process group (a terminal's Ctrl-C reaches only the
/// coordinator, which shuts them down) and `OPENBLAS_NUM_THREADS=1`.
public final class LocalSupervisor {
  struct Child {
    var slot: Int
    var generation: Int
    var pid: pid_t
    var id: String
  }

  let executable: String
  let arguments: (String) -> [String]
  let count: Int
  let maxRestarts: Int
  let logger: Logger
  var children: [Child] = []
  var restarts = 0
  var lastDeath: String?
  /// Whether exited workers are started again (off while shutting down).
  public var restartExited = true

  /// `arguments(id)` gives the worker's arguments (after the executable) for identity `id`.
  public init(
    executable: String, count: Int, maxRestarts: Int, logger: Logger,
    arguments: @escaping (String) -> [String]
  ) {
    self.executable = executable
    self.count = count
    self.maxRestarts = maxRestarts
    self.logger = logger
    self.arguments = arguments
  }

  /// The path of the running executable (to spawn `tailsweep worker`).
  public static func currentExecutable() -> String {
    if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
      return p
    }
    return CommandLine.arguments[0]
  }

  /// Process ids of the live workers.
  public var pids: [pid_t] { children.map(\.pid) }

  /// Starts `count` workers.
  public func start() throws {
    for slot in 0..<count { children.append(try spawn(slot: slot, generation: 0)) }
  }

  func spawn(slot: Int, generation: Int) throws -> Child {
    let id = "local-\(slot)-\(generation)-\(getpid())"
    let argv = [executable] + arguments(id)
    var env = ProcessInfo.processInfo.environment
    env["OPENBLAS_NUM_THREADS"] = "1"
    let envp = env.map { "\($0.key)=\($0.value)" }
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    posix_spawnattr_setpgroup(&attr, 0)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGINT)
    sigaddset(&defaults, SIGTERM)
    sigaddset(&defaults, SIGPIPE)
    posix_spawnattr_setsigdefault(&attr, &defaults)
    var mask = sigset_t()
    sigemptyset(&mask)
    posix_spawnattr_setsigmask(&attr, &mask)
    posix_spawnattr_setflags(
      &attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
    var pid: pid_t = 0
    let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    let cEnv: [UnsafeMutablePointer<CChar>?] = envp.map { strdup($0) } + [nil]
    defer {
      for p in cArgs { free(p) }
      for p in cEnv { free(p) }
    }
    let rc = posix_spawn(&pid, executable, nil, &attr, cArgs, cEnv)
    guard rc == 0 else {
      throw RuntimeError.spawnFailed("\(executable): \(String(cString: strerror(rc)))")
    }
    logger.debug("worker process started", metadata: ["worker.id": "\(id)", "pid": "\(pid)"])
    return Child(slot: slot, generation: generation, pid: pid, id: id)
  }

  /// Reaps exited workers (without blocking), restarts them if allowed, and reports each death
  /// for the scheduler. When no worker is left and the restart budget is used up, the report
  /// says so (`exhausted`): the run cannot go on and must stop (resumable) instead of waiting.
  public func poll() -> SupervisorReport {
    var report = SupervisorReport()
    for i in children.indices.reversed() {
      var status: Int32 = 0
      let r = waitpid(children[i].pid, &status, WNOHANG)
      guard r == children[i].pid else { continue }
      let child = children.remove(at: i)
      let reason = describe(status)
      report.exited.append((WorkerID(child.id), reason))
      lastDeath = reason
      let clean = (status & 0x7f) == 0 && ((status >> 8) & 0xff) == 0
      if clean { continue }
      logger.warning(
        "worker process died", metadata: ["worker.id": "\(child.id)", "status": "\(reason)"])
      if restartExited && restarts < maxRestarts {
        restarts += 1
        do {
          children.append(try spawn(slot: child.slot, generation: child.generation + 1))
        } catch {
          logger.error("worker restart failed", metadata: ["error": "\(error)"])
        }
      }
    }
    if restartExited && children.isEmpty && count > 0 {
      let why =
        restarts >= maxRestarts
        ? "every local worker exited and the restart budget of \(maxRestarts) is used up"
        : "every local worker exited by itself"
      report.exhausted =
        "\(why) (last: \(lastDeath ?? "unknown")); the sweep is resumable: fix the cause "
        + "(see the worker errors above) and run the same command again"
    }
    return report
  }

  /// Waits up to `grace` seconds for the workers to exit (after `shutdown`), then kills the rest.
  public func stop(grace: Double) {
    restartExited = false
    let deadline = monotonicSeconds() + grace
    while !children.isEmpty && monotonicSeconds() < deadline {
      _ = poll()
      if !children.isEmpty { usleep(20_000) }
    }
    for c in children {
      logger.warning(
        "worker did not exit; killing it", metadata: ["worker.id": "\(c.id)", "pid": "\(c.pid)"])
      kill(c.pid, SIGKILL)
      var status: Int32 = 0
      _ = waitpid(c.pid, &status, 0)
    }
    children = []
  }

  func describe(_ status: Int32) -> String {
    let sig = status & 0x7f
    if sig == 0 { return "exit status \((status >> 8) & 0xff)" }
    return "signal \(sig)"
  }
}
