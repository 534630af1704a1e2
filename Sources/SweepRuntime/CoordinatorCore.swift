import Foundation
import Logging
import SweepSpec
import SweepStore
import SweepWire
import TailNet

/// What became of a send.
public enum SendStatus: Sendable, Equatable {
  /// Queued for the peer.
  case sent
  /// The peer is not connected (ROUTER_MANDATORY).
  case unreachable
  /// The peer's queue is full; the message was dropped (heartbeats and resends repair).
  case queueFull
}

/// The coordinator's side of the transport seam: messages to workers by identity. The ZeroMQ
/// ROUTER (`ZMQRouterTransport`) and the in-memory network of the runtime tests implement it.
public protocol CoordinatorTransport: AnyObject {
  /// Sends the frames of one message (without the identity frame) to `worker`.
  func send(_ frames: [[UInt8]], to worker: WorkerID) throws -> SendStatus
}

/// The worker's side of the transport seam: one connection to the coordinator.
public protocol WorkerTransport: AnyObject {
  /// Sends the frames of one message to the coordinator.
  func send(_ frames: [[UInt8]]) throws -> SendStatus
  /// Drops the connection and connects again (a fresh registration follows).
  func reconnect() throws
}

/// Where the coordinator records attempts and results durably (the store, single writer). A
/// method that throws means the store cannot take writes: the coordinator stops handing out
/// work, acknowledges nothing more, and tells workers to hold their results.
public protocol CoordinatorLedger: AnyObject {
  /// A lease was handed out.
  func started(_ lease: Lease, worker: String, host: String) throws
  /// A lease ended without becoming the trial's result.
  func ended(_ lease: Lease, outcome: AttemptOutcome, error: String?) throws
  /// The result of a lease (durable when this returns); true if it became the trial's result.
  func commit(_ lease: Lease, worker: String, host: String, result: TrialResult) throws -> Bool
  /// The trial gave up after its retry cap.
  func failed(_ trial: TrialID, error: String) throws
  /// Group commit: runs `body`, whose ledger calls must become durable together when this
  /// returns (one transaction, one sync), or not at all when it throws (and then nothing of
  /// the batch is kept). The default runs `body` alone: every call is durable by itself.
  func inBatch(_ body: () throws -> Void) throws
  /// The latest progress of open leases (for `status` and the live view; display only),
  /// recorded inside a batch at most every `CoordinatorCore.progressInterval` seconds.
  func progress(_ entries: [AttemptProgress]) throws
  /// The liveness of workers heard from (or gone) since the last recording (for `status` and
  /// the live view; display only), recorded inside a batch at most every
  /// `CoordinatorCore.workerInterval` seconds, and once more when the run ends.
  func workers(_ entries: [WorkerLiveness]) throws
}

extension CoordinatorLedger {
  /// Every call is durable by itself: nothing to group.
  public func inBatch(_ body: () throws -> Void) throws { try body() }
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
  /// The lease that was running when the previous coordinator stopped, and its worker (the
  /// trial is held for it a while: `SchedulerSettings.interruptedHold`).
  public var interrupted: InterruptedLease?
  /// Creates a trial entry.
  public init(
    id: TrialID, config: TrialConfig, cost: Double, previousAttempts: Int,
    interrupted: InterruptedLease? = nil
  ) {
    self.interrupted = interrupted
    self.id = id
    self.config = config
    self.cost = cost
    self.previousAttempts = previousAttempts
  }
}

/// What a coordinator run did.
public struct CoordinatorSummary: Sendable, Equatable {
  /// Results committed in this run.
  public var committed = 0
  /// Late or repeated results recorded as duplicates.
  public var duplicates = 0
  /// Results refused (invalid numbers, wrong work, wrong data, too large).
  public var refused = 0
  /// Trials failed after the retry cap.
  public var failed = 0
  /// Committed results whose training diverged.
  public var diverged = 0
  /// Trials still without a result (interrupted runs).
  public var remaining = 0
  /// Whether a stop signal ended the run.
  public var interrupted = false
  /// Why the store stopped taking writes, if it did (the run stopped there).
  public var storeFailure: String?
  /// Why local workers could not be kept running, if that stopped the run.
  public var workersExhausted: String?
  /// Seconds from the first assignment to the end.
  public var seconds = 0.0
}

