import Foundation
import Logging
import SweepSpec
import SweepWire
import Synchronization
import TailNet
import ZeroMQ

#if canImport(Glibc)
  import Glibc
#endif

/// How a worker connects and behaves.
public struct WorkerOptions: Sendable {
  /// Coordinator endpoint, e.g. `tcp://host:5555`.
  public var endpoint: String
  /// Identity presented to the coordinator (default `host-pid-random`).
  public var id: String?
  /// Seconds between heartbeats.
  public var heartbeatInterval: Double = 1
  /// The coordinator is presumed gone after `liveness × heartbeatInterval` seconds of silence:
  /// the worker reconnects with backoff.
  public var liveness: Int = 3
  /// The worker exits when the coordinator stayed silent this many seconds.
  public var coordinatorTimeout: Double = 600
  /// Answer every assignment at once with a null result (dispatch benchmarks only).
  public var nullTrials = false
  /// Trials run at once (1–64), each on a thread of its own; declared to the coordinator,
  /// which never leases more. One worker per core runs 1; null-trial workers use more to keep
  /// assignments in the pipe.
  public var slots = 1
  /// With `nullTrials`: seconds each null trial takes on the training thread (tests of
  /// failure handling use it to have trials in flight); 0 answers from the socket thread.
  public var nullTrialSeconds = 0.0
  /// Data folder for `TrialExecutor`.
  public var dataDirectory: URL
  /// CURVE: the coordinator's public key and this worker's keypair (nil: plain TCP).
  public var serverKey: String?
  /// This worker's CURVE keypair (with `serverKey`).
  public var keys: CurveKeyPair?
  /// Exit when the parent process (a local supervisor) is gone.
  public var exitWithParent = false

  /// Creates options with defaults.
  public init(endpoint: String, dataDirectory: URL) {
    self.endpoint = endpoint
    self.dataDirectory = dataDirectory
  }
}

/// Why a worker stopped.
public enum WorkerExit: Sendable, Equatable {
  /// The coordinator sent `shutdown`.
  case shutdown
  /// The coordinator was silent longer than `coordinatorTimeout`.
  case coordinatorGone
  /// SIGINT/SIGTERM.
  case interrupted
  /// The local supervisor (parent process) is gone.
  case parentGone
  /// The coordinator refused this worker for good (another protocol version, other data, or
  /// another null-trial mode); the text says why.
  case refused(String)
}

/// State shared between the socket thread and a training thread.
final class TrialBox: @unchecked Sendable {
  let lease: Lease
  let lock = NSLock()
  let cancelled = Atomic<Bool>(false)
  private var _progress: TrainingProgress?
  private var _finished: ResultBody?

  init(lease: Lease) { self.lease = lease }

  var progress: TrainingProgress? {
    get { lock.withLock { _progress } }
    set { lock.withLock { _progress = newValue } }
  }
  var finished: ResultBody? {
    get { lock.withLock { _finished } }
    set { lock.withLock { _finished = newValue } }
  }
}

/// The ZeroMQ DEALER as the worker's transport.
final class ZMQDealerTransport: WorkerTransport {
  let context: ZMQContext
  let options: WorkerOptions
  let identity: String
  var socket: ZMQSocket?

  init(context: ZMQContext, options: WorkerOptions, identity: String) {
    self.context = context
    self.options = options
    self.identity = identity
  }

  func reconnect() throws {
    socket?.close()
    let s = try ZMQSocket(context: context, type: .dealer, linger: 0)
    try s.setRoutingID(Array(identity.utf8.prefix(255)))
    try s.setMaxMessageSize(Int64(wireMaxResultBody + 4096))
    let ivl = Int32(max(10, options.heartbeatInterval * 1000))
    try s.setReconnect(intervalMs: ivl, maxMs: ivl * 8)
    try s.setSendHighWaterMark(10_000)
    if let server = options.serverKey, let keys = options.keys {
      try s.makeCurveClient(serverKey: server, keys: keys)
    }
    try s.connect(options.endpoint)
    socket = s
  }

