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
}

/// State shared between the socket thread and the training thread.
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

/// The worker: one DEALER owned by the calling thread, trials on a separate thread.
public final class WorkerLoop {
  let options: WorkerOptions
  var logger: Logger
  let context: ZMQContext
  let identity: String
  let host = hostName()
  let executor: TrialExecutor
  var socket: ZMQSocket?
  let wake: ZMQSocket
  let wakeEndpoint: String
  var running: TrialBox?
  var queued: [AssignBody] = []
  var unacked: [Lease: ResultBody] = [:]
  var lastHeard = 0.0
  var lastSent = 0.0
  var lastProgressSent = 0.0
  var lastRegistered = -1e9
  var backoff = 0.0
  var nextReconnect = 0.0
  let parent = getppid()

  /// Prepares the worker (no connection yet).
  public init(options: WorkerOptions, logger: Logger) throws {
    self.options = options
    self.context = try ZMQContext()
    self.identity =
      options.id ?? "\(hostName())-\(getpid())-\(String(UInt32.random(in: 0...0xffff), radix: 16))"
    var l = logger
    l[metadataKey: "worker.id"] = .string(identity)
    self.logger = l
    self.executor = TrialExecutor(dataDirectory: options.dataDirectory)
    wake = try ZMQSocket(context: context, type: .pull)
    wakeEndpoint = "inproc://tailsweep-wake"
    try wake.bind(wakeEndpoint)
  }

  var deadline: Double { options.heartbeatInterval * Double(options.liveness) }

  func connect() throws {
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

  /// Sends without blocking; a full queue drops the message (heartbeats and resends repair).
  func send(_ message: WireMessage) throws {
    guard let s = socket else { return }
    let frames = WireCodec.encode(message)
    let failure: ZMQError
    do {
      try s.send(frames, dontWait: true)
      lastSent = monotonicSeconds()
      return
    } catch {
      failure = error
    }
    guard failure.isWouldBlock else { throw failure }
    logger.debug("send queue full; message dropped", metadata: ["kind": "\(message.kind)"])
  }

  var freeSlots: Int { (running == nil && queued.isEmpty) ? 1 : 0 }

  func register(now: Double) throws {
    lastRegistered = now
    var leases = queued.map(\.lease)
    if let r = running { leases.append(r.lease) }
    try send(
      .ready(ReadyBody(credits: freeSlots, fresh: true, host: host, pid: getpid(), running: leases))
    )
    for body in unacked.values.sorted(by: { $0.lease.trial < $1.lease.trial }) {
      try send(.result(body))
    }
  }

  /// Runs until shutdown, interruption or a lost coordinator; returns why it stopped.
  public func run() throws -> WorkerExit {
    defer {
      running?.cancelled.store(true, ordering: .relaxed)
      socket?.close()
      wake.close()
    }
    try connect()
    var now = monotonicSeconds()
    lastHeard = now
    try register(now: now)
    logger.info("worker connected", metadata: ["endpoint": "\(options.endpoint)"])
    let tickMs = Int(max(5, min(100, options.heartbeatInterval * 1000 / 4)))
    while true {
      if stopSignal != nil { return .interrupted }
      if options.exitWithParent && getppid() != parent { return .parentGone }
      guard let s = socket else { return .coordinatorGone }
      let ev = try poll([(s, .readable), (wake, .readable)], timeoutMs: tickMs)
      now = monotonicSeconds()
      if ev[1].contains(.readable) { while try wake.receive(dontWait: true) != nil {} }
      if ev[0].contains(.readable) {
        while let frames = try s.receive(dontWait: true) {
          lastHeard = now
          backoff = 0
          let message: WireMessage
          do { message = try WireCodec.decode(frames) } catch {
            logger.warning("dropped undecodable frame", metadata: ["error": "\(error)"])
            continue
          }
          if let exit = try handle(message, now: now) { return exit }
        }
      }
      try collectFinished(now: now)
      try sendProgress(now: now)
      if now - lastSent >= options.heartbeatInterval { try send(.heartbeat) }
      let silent = now - lastHeard
      if silent > options.coordinatorTimeout {
        logger.error("coordinator gone; exiting", metadata: ["silent.s": "\(Int(silent))"])
        return .coordinatorGone
      }
      if silent > deadline && now >= nextReconnect {
        backoff = backoff == 0 ? options.heartbeatInterval : min(backoff * 2, 30)
        nextReconnect = now + backoff
        logger.warning(
          "coordinator silent; reconnecting",
          metadata: ["silent.s": "\(Int(silent))", "backoff.s": "\(backoff)"])
        try connect()
        try register(now: now)
      }
    }
  }

  func handle(_ message: WireMessage, now: Double) throws -> WorkerExit? {
    switch message {
    case .assign(let body):
      if running == nil { try start(body) } else { queued.append(body) }
    case .heartbeat: break
    case .ack(let lease): unacked[lease] = nil
    case .cancel(let lease):
      if let r = running, r.lease == lease {
        r.cancelled.store(true, ordering: .relaxed)
        logger.info(
          "trial cancelled by coordinator", metadata: ["trial.id": "\(lease.trial.short)"])
      } else if queued.contains(where: { $0.lease == lease }) {
        queued.removeAll { $0.lease == lease }
        try send(.ready(ReadyBody(credits: 1, fresh: false, host: host, pid: getpid())))
      }
    case .reject(let body):
      switch body.code {
      case .unknownWorker:
        // Several rejects may be in flight: register once per heartbeat interval.
        if now - lastRegistered > options.heartbeatInterval {
          logger.info("registering again", metadata: ["reason": "\(body.message)"])
          try register(now: now)
        }
      case .unsupportedVersion:
        throw RuntimeError.protocolMismatch(body.message)
      case .malformed:
        logger.warning("coordinator rejected a message", metadata: ["reason": "\(body.message)"])
      }
    case .shutdown(let body):
      logger.info("shutdown requested", metadata: ["reason": "\(body.reason)"])
      return .shutdown
    case .ready, .progress, .result:
      logger.warning(
        "dropped message meant for a coordinator", metadata: ["kind": "\(message.kind)"])
    }
    return nil
  }

  func start(_ body: AssignBody) throws {
    logger.debug(
      "trial assigned",
      metadata: ["trial.id": "\(body.lease.trial.short)", "attempt": "\(body.lease.attempt)"])
    if options.nullTrials && options.nullTrialSeconds <= 0 {
      try finish(ResultBody(lease: body.lease, result: nullTrialResult(body.config), error: nil))
      return
    }
    let box = TrialBox(lease: body.lease)
    running = box
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
        outcome = ResultBody(lease: body.lease, result: nil, error: "\(error)")
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

  func finish(_ body: ResultBody) throws {
    unacked[body.lease] = body
    try send(.result(body))
    if let next = queued.first {
      queued.removeFirst()
      try start(next)
    } else {
      try send(.ready(ReadyBody(credits: 1, fresh: false, host: host, pid: getpid())))
    }
  }

  func collectFinished(now: Double) throws {
    guard let box = running, let body = box.finished else { return }
    running = nil
    logger.debug("trial finished", metadata: ["trial.id": "\(body.lease.trial.short)"])
    try finish(body)
  }

  func sendProgress(now: Double) throws {
    guard let box = running, now - lastProgressSent >= options.heartbeatInterval,
      let p = box.progress
    else { return }
    lastProgressSent = now
    try send(
      .progress(
        ProgressBody(
          lease: box.lease, iteration: p.iteration, maxIterations: p.maxIterations,
          trainAccuracy: p.lastEval?.trainAccuracy)))
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
