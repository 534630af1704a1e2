import Foundation
import Logging
import SweepSpec
import SweepWire
import TailNet
import ZeroMQ

/// Coordinator settings.
public struct CoordinatorOptions: Sendable {
  /// Endpoints to bind (e.g. `tcp://*:5555`, `ipc:///run/x.sock`).
  public var endpoints: [String]
  /// Heartbeat interval, liveness, retry cap, wall-time limit and verification rules.
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

/// The ZeroMQ ROUTER as the coordinator's transport.
final class ZMQRouterTransport: CoordinatorTransport {
  let socket: ZMQSocket
  init(socket: ZMQSocket) { self.socket = socket }
  func send(_ frames: [[UInt8]], to worker: WorkerID) throws -> SendStatus {
    do {
      try socket.send([worker.raw] + frames, dontWait: true)
      return .sent
    } catch {
      if error.isHostUnreachable { return .unreachable }
      if error.isWouldBlock { return .queueFull }
      throw error
    }
  }
}

/// The coordinator loop: owns the ROUTER (and the ZAP socket) on the calling thread and
/// drives a `CoordinatorCore` with them and the real clock: poll → handle → perform. It is the
/// single writer of the store.
public final class CoordinatorLoop {
  let options: CoordinatorOptions
  let logger: Logger
  var ledger: CoordinatorLedger?
  let context: ZMQContext
  /// The trials given to `load`, until the core (its scheduler) holds them.
  var trials: [CoordinatorTrial]
  var router: ZMQSocket?
  var zap: ZAPAllowList?
  var core: CoordinatorCore?
  var display: ProgressDisplay
  /// Called every loop turn: the local supervisor returns exited workers here, or a reason to
  /// stop when it can no longer keep any worker running.
  public var poller: (() -> SupervisorReport)?
  /// Number of trials this coordinator serves.
  public private(set) var trialCount = 0
  /// The endpoints actually bound (wildcard ports resolved).
  public private(set) var boundEndpoints: [String] = []

  /// Prepares a coordinator; give it its trials and ledger with `load(trials:ledger:)` (after
  /// `bind()`, so that a coordinator that cannot bind never touches the store).
  public init(options: CoordinatorOptions, logger: Logger) throws {
    self.options = options
    self.logger = logger
    self.trials = []
    self.context = try ZMQContext()
    self.display = ProgressDisplay(style: options.progress, total: 0)
  }

  /// The trials to serve and where to record them. After `bind()`, the scheduler is built
  /// here (O(T log T) for T trials: seconds for a million), before any worker is started, so
  /// that no worker waits through it for its first answer.
  public func load(trials: [CoordinatorTrial], ledger: CoordinatorLedger) {
    self.trials = trials
    self.ledger = ledger
    trialCount = trials.count
    display = ProgressDisplay(style: options.progress, total: trials.count)
    if let r = router { core = makeCore(router: r, ledger: ledger) }
  }

  func makeCore(router r: ZMQSocket, ledger: CoordinatorLedger) -> CoordinatorCore {
    let c = CoordinatorCore(
      trials: trials, settings: options.scheduler, ledger: ledger,
      transport: ZMQRouterTransport(socket: r), logger: logger)
    // The scheduler has them now: no second copy of the trial list for the whole run.
    trials = []
    return c
  }