/// The coordinator without I/O of its own: decodes frames, feeds the scheduler, performs its
/// actions on a ledger and a transport. `CoordinatorLoop` drives it with a ZeroMQ ROUTER and
/// the real clock; the runtime tests drive it with an in-memory network and a fake clock.
public final class CoordinatorCore {
  /// The scheduler (read it for progress).
  public private(set) var scheduler: Scheduler
  let ledger: CoordinatorLedger
  let transport: CoordinatorTransport
  let logger: Logger
  var hosts: [WorkerID: String] = [:]
  var followUps: [SchedulerEvent] = []
  /// Inside `batch(_:)`: messages wait here until the batch is durable.
  var outbox: [(WireMessage, WorkerID)]?
  /// The time of the latest event (for follow-ups of a batch).
  var lastNow = 0.0
  /// Called after a batch became durable and before anything it held back is sent, with the
  /// number of results it committed (testing aid: the chaos runner kills the coordinator
  /// there, between commit and ack).
  public var afterDurableBatch: ((Int) -> Void)?
  /// What this run did so far.
  public private(set) var summary = CoordinatorSummary()
  /// Whether the scheduler said `finished` (or the store failed).
  public private(set) var finished = false

  /// A coordinator for `trials` under `settings`.
  public init(
    trials: [CoordinatorTrial], settings: SchedulerSettings, ledger: CoordinatorLedger,
    transport: CoordinatorTransport, logger: Logger
  ) {
    self.scheduler = Scheduler(
      trials: trials.map {
        SchedulerTrial(
          id: $0.id, cost: $0.cost, previousAttempts: $0.previousAttempts, config: $0.config,
          interrupted: $0.interrupted)
      }, settings: settings)
    self.ledger = ledger
    self.transport = transport
    self.logger = logger
  }

  /// One message from `worker` (frames without the identity frame), arrived at `now`.
  public func receive(_ frames: [[UInt8]], from worker: WorkerID, now: Double) {
    guard !finished else { return }
    let event: SchedulerEvent
    do {
      switch try WireCodec.decode(frames) {
      case .ready(let b):
        hosts[worker] = b.host
        event = .ready(worker, b)
      case .heartbeat(let st): event = .heartbeat(worker, st)
      case .progress(let b): event = .progress(worker, b)
      case .result(let b): event = .result(worker, b)
      case let other:
        logger.warning(
          "dropped message meant for a worker",
          metadata: ["worker.id": "\(worker)", "kind": "\(other.kind)"])
        return
      }
    } catch {
      logger.warning(
        "dropped undecodable message", metadata: ["worker.id": "\(worker)", "error": "\(error)"])
      switch error {
      case .bodyTooLarge(.result, let size, _):
        let lease = frames.count == 3 ? WireCodec.leaseHint(ofResultBody: frames[2]) : nil
        handle(.oversizedResult(worker, lease, size: size), now: now)
      case .unsupportedVersion(let got, _):
        // Answer in the peer's own framing so that it can read why and exit.
        let body = RejectBody(code: .unsupportedVersion, message: error.description)
        _ = try? transport.send(WireCodec.encodeReject(body, version: got), to: worker)
      default:
        _ = try? transport.send(
          WireCodec.encode(.reject(RejectBody(code: error.rejectCode, message: error.description))),
          to: worker)
      }
      return
    }
    handle(event, now: now)
  }

  /// Group commit: handles what `body` feeds in (messages, ticks, exits) with every ledger
  /// change in one durable batch (`CoordinatorLedger.inBatch`), and holds back every message
  /// to workers (acknowledgements above all, but also assignments, whose attempt rows must be
  /// durable first) until the batch is durable. If the batch cannot be made durable, none of
  /// it is kept and nothing held back is sent: the store failed, workers are told to hold
  /// their results, and the run stops (their results are resent to the next coordinator).
  public func batch(_ body: () -> Void) {
    guard !finished, outbox == nil else {
      body()
      return
    }
    outbox = []
    let before = summary
    var failure: String?
    do {
      try ledger.inBatch {
        body()
        recordProgress()
        recordWorkers()
        // A ledger call failed inside: roll back the whole batch (nothing of it was sent).
        if summary.storeFailure != nil { throw BatchAborted() }
      }
    } catch is BatchAborted {
    } catch {
      failure = "\(error)"
    }
    let held = outbox ?? []
    outbox = nil
    if let reason = failure ?? summary.storeFailure {
      // Counts of the batch did not happen; the failure did.
      var s = before
      s.storeFailure = reason
      summary = s
      if failure != nil { storeFailed(reason, now: lastNow) }
      return
    }
    afterDurableBatch?(summary.committed - before.committed)
    for (message, worker) in held { deliver(message, to: worker) }
    runFollowUps(now: lastNow)
  }

  struct BatchAborted: Error {}

  /// Seconds between two recordings of lease progress in the ledger.
  public static let progressInterval = 1.0
  /// When progress was last recorded (scheduler clock); reports after it are new.
  var progressRecordedAt = -Double.infinity

