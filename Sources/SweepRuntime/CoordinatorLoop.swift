import Foundation
import Logging
import SweepSpec
import SweepWire
import TailNet
import ZeroMQ

/// How an attempt ended, as the coordinator tells its ledger.
public enum LedgerOutcome: String, Sendable {
  /// A result that did not count; the worker reported an error; the worker went silent (or
  /// the coordinator stopped); the wall-time limit passed; the worker process died.
  case duplicate, failed, lost, timedOut, crashed
}

/// Where the coordinator records attempts and results durably (the store, single writer).
public protocol CoordinatorLedger: AnyObject {
  /// A lease was handed out.
  func started(_ lease: Lease, worker: String, host: String) throws
  /// A lease ended without becoming the trial's result.
  func ended(_ lease: Lease, outcome: LedgerOutcome, error: String?) throws
  /// The result of a lease; returns true if it became the trial's result.
  func commit(_ lease: Lease, worker: String, result: TrialResult) throws -> Bool
  /// The trial gave up after its retry cap.
  func failed(_ trial: TrialID, error: String) throws
}

/// One trial the coordinator serves.
public struct CoordinatorTrial: Sendable {
  /// The trial id.
  public var id: TrialID
  /// Its configuration (sent with `assign`).
  public var config: TrialConfig
  /// Relative cost: larger first.
  public var cost: Double
  /// Attempts already in the store.
  public var previousAttempts: Int
  /// Creates a trial entry.
  public init(id: TrialID, config: TrialConfig, cost: Double, previousAttempts: Int) {
    self.id = id
    self.config = config
    self.cost = cost
    self.previousAttempts = previousAttempts
  }
}

/// Coordinator settings.
public struct CoordinatorOptions: Sendable {
  /// Endpoints to bind (e.g. `tcp://*:5555`, `tcp://127.0.0.1:*`).
  public var endpoints: [String]
  /// Heartbeat interval, liveness, retry cap and wall-time limit.
  public var scheduler: SchedulerSettings
  /// CURVE server keypair and allowed worker public keys (nil: no encryption).
  public var serverKeys: CurveKeyPair?
  /// Allowed worker public keys (Z85), with `serverKeys`.
  public var allowedKeys: Set<String> = []
  /// Live progress output.
  public var progress: ProgressStyle = .auto
  /// After the sweep, answer stragglers with `shutdown` for up to 2 s (remote workers; local
  /// ones are stopped by their supervisor).
  public var drainAfterFinish = false
  /// Creates options.
  public init(endpoints: [String], scheduler: SchedulerSettings) {
    self.endpoints = endpoints
    self.scheduler = scheduler
  }
}

/// What a coordinator run did.
public struct CoordinatorSummary: Sendable, Equatable {
  /// Results committed in this run.
  public var committed = 0
  /// Late or repeated results recorded as duplicates.
  public var duplicates = 0
  /// Trials failed after the retry cap.
  public var failed = 0
  /// Committed results whose training diverged.
  public var diverged = 0
  /// Trials still without a result (interrupted runs).
  public var remaining = 0
  /// Whether a stop signal ended the run.
  public var interrupted = false
  /// Seconds from the first assignment to the end.
  public var seconds = 0.0
}

/// The coordinator loop: owns the ROUTER (and the ZAP socket), the scheduler and the ledger,
/// on the calling thread. It is the single writer of the store.
public final class CoordinatorLoop {
  let options: CoordinatorOptions
  let logger: Logger
  let ledger: CoordinatorLedger
  let context: ZMQContext
  var scheduler: Scheduler
  let configs: [TrialID: TrialConfig]
  var router: ZMQSocket?
  var zap: ZAPAllowList?
  var summary = CoordinatorSummary()
  var display: ProgressDisplay
  var followUps: [SchedulerEvent] = []
  var hosts: [WorkerID: String] = [:]
  /// Called every loop turn: the local supervisor returns exited workers here.
  public var poller: (() -> [SchedulerEvent])?
  /// Number of trials this coordinator serves.
  public var trialCount: Int { scheduler.totalCount }
  /// The endpoints actually bound (wildcard ports resolved).
  public private(set) var boundEndpoints: [String] = []

  /// Prepares a coordinator for `trials`.
  public init(
    trials: [CoordinatorTrial], options: CoordinatorOptions, ledger: CoordinatorLedger,
    logger: Logger
  ) throws {
    self.options = options
    self.logger = logger
    self.ledger = ledger
    self.context = try ZMQContext()
    self.scheduler = Scheduler(
      trials: trials.map {
        SchedulerTrial(id: $0.id, cost: $0.cost, previousAttempts: $0.previousAttempts)
      },
      settings: options.scheduler)
    var c: [TrialID: TrialConfig] = [:]
    for t in trials { c[t.id] = t.config }
    self.configs = c
    self.display = ProgressDisplay(style: options.progress, total: scheduler.totalCount)
  }