  func send(_ frames: [[UInt8]]) throws -> SendStatus {
    guard let s = socket else { return .unreachable }
    do {
      try s.send(frames, dontWait: true)
      return .sent
    } catch {
      if error.isWouldBlock { return .queueFull }
      throw error
    }
  }
}

/// The worker: one DEALER owned by the calling thread, trials on threads of their own, and a
/// `WorkerMachine` deciding everything on the wire (poll → handle → perform).
public final class WorkerLoop {
  let options: WorkerOptions
  var logger: Logger
  let context: ZMQContext
  let identity: String
  let executor: TrialExecutor
  let transport: ZMQDealerTransport
  let wake: ZMQSocket
  let wakeEndpoint: String
  var machine: WorkerMachine
  var running: [Lease: TrialBox] = [:]
  let parent = getppid()

  /// Prepares the worker (no connection yet).
  public init(options: WorkerOptions, logger: Logger) throws {
    self.options = options
    self.context = try ZMQContext()
    let base =
      options.id ?? "\(hostName())-\(getpid())-\(String(UInt32.random(in: 0...0xffff), radix: 16))"
    // Under CURVE the routing id carries the tag of this worker's public key: the coordinator
    // takes its messages as this worker's only with that tag (`curveRoutingTag`).
    if options.serverKey != nil, let keys = options.keys,
      let tag = curveRoutingTag(publicKey: keys.publicKey)
    {
      self.identity = base + tag
    } else {
      self.identity = base
    }
    var l = logger
    l[metadataKey: "worker.id"] = .string(identity)
    self.logger = l
    self.executor = TrialExecutor(dataDirectory: options.dataDirectory)
    self.transport = ZMQDealerTransport(context: context, options: options, identity: identity)
    var settings = WorkerSettings(
      heartbeatInterval: options.heartbeatInterval, liveness: options.liveness,
      coordinatorTimeout: options.coordinatorTimeout, host: hostName(), pid: getpid())
    settings.nullTrials = options.nullTrials
    settings.slots = max(1, min(64, options.slots))
    self.machine = WorkerMachine(settings: settings)
    wake = try ZMQSocket(context: context, type: .pull)
    wakeEndpoint = "inproc://tailsweep-wake"
    try wake.bind(wakeEndpoint)
  }

  /// Runs until shutdown, interruption, refusal or a lost coordinator; returns why it stopped.
  public func run() throws -> WorkerExit {
    defer {
      for box in running.values { box.cancelled.store(true, ordering: .relaxed) }
      transport.socket?.close()
      wake.close()
    }
    try transport.reconnect()
    if let exit = try perform(machine.start(now: monotonicSeconds())) { return exit }
    logger.info("worker connected", metadata: ["endpoint": "\(options.endpoint)"])
    let tickMs = Int(max(5, min(100, options.heartbeatInterval * 1000 / 4)))
    while true {
      if stopSignal != nil { return .interrupted }
      if options.exitWithParent && getppid() != parent { return .parentGone }
      guard let s = transport.socket else { return .coordinatorGone }
      let ev = try poll([(s, .readable), (wake, .readable)], timeoutMs: tickMs)
      if ev[1].contains(.readable) { while try wake.receive(dontWait: true) != nil {} }
      if ev[0].contains(.readable) {
        while let sock = transport.socket, let frames = try sock.receive(dontWait: true) {
          if let exit = try perform(machine.receive(frames, now: monotonicSeconds())) {
            return exit
          }
        }
      }
      let now = monotonicSeconds()
      for (lease, box) in running.sorted(by: { $0.key.trial < $1.key.trial }) {
        if let body = box.finished {
          running[lease] = nil
          logger.debug("trial finished", metadata: ["trial.id": "\(lease.trial.short)"])
          if let exit = try perform(machine.finished(body, now: now)) { return exit }
        } else if let p = box.progress {
          let body = ProgressBody(
            lease: lease, iteration: p.iteration, maxIterations: p.maxIterations,
            trainAccuracy: p.lastEval?.trainAccuracy)
          if let exit = try perform(machine.progress(body, now: now)) { return exit }
        }
      }
      if let exit = try perform(machine.tick(now: now)) { return exit }
    }
  }