  /// Inside a batch: hands the ledger the progress reports that arrived since the last
  /// recording, at most every `progressInterval` seconds, so that a store sees about one
  /// update per running lease and second whatever the workers' report rate. A failure here
  /// fails the batch like any ledger call (the store cannot take writes).
  func recordProgress() {
    let now = lastNow
    guard summary.storeFailure == nil, now - progressRecordedAt >= Self.progressInterval else {
      return
    }
    let reports = scheduler.progressReports(after: progressRecordedAt)
    progressRecordedAt = now
    guard !reports.isEmpty else { return }
    let wallNow = Date()
    let entries = reports.map { r in
      AttemptProgress(
        trial: r.progress.lease.trial, attempt: r.progress.lease.attempt,
        iteration: r.progress.iteration, maxIterations: r.progress.maxIterations,
        at: wallNow.addingTimeInterval(r.at - now))
    }
    do {
      try ledger.progress(entries)
    } catch {
      storeFailed("\(error)", now: now)
    }
  }

  /// Seconds between two recordings of worker liveness in the ledger.
  public static let workerInterval = 1.0
  /// When worker liveness was last recorded (scheduler clock); workers heard from after it
  /// are recorded at the next recording.
  var workersRecordedAt = -Double.infinity
  /// What was last recorded of each worker not recorded as gone (to notice who left).
  var recordedWorkers: [WorkerID: WorkerLiveness] = [:]

  /// Inside a batch: hands the ledger every worker heard from since the last recording (one
  /// entry per worker, however many messages it sent) and every recorded worker the scheduler
  /// no longer knows (gone), at most every `workerInterval` seconds: with W heartbeating
  /// workers, about W row updates a second in the batch's one transaction, never one per
  /// message. A failure fails the batch like any ledger call.
  func recordWorkers() {
    let now = lastNow
    guard summary.storeFailure == nil, now - workersRecordedAt >= Self.workerInterval else {
      return
    }
    let since = workersRecordedAt
    workersRecordedAt = now
    let wallNow = Date()
    let sightings = scheduler.workerSightings(after: since, now: now)
    var entries = sightings.map { w in
      WorkerLiveness(
        worker: w.worker.description, host: w.host, slots: w.slots,
        registeredAt: wallNow.addingTimeInterval(w.registeredAt - now),
        lastSeen: wallNow.addingTimeInterval(w.lastSeen - now),
        state: w.quarantined ? .quarantined : .active)
    }
    for (w, e) in zip(sightings, entries) { recordedWorkers[w.worker] = e }
    for (id, last) in recordedWorkers where !scheduler.isKnown(id) {
      var gone = last
      gone.state = .gone
      entries.append(gone)
      recordedWorkers[id] = nil
    }
    guard !entries.isEmpty else { return }
    do {
      try ledger.workers(entries)
    } catch {
      storeFailed("\(error)", now: now)
    }
  }

  /// The run is over: records every worker still recorded as present as gone (it was told to
  /// stop, or will find no coordinator). Nothing when the store failed.
  public func recordWorkersGone() {
    guard summary.storeFailure == nil, !recordedWorkers.isEmpty else { return }
    let entries = recordedWorkers.values.map { w -> WorkerLiveness in
      var gone = w
      gone.state = .gone
      return gone
    }
    recordedWorkers = [:]
    do {
      try ledger.inBatch { try ledger.workers(entries) }
    } catch {
      logger.warning("could not record the workers as gone", metadata: ["error": "\(error)"])
    }
  }

  /// Time passed; `drained`: every message that arrived by `now` was handled.
  public func tick(now: Double, drained: Bool) { handle(.tick(drained: drained), now: now) }

  /// A local worker process exited.
  public func workerExited(_ worker: WorkerID, reason: String, now: Double) {
    handle(.workerExited(worker, reason: reason), now: now)
  }

  /// Stop now: end attempts in flight, tell workers to exit.
  public func shutdown(reason: String, now: Double) {
    handle(.shutdown(reason: reason), now: now)
  }

  func handle(_ event: SchedulerEvent, now: Double) {
    guard !finished else { return }
    lastNow = now
    perform(scheduler.handle(event, now: now), now: now)
    runFollowUps(now: now)
  }

  func runFollowUps(now: Double) {
    while !followUps.isEmpty && !finished {
      let next = followUps.removeFirst()
      perform(scheduler.handle(next, now: now), now: now)
    }
  }

  /// Sends now, or when a batch is open, once it is durable.
  func send(_ message: WireMessage, to w: WorkerID) {
    if outbox != nil {
      outbox?.append((message, w))
      return
    }
    deliver(message, to: w)
  }

  func deliver(_ message: WireMessage, to w: WorkerID) {
    let status: SendStatus
    do { status = try transport.send(WireCodec.encode(message), to: w) } catch {
      logger.warning("send failed", metadata: ["worker.id": "\(w)", "error": "\(error)"])
      return
    }
    switch status {
    case .sent: break
    case .unreachable:
      logger.debug(
        "worker unreachable", metadata: ["worker.id": "\(w)", "kind": "\(message.kind)"])
      if case .assign(let body) = message { followUps.append(.undelivered(w, body.lease)) }
    case .queueFull:
      logger.warning("send queue full; message dropped", metadata: ["worker.id": "\(w)"])
    }
  }