  /// Binds the ROUTER (and the ZAP handler first, when CURVE is on); returns the endpoints.
  @discardableResult
  public func bind() throws -> [String] {
    if let keys = options.serverKeys {
      let z = try ZAPAllowList(context: context, allowed: options.allowedKeys)
      let log = logger
      z.onDecision = { key, address, ok in
        if ok {
          log.debug("worker key accepted", metadata: ["key": "\(key)", "peer": "\(address)"])
        } else {
          log.warning("worker key refused", metadata: ["key": "\(key)", "peer": "\(address)"])
        }
      }
      zap = z
      _ = keys
    }
    let r = try ZMQSocket(context: context, type: .router, linger: 500)
    try r.setRouterMandatory(true)
    try r.setRouterHandover(true)
    try r.setMaxMessageSize(Int64(wireMaxResultBody + 4096))
    try r.setSendHighWaterMark(100_000)
    if let keys = options.serverKeys {
      try r.makeCurveServer(secretKey: keys.secretKey)
      try r.setZAPDomain("tailsweep")
    }
    for e in options.endpoints {
      try r.bind(e)
      boundEndpoints.append(try r.lastEndpoint())
    }
    router = r
    return boundEndpoints
  }

  func send(_ message: WireMessage, to w: WorkerID) throws {
    guard let r = router else { return }
    let frames = [w.raw] + WireCodec.encode(message)
    let failure: ZMQError
    do {
      try r.send(frames, dontWait: true)
      return
    } catch {
      failure = error
    }
    if failure.isHostUnreachable {
      // ROUTER_MANDATORY: the peer is not connected.
      logger.debug(
        "worker unreachable", metadata: ["worker.id": "\(w)", "kind": "\(message.kind)"])
      if message.kind == .assign { followUps.append(.workerExited(w, reason: "not connected")) }
    } else if failure.isWouldBlock {
      logger.warning("send queue full; message dropped", metadata: ["worker.id": "\(w)"])
    } else {
      throw failure
    }
  }

  /// Serves until every trial is done or failed, or a stop signal; returns the summary.
  public func run() throws -> CoordinatorSummary {
    if router == nil { try bind() }
    guard let r = router else { return summary }
    defer {
      r.close()
      zap?.socket.close()
      display.finish()
    }
    let start = monotonicSeconds()
    let tickMs = Int(max(5, min(100, options.scheduler.heartbeatInterval * 1000 / 4)))
    var finished = scheduler.isComplete
    if finished { _ = try apply(scheduler.handle(.tick, now: start), now: start) }
    var lastTick = start
    while !finished {
      var sockets: [(ZMQSocket, PollEvents)] = [(r, .readable)]
      if let z = zap { sockets.append((z.socket, .readable)) }
      let ev = try poll(sockets, timeoutMs: tickMs)
      var now = monotonicSeconds()
      if ev.count > 1, ev[1].contains(.readable) { try zap?.handlePending() }
      if let sig = stopSignal {
        logger.notice("stop requested; shutting down workers", metadata: ["signal": "\(sig)"])
        summary.interrupted = true
        _ = try apply(
          scheduler.handle(.shutdown(reason: "coordinator interrupted"), now: now), now: now)
        break
      }
      if ev[0].contains(.readable) {
        var n = 0
        while n < 10_000, let frames = try r.receive(dontWait: true, maxFrames: 8) {
          n += 1
          guard let event = decode(frames) else { continue }
          if try apply(scheduler.handle(event, now: now), now: now) { finished = true }
        }
      }
      now = monotonicSeconds()
      var events = poller?() ?? []
      events += followUps
      followUps = []
      for e in events where !finished {
        if try apply(scheduler.handle(e, now: now), now: now) { finished = true }
      }
      if now - lastTick >= Double(tickMs) / 1000 && !finished {
        lastTick = now
        if try apply(scheduler.handle(.tick, now: now), now: now) { finished = true }
      }
      display.update(
        done: scheduler.doneCount, running: scheduler.runningCount, failed: scheduler.failedCount,
        diverged: summary.diverged, workers: scheduler.liveWorkers.count, now: now)
    }
    display.update(
      done: scheduler.doneCount, running: scheduler.runningCount, failed: scheduler.failedCount,
      diverged: summary.diverged, workers: scheduler.liveWorkers.count, now: monotonicSeconds(),
      force: true)
    summary.seconds = monotonicSeconds() - start
    if options.drainAfterFinish && !summary.interrupted { try drain(r) }
    summary.remaining = scheduler.totalCount - scheduler.doneCount - scheduler.failedCount
    return summary
  }

  /// After the sweep finished: for up to one worker deadline (at most 2 s), answers every
  /// worker that still speaks up (its `ready` crossed the scheduler's shutdown, or it connected
  /// just now) with `shutdown`, so it exits at once instead of waiting out its coordinator
  /// timeout. Every trial is done or failed by now, so a late result could only be a duplicate.
  func drain(_ r: ZMQSocket) throws {
    let until = monotonicSeconds() + min(2, options.scheduler.workerDeadline)
    var told = Set<WorkerID>()
    while monotonicSeconds() < until {
      var sockets: [(ZMQSocket, PollEvents)] = [(r, .readable)]
      if let z = zap { sockets.append((z.socket, .readable)) }
      let ev = try poll(sockets, timeoutMs: 50)
      if ev.count > 1, ev[1].contains(.readable) { try zap?.handlePending() }
      guard ev[0].contains(.readable) else { continue }
      while let frames = try r.receive(dontWait: true, maxFrames: 8) {
        guard let id = frames.first, !id.isEmpty else { continue }
        let w = WorkerID(raw: id)
        if told.insert(w).inserted {
          try send(.shutdown(ShutdownBody(reason: "sweep finished")), to: w)
        }
      }
    }
  }