  /// Performs the machine's actions; returns an exit when one says so.
  func perform(_ actions: [WorkerAction]) throws -> WorkerExit? {
    for action in actions {
      switch action {
      case .send(let m):
        if try transport.send(WireCodec.encode(m)) == .queueFull {
          logger.debug("send queue full; message dropped", metadata: ["kind": "\(m.kind)"])
        }
      case .run(let body): start(body)
      case .cancel(let lease): running[lease]?.cancelled.store(true, ordering: .relaxed)
      case .reconnect: try transport.reconnect()
      case .log(let level, let text):
        switch level {
        case .debug: logger.debug("\(text)")
        case .info: logger.info("\(text)")
        case .warning: logger.warning("\(text)")
        case .error: logger.error("\(text)")
        }
      case .exit(let stop):
        switch stop {
        case .shutdown: return .shutdown
        case .coordinatorGone: return .coordinatorGone
        case .refused(let why): return .refused(why)
        }
      }
    }
    return nil
  }

  func start(_ body: AssignBody) {
    logger.debug(
      "trial assigned",
      metadata: ["trial.id": "\(body.lease.trial.short)", "attempt": "\(body.lease.attempt)"])
    let box = TrialBox(lease: body.lease)
    running[body.lease] = box
    if options.nullTrials && options.nullTrialSeconds <= 0 {
      box.finished = ResultBody(lease: body.lease, result: nullTrialResult(body.config), error: nil)
      return
    }
    let executor = self.executor
    let context = self.context
    let wakeEndpoint = self.wakeEndpoint
    let started = monotonicSeconds()
    let limit = body.timeLimit
    let nullSeconds = options.nullTrials ? options.nullTrialSeconds : 0
    let thread = Thread {
      let outcome: ResultBody
      do {
        let keepGoing: (TrainingProgress) -> Bool = { p in
          box.progress = p
          return !box.cancelled.load(ordering: .relaxed) && monotonicSeconds() - started < limit
        }
        let result: TrialResult
        if nullSeconds > 0 {
          result = nullTrial(body.config, seconds: nullSeconds, progress: keepGoing)
        } else {
          result = try executor.run(id: body.lease.trial, config: body.config, progress: keepGoing)
        }
        outcome = ResultBody(lease: body.lease, result: result, error: nil)
      } catch {
        outcome = ResultBody(lease: body.lease, result: nil, error: trialErrorText(error))
      }
      box.finished = outcome
      // Wake the socket thread (a socket of our own, created and closed on this thread).
      if let push = try? ZMQSocket(context: context, type: .push, linger: 100) {
        try? push.connect(wakeEndpoint)
        try? push.send([[1]], dontWait: true)
        push.close()
      }
    }
    thread.stackSize = 16 << 20
    thread.start()
  }
}

/// A null trial that takes `seconds` (sleeping in small steps, honouring cancellation).
func nullTrial(_ config: TrialConfig, seconds: Double, progress: (TrainingProgress) -> Bool)
  -> TrialResult
{
  let start = monotonicSeconds()
  var step = 0
  while monotonicSeconds() - start < seconds {
    step += 1
    if !progress(
      TrainingProgress(iteration: step, maxIterations: config.maxIterations, lastEval: nil))
    {
      var r = nullTrialResult(config)
      r.training.stopReason = .cancelled
      return r
    }
    usleep(20_000)
  }
  return nullTrialResult(config)
}

/// The error text a worker sends for a trial that threw `error`, with `permanentErrorPrefix`
/// when every worker would get the same error on every attempt: an invalid configuration, or a
/// request the data set cannot satisfy (a `DataError` about no file, e.g. a trainLimit beyond
/// its size; the data is the same everywhere, the coordinator checks its hash). A problem with
/// this host's files (missing, unreadable, corrupt: a `DataError` naming a file) is not
/// permanent: another worker with the data can run the trial, so the scheduler retries it.
public func trialErrorText(_ error: any Error) -> String {
  switch error {
  case let e as ExecutorError: return permanentErrorPrefix + "\(e)"
  case let e as DataError where e.file == nil: return permanentErrorPrefix + "\(e)"
  default: return "\(error)"
  }
}