  /// Performs `actions` in order. A ledger failure stops here: nothing after it (no ack) is
  /// performed, and the scheduler is told that the store failed.
  func perform(_ actions: [SchedulerAction], now: Double) {
    for action in actions {
      do {
        try perform(action, now: now)
      } catch {
        storeFailed("\(error)", now: now)
        return
      }
    }
  }

  /// The store cannot take writes: nothing more is acknowledged (messages held back for an
  /// open batch are dropped), every worker is told to hold its results, and the run stops.
  func storeFailed(_ reason: String, now: Double) {
    summary.storeFailure = reason
    logger.critical("the store cannot take writes; stopping", metadata: ["error": "\(reason)"])
    followUps = []
    if outbox != nil { outbox = [] }
    let stop = scheduler.handle(
      .storeFailed(reason: "the coordinator's store failed: \(reason)"), now: now)
    for a in stop {
      if case .shutdown(let w, let r, let hold) = a {
        deliver(.shutdown(ShutdownBody(reason: r, hold: hold)), to: w)
      }
    }
    finished = true
  }

  func perform(_ action: SchedulerAction, now: Double) throws {
    switch action {
    case .assign(let lease, let w, let seq, let resend):
      // The scheduler holds each trial's config (one copy of the trial list, not two).
      guard let config = scheduler.config(of: lease.trial) else { return }
      if !resend {
        try ledger.started(lease, worker: w.description, host: hosts[w] ?? "")
        logger.debug(
          "trial assigned",
          metadata: [
            "trial.id": "\(lease.trial.short)", "worker.id": "\(w)", "attempt": "\(lease.attempt)",
          ])
      }
      send(
        .assign(
          AssignBody(
            lease: lease, config: config, timeLimit: scheduler.settings.trialTimeout,
            epoch: scheduler.settings.epoch, seq: seq)), to: w)
    case .ack(let lease, let w):
      send(.ack(lease), to: w)
    case .commit(let lease, let w, let result):
      if try ledger.commit(lease, worker: w.description, host: hosts[w] ?? "", result: result) {
        summary.committed += 1
        if result.training.stopReason == .diverged { summary.diverged += 1 }
        logger.debug(
          "result committed",
          metadata: [
            "trial.id": "\(lease.trial.short)", "worker.id": "\(w)", "attempt": "\(lease.attempt)",
          ])
      } else {
        summary.duplicates += 1
        logger.info(
          "result was a duplicate in the store",
          metadata: ["trial.id": "\(lease.trial.short)", "worker.id": "\(w)"])
      }
    case .endAttempt(let lease, let w, let outcome, let error):
      if outcome == .duplicate { summary.duplicates += 1 }
      logger.notice(
        outcome == .duplicate
          ? "late result recorded as duplicate" : "attempt ended without result",
        metadata: [
          "trial.id": "\(lease.trial.short)", "worker.id": "\(w)", "attempt": "\(lease.attempt)",
          "outcome": "\(outcome.rawValue)", "error": "\(error)",
        ])
      try ledger.ended(lease, outcome: outcome, error: error)
    case .requeue(let trial, let reason):
      logger.debug(
        "trial requeued", metadata: ["trial.id": "\(trial.short)", "reason": "\(reason)"])
    case .fail(let trial, let error):
      summary.failed += 1
      logger.error("trial failed", metadata: ["trial.id": "\(trial.short)", "error": "\(error)"])
      try ledger.failed(trial, error: error)
    case .cancel(let lease, let w):
      send(.cancel(lease), to: w)
    case .heartbeat(let w):
      send(.heartbeat(nil), to: w)
    case .reject(let w, let body):
      if body.code != .unknownWorker {
        summary.refused += body.lease == nil ? 0 : 1
        logger.error(
          "refused",
          metadata: [
            "worker.id": "\(w)", "code": "\(body.code.rawValue)", "reason": "\(body.message)",
          ])
      }
      send(.reject(body), to: w)
    case .workerLost(let w, let reason):
      logger.warning(
        "worker declared dead", metadata: ["worker.id": "\(w)", "reason": "\(reason)"])
    case .quarantined(let w, let until, let reason):
      logger.warning(
        "worker quarantined",
        metadata: ["worker.id": "\(w)", "reason": "\(reason)", "for.s": "\(Int(until - now))"])
    case .shutdown(let w, let reason, let hold):
      send(.shutdown(ShutdownBody(reason: reason, hold: hold)), to: w)
    case .finished:
      finished = true
    }
  }
}