  /// Decodes one ROUTER message; answers undecodable ones with `reject` and drops them.
  func decode(_ frames: [[UInt8]]) -> SchedulerEvent? {
    guard let idFrame = frames.first, !idFrame.isEmpty else { return nil }
    let w = WorkerID(raw: idFrame)
    do {
      switch try WireCodec.decode(Array(frames.dropFirst())) {
      case .ready(let b):
        hosts[w] = b.host
        return .ready(w, b)
      case .heartbeat: return .heartbeat(w)
      case .progress(let b): return .progress(w, b)
      case .result(let b): return .result(w, b)
      case let other:
        logger.warning(
          "dropped message meant for a worker",
          metadata: ["worker.id": "\(w)", "kind": "\(other.kind)"])
        return nil
      }
    } catch {
      logger.warning(
        "dropped undecodable message", metadata: ["worker.id": "\(w)", "error": "\(error)"])
      try? send(.reject(RejectBody(code: error.rejectCode, message: error.description)), to: w)
      return nil
    }
  }

  /// Performs `actions` in order; returns true once the scheduler says `finished`.
  func apply(_ actions: [SchedulerAction], now: Double) throws -> Bool {
    var finished = false
    for action in actions {
      switch action {
      case .assign(let trial, let attempt, let w):
        guard let config = configs[trial] else { continue }
        let lease = Lease(trial: trial, attempt: attempt)
        try ledger.started(lease, worker: w.description, host: hosts[w] ?? "")
        logger.debug(
          "trial assigned",
          metadata: ["trial.id": "\(trial.short)", "worker.id": "\(w)", "attempt": "\(attempt)"])
        try send(
          .assign(
            AssignBody(lease: lease, config: config, timeLimit: options.scheduler.trialTimeout)),
          to: w)
      case .ack(let lease, let w):
        try send(.ack(lease), to: w)
      case .commit(let trial, let attempt, let w, let result):
        let lease = Lease(trial: trial, attempt: attempt)
        if try ledger.commit(lease, worker: w.description, result: result) {
          summary.committed += 1
          if result.training.stopReason == .diverged { summary.diverged += 1 }
          logger.debug(
            "result committed",
            metadata: ["trial.id": "\(trial.short)", "worker.id": "\(w)", "attempt": "\(attempt)"])
        } else {
          summary.duplicates += 1
          logger.info(
            "result was a duplicate in the store",
            metadata: ["trial.id": "\(trial.short)", "worker.id": "\(w)"])
        }
      case .recordDuplicate(let trial, let attempt, let w, let reason):
        summary.duplicates += 1
        logger.notice(
          "late result recorded as duplicate",
          metadata: [
            "trial.id": "\(trial.short)", "worker.id": "\(w)", "attempt": "\(attempt)",
            "reason": "\(reason)",
          ])
        do {
          try ledger.ended(
            Lease(trial: trial, attempt: attempt), outcome: .duplicate, error: reason)
        } catch {
          logger.warning(
            "could not record duplicate",
            metadata: ["trial.id": "\(trial.short)", "error": "\(error)"])
        }
      case .endAttempt(let lease, let w, let end, let error):
        let outcome: LedgerOutcome =
          switch end {
          case .lost: .lost
          case .timedOut: .timedOut
          case .failed: .failed
          case .crashed: .crashed
          }
        logger.notice(
          "attempt ended without result",
          metadata: [
            "trial.id": "\(lease.trial.short)", "worker.id": "\(w)", "attempt": "\(lease.attempt)",
            "outcome": "\(end.rawValue)", "error": "\(error)",
          ])
        try ledger.ended(lease, outcome: outcome, error: error)
      case .requeue(let trial, _):
        logger.debug("trial requeued", metadata: ["trial.id": "\(trial.short)"])
      case .fail(let trial, let error):
        summary.failed += 1
        logger.error("trial failed", metadata: ["trial.id": "\(trial.short)", "error": "\(error)"])
        try ledger.failed(trial, error: error)
      case .cancel(let lease, let w):
        try send(.cancel(lease), to: w)
      case .heartbeat(let w):
        try send(.heartbeat, to: w)
      case .reregister(let w):
        try send(
          .reject(RejectBody(code: .unknownWorker, message: "unknown worker; send a fresh ready")),
          to: w)
      case .workerLost(let w, let reason):
        logger.warning(
          "worker declared dead", metadata: ["worker.id": "\(w)", "reason": "\(reason)"])
      case .shutdown(let w, let reason):
        try send(.shutdown(ShutdownBody(reason: reason)), to: w)
      case .finished:
        finished = true
      }
    }
    return finished
  }
}