  /// Binds the ROUTER (and the ZAP handler first, when CURVE is on); returns the endpoints.
  @discardableResult
  public func bind() throws -> [String] {
    if options.serverKeys != nil {
      let z = try ZAPAllowList(context: context, allowed: options.allowedKeys)
      // A worker speaks only under a routing id with its own key's tag, whoever comes first.
      z.routingIDSuffix = { curveRoutingTag(publicKey: $0) }
      let log = logger
      z.onIdentityRefused = { refusal in
        log.warning(
          "message refused: routing id of another key", metadata: ["refusal": "\(refusal)"])
      }
      z.onDecision = { key, address, ok in
        if ok {
          log.debug("worker key accepted", metadata: ["key": "\(key)", "peer": "\(address)"])
        } else {
          log.warning("worker key refused", metadata: ["key": "\(key)", "peer": "\(address)"])
        }
      }
      zap = z
    }
    let r = try ZMQSocket(context: context, type: .router, linger: 500)
    try r.setRouterMandatory(true)
    // Without CURVE, a reconnecting worker takes its routing id over from its stale
    // connection at once. With CURVE, no connection may take over a routing id in use: a second
    // allowed key presenting a connected worker's id is dropped by libzmq before it can
    // receive that worker's messages (ZAP cannot see the routing id, zeromq/libzmq#4161). A
    // stale connection then blocks its own worker's reconnect only until transport heartbeats
    // (below) drop it, within the liveness deadline.
    try r.setRouterHandover(options.serverKeys == nil)
    if options.serverKeys != nil {
      let hbMs = Int32(max(10, options.scheduler.heartbeatInterval * 1000))
      try r.setTransportHeartbeat(
        intervalMs: hbMs, timeoutMs: Int32(max(30, options.scheduler.workerDeadline * 1000)))
    }
    // Bodies up to 16× the result limit reach the codec, which refuses them with a reason the
    // attempt is closed with; beyond that libzmq drops the connection (hostile peers).
    try r.setMaxMessageSize(Int64(16 * wireMaxResultBody))
    try r.setSendHighWaterMark(100_000)
    try r.setReceiveHighWaterMark(100_000)
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

  func update(_ c: CoordinatorCore, now: Double, force: Bool = false) {
    var leading: ProgressDisplay.Leading?
    if c.scheduler.doneCount + c.scheduler.failedCount == 0, let l = c.scheduler.leadingProgress {
      leading = ProgressDisplay.Leading(
        trial: l.progress.lease.trial.short, iteration: l.progress.iteration,
        maxIterations: l.progress.maxIterations, seconds: now - l.since)
    }
    display.update(
      done: c.scheduler.doneCount, running: c.scheduler.runningCount,
      failed: c.scheduler.failedCount, diverged: c.summary.diverged,
      workers: c.scheduler.liveWorkerCount, now: now, force: force, leading: leading)
  }

  /// At most this many messages, and this many seconds of handling, per group commit.
  static let batchLimit = 4096
  static let batchSeconds = 0.02

  /// The worker a ROUTER message came from; nil for routing ids that no worker has:
  /// - ids starting with a zero byte are libzmq's own: it gives one to a connection that a
  ///   newer connection with the same id replaced (ROUTER_HANDOVER);
  /// - one-byte ids: without handover (CURVE), libzmq leaves a second connection presenting an
  ///   id in use without a route (`aDuplicateWithoutHandoverGetsNoRoute`); its router code would
  ///   take the first frame of a later message (our one-byte version frame) as that
  ///   connection's id.
  /// Workers always set theirs, of 2–255 bytes, so what arrives under these is stale or
  /// misframed: dropped. (Its worker hears nothing, reconnects after its deadline, and by then
  /// its old connection is gone.)
  static func sender(of frames: [[UInt8]]) -> WorkerID? {
    guard let id = frames.first, id.count >= 2, id[0] != 0 else { return nil }
    return WorkerID(raw: id)
  }

  /// Serves until every trial is done or failed, a stop signal, or a store failure; returns
  /// the summary.
  public func run() throws -> CoordinatorSummary {
    if router == nil { try bind() }
    guard let r = router, let ledger else { return CoordinatorSummary() }
    defer {
      r.close()
      zap?.socket.close()
      display.finish()
    }
    let c = core ?? makeCore(router: r, ledger: ledger)
    core = c
    // Testing aid (tailsweep chaos): TAILSWEEP_CRASH_AFTER_COMMITS=N kills this process with
    // SIGKILL right after the N-th durable batch that committed results, before its acks leave.
    if let n = ProcessInfo.processInfo.environment["TAILSWEEP_CRASH_AFTER_COMMITS"]
      .flatMap({ Int($0) }), n > 0
    {
      var seen = 0
      c.afterDurableBatch = { committed in
        guard committed > 0 else { return }
        seen += 1
        if seen >= n { kill(getpid(), SIGKILL) }
      }
    }
    let start = monotonicSeconds()
    let tickMs = Int(max(5, min(100, options.scheduler.heartbeatInterval * 1000 / 4)))
    c.tick(now: start, drained: true)
    var lastTick = start
    var interrupted = false
    var exhausted: String?
    while !c.finished {
      var sockets: [(ZMQSocket, PollEvents)] = [(r, .readable)]
      if let z = zap { sockets.append((z.socket, .readable)) }
      let ev = try poll(sockets, timeoutMs: tickMs)
      if ev.count > 1, ev[1].contains(.readable) { try zap?.handlePending() }
      if let sig = stopSignal {
        logger.notice("stop requested; shutting down workers", metadata: ["signal": "\(sig)"])
        interrupted = true
        c.shutdown(reason: "coordinator interrupted", now: monotonicSeconds())
        break
      }
      // One turn is one group commit: everything it handles is made durable together, then
      // the acknowledgements (and every other message of the turn) go out. A turn takes at
      // most `batchLimit` messages and `batchSeconds` of handling, which bounds how long a
      // worker waits for its ack.
      // Each message is stamped when it is taken off the socket: liveness is measured from
      // arrival, and silence counts only after the backlog is drained.
      var drained = !ev[0].contains(.readable)
      var failure: (any Error)?
      c.batch {
        do {
          if !drained {
            let turnStart = monotonicSeconds()
            var n = 0
            while !c.finished {
              if n >= Self.batchLimit || monotonicSeconds() - turnStart > Self.batchSeconds {
                break
              }
              guard let message = try r.receiveMessage(dontWait: true, maxFrames: 8) else {
                drained = true
                break
              }
              n += 1
              let frames = message.frames
              guard let w = Self.sender(of: frames) else { continue }
              // With CURVE, a routing id belongs to the first key seen with it: another
              // allowed key cannot speak for that worker.
              if let z = zap, !z.admit(routingID: w.raw, userID: message.userID) { continue }
              c.receive(Array(frames.dropFirst()), from: w, now: monotonicSeconds())
            }
          }
          var now = monotonicSeconds()
          if let report = poller?() {
            for (w, reason) in report.exited where !c.finished {
              c.workerExited(w, reason: reason, now: now)
            }
            if let why = report.exhausted, !c.finished {
              exhausted = why
              logger.error(
                "no local worker can be kept running; stopping", metadata: ["reason": "\(why)"])
              c.shutdown(reason: why, now: now)
              return
            }
          }
          now = monotonicSeconds()
          if now - lastTick >= Double(tickMs) / 1000 && !c.finished {
            lastTick = now
            c.tick(now: now, drained: drained)
          }
        } catch {
          failure = error
        }
      }
      if let failure { throw failure }
      if exhausted != nil { break }
      let now = monotonicSeconds()
      update(c, now: now)
    }
    update(c, now: monotonicSeconds(), force: true)
    c.recordWorkersGone()
    var summary = c.summary
    summary.interrupted = interrupted
    summary.workersExhausted = exhausted
    summary.seconds = monotonicSeconds() - start
    if options.drainAfterFinish && !interrupted && summary.storeFailure == nil { try drain(r) }
    summary.remaining =
      c.scheduler.totalCount - c.scheduler.doneCount - c.scheduler.failedCount
    return summary
  }

  /// After the sweep finished: for up to one worker deadline (at most 2 s), answers every
  /// worker that still speaks up (its `ready` crossed the scheduler's shutdown, or it connected
  /// just now) with `shutdown`, so it exits at once instead of waiting out its coordinator
  /// timeout. Every trial is done or failed by now, so a late result could only be a duplicate.
  func drain(_ r: ZMQSocket) throws {
    let until = monotonicSeconds() + min(2, options.scheduler.workerDeadline)
    var told = Set<WorkerID>()
    let transport = ZMQRouterTransport(socket: r)
    while monotonicSeconds() < until {
      var sockets: [(ZMQSocket, PollEvents)] = [(r, .readable)]
      if let z = zap { sockets.append((z.socket, .readable)) }
      let ev = try poll(sockets, timeoutMs: 50)
      if ev.count > 1, ev[1].contains(.readable) { try zap?.handlePending() }
      guard ev[0].contains(.readable) else { continue }
      while let frames = try r.receive(dontWait: true, maxFrames: 8) {
        guard let w = Self.sender(of: frames) else { continue }
        if told.insert(w).inserted {
          _ = try transport.send(
            WireCodec.encode(.shutdown(ShutdownBody(reason: "sweep finished"))), to: w)
        }
      }
    }
  }
}

/// What the local supervisor saw since the last poll.
public struct SupervisorReport: Sendable {
  /// Workers whose process exited, with why.
  public var exited: [(WorkerID, String)] = []
  /// Set when no worker is left and none may be restarted: the run cannot go on.
  public var exhausted: String?
  /// An empty report.
  public init(exited: [(WorkerID, String)] = [], exhausted: String? = nil) {
    self.exited = exited
    self.exhausted = exhausted
  }
}
