import SweepSpec
import TailNet

/// Timing and retry rules of the coordinator.
public struct SchedulerSettings: Hashable, Sendable {
  /// Seconds between application heartbeats (both ways).
  public var heartbeatInterval: Double
  /// A worker silent for `liveness × heartbeatInterval` seconds is declared dead.
  public var liveness: Int
  /// Attempts a trial may use in this run (retries + 1); then it fails with the last error.
  public var maxAttempts: Int
  /// Wall-time limit of one attempt, seconds.
  public var trialTimeout: Double

  /// Creates settings.
  public init(heartbeatInterval: Double, liveness: Int, maxAttempts: Int, trialTimeout: Double) {
    self.heartbeatInterval = heartbeatInterval
    self.liveness = max(1, liveness)
    self.maxAttempts = max(1, maxAttempts)
    self.trialTimeout = trialTimeout
  }

  /// Seconds of silence after which a worker is declared dead.
  public var workerDeadline: Double { heartbeatInterval * Double(liveness) }
}

/// A trial the scheduler should run.
public struct SchedulerTrial: Hashable, Sendable {
  /// The trial.
  public var id: TrialID
  /// Relative cost (from the sweep): larger runs first, so the sweep's tail is short.
  public var cost: Double
  /// Attempts already recorded in the store (attempt numbers continue after them).
  public var previousAttempts: Int
  /// Creates a trial entry.
  public init(id: TrialID, cost: Double, previousAttempts: Int = 0) {
    self.id = id
    self.cost = cost
    self.previousAttempts = previousAttempts
  }
}

/// How an attempt ended without a committed result.
public enum AttemptEnd: String, Hashable, Sendable {
  /// The worker went silent past its deadline (or the coordinator shut down).
  case lost
  /// The wall-time limit passed (or the worker cancelled the trial).
  case timedOut = "timed_out"
  /// The worker reported an error.
  case failed
  /// The worker process exited while holding the lease.
  case crashed
}

/// What happened: fed to `Scheduler.handle(_:now:)`.
public enum SchedulerEvent: Hashable, Sendable {
  /// A `ready` message.
  case ready(WorkerID, ReadyBody)
  /// A `heartbeat` message.
  case heartbeat(WorkerID)
  /// A `progress` message.
  case progress(WorkerID, ProgressBody)
  /// A `result` message.
  case result(WorkerID, ResultBody)
  /// The local supervisor saw the worker's process exit.
  case workerExited(WorkerID, reason: String)
  /// Time passed (call at least every heartbeat interval).
  case tick
  /// Stop: shut workers down, end attempts in flight.
  case shutdown(reason: String)
}

/// What the coordinator loop must do, in order.
public enum SchedulerAction: Hashable, Sendable {
  /// Send `assign` for `trial` with this attempt number to `worker` (and record the start).
  case assign(TrialID, attempt: Int, to: WorkerID)
  /// Send `ack` of `lease` to `worker` (after the actions before it are durable).
  case ack(Lease, to: WorkerID)
  /// Commit this result durably: it is the one result of the trial.
  case commit(TrialID, attempt: Int, worker: WorkerID, TrialResult)
  /// Record a result that does not count (late, or from an attempt already ended).
  case recordDuplicate(TrialID, attempt: Int, worker: WorkerID, reason: String)
  /// Record that an attempt ended without a result.
  case endAttempt(Lease, worker: WorkerID, AttemptEnd, error: String)
  /// The trial goes back to the queue (informational: the store learns it from `endAttempt`).
  case requeue(TrialID, reason: String)
  /// The trial used all its attempts: mark it failed with the last error.
  case fail(TrialID, error: String)
  /// Send `cancel` of `lease` to `worker`.
  case cancel(Lease, worker: WorkerID)
  /// Send a heartbeat to `worker`.
  case heartbeat(WorkerID)
  /// Send `reject(unknown_worker)`: the worker must register again.
  case reregister(WorkerID)
  /// The worker is declared dead and forgotten (for logs).
  case workerLost(WorkerID, reason: String)
  /// Send `shutdown` to `worker`.
  case shutdown(WorkerID, reason: String)
  /// Every trial is done or failed (or shutdown was requested): the loop may stop.
  case finished
}

/// The coordinator's pure state machine: events in, actions out, time a parameter (seconds on
/// any monotonic clock). It knows no sockets, files or clocks. Rules:
/// - every assignment is a lease (trial, attempt); attempt numbers grow per trial;
/// - a result counts only for the current lease of an unfinished trial, from its holder;
///   any other result is acknowledged and recorded as a duplicate (never committed);
/// - a worker silent past `liveness × heartbeatInterval` loses its leases (requeued);
/// - an attempt past `trialTimeout` is cancelled and requeued;
/// - a trial that used `maxAttempts` attempts fails with the last error;
/// - pending trials are handed out by decreasing cost (ties: trial id).
public struct Scheduler: Sendable {
  enum Status: Hashable, Sendable {
    case pending
    case leased(Lease, WorkerID, since: Double)
    case done(attempt: Int)
    case failed
  }

  struct Trial: Hashable, Sendable {
    var cost: Double
    var nextAttempt: Int
    var attemptsThisRun = 0
    var status: Status = .pending
    var lastError: String?
  }

  struct Worker: Hashable, Sendable {
    var credits: Int
    var leases: Set<Lease> = []
    var lastSeen: Double
    var lastHeartbeatSent: Double
    var host: String
  }

  /// The rules in force.
  public let settings: SchedulerSettings
  var trials: [TrialID: Trial] = [:]
  /// Pending trials, highest cost first.
  var queue: [TrialID] = []
  var workers: [WorkerID: Worker] = [:]
  var stopping = false
  var finishedAnnounced = false

  /// A scheduler for `trials` (duplicates by id are ignored).
  public init(trials: [SchedulerTrial], settings: SchedulerSettings) {
    self.settings = settings
    for t in trials where self.trials[t.id] == nil {
      self.trials[t.id] = Trial(cost: t.cost, nextAttempt: t.previousAttempts + 1)
      queue.append(t.id)
    }
    let sorted = queue.sorted { a, b in before(a, b) }
    queue = sorted
  }

  func before(_ a: TrialID, _ b: TrialID) -> Bool {
    let ca = trials[a]?.cost ?? 0
    let cb = trials[b]?.cost ?? 0
    return ca != cb ? ca > cb : a < b
  }

  // MARK: Queries

  /// Trials waiting for a worker, in the order they will be handed out.
  public var pendingTrials: [TrialID] { queue }
  /// Number of trials leased now.
  public var runningCount: Int {
    trials.values.count { if case .leased = $0.status { true } else { false } }
  }
  /// Number of trials with a committed result.
  public var doneCount: Int {
    trials.values.count { if case .done = $0.status { true } else { false } }
  }
  /// Number of trials that used all their attempts.
  public var failedCount: Int { trials.values.count { $0.status == .failed } }
  /// Number of trials in total.
  public var totalCount: Int { trials.count }
  /// Workers known (registered and not declared dead).
  public var liveWorkers: [WorkerID] { workers.keys.sorted() }
  /// Host name a worker gave when registering.
  public func host(of worker: WorkerID) -> String? { workers[worker]?.host }
  /// The current lease of `trial` and its holder, if leased.
  public func lease(of trial: TrialID) -> (Lease, WorkerID)? {
    if case .leased(let l, let w, _)? = trials[trial]?.status { return (l, w) }
    return nil
  }
  /// Whether every trial is done or failed.
  public var isComplete: Bool { queue.isEmpty && runningCount == 0 }

  // MARK: Events

  /// Applies `event` at time `now` and returns the actions to perform, in order.
  public mutating func handle(_ event: SchedulerEvent, now: Double) -> [SchedulerAction] {
    var out: [SchedulerAction] = []
    switch event {
    case .ready(let w, let body):
      if var worker = workers[w] {
        worker.lastSeen = now
        if body.fresh {
          // Registering again while known: the worker's free slots, minus leases sent to it
          // that it had not yet seen when it wrote this message (no double counting).
          let unseen = worker.leases.subtracting(body.running).count
          worker.credits = max(0, body.credits - unseen)
        } else {
          worker.credits = min(64, worker.credits + body.credits)
        }
        workers[w] = worker
      } else if body.fresh {
        workers[w] = Worker(
          credits: body.credits, lastSeen: now, lastHeartbeatSent: now, host: body.host)
      } else {
        out.append(.reregister(w))
      }
    case .heartbeat(let w), .progress(let w, _):
      if workers[w] != nil { workers[w]?.lastSeen = now } else { out.append(.reregister(w)) }
    case .result(let w, let body):
      if workers[w] != nil { workers[w]?.lastSeen = now }
      handleResult(from: w, body, now: now, into: &out)
      if workers[w] == nil { out.append(.reregister(w)) }
    case .workerExited(let w, let reason):
      if workers[w] != nil {
        drop(w, outcome: .crashed, error: "worker process exited: \(reason)", into: &out)
        out.append(.workerLost(w, reason: reason))
      }
    case .tick:
      expire(now: now, into: &out)
    case .shutdown(let reason):
      if !stopping {
        stopping = true
        for w in workers.keys.sorted() {
          for l in (workers[w]?.leases ?? []).sorted(by: { $0.trial < $1.trial }) {
            out.append(.endAttempt(l, worker: w, .lost, error: "coordinator shut down"))
            trials[l.trial]?.status = .pending
          }
          out.append(.shutdown(w, reason: reason))
        }
        workers = [:]
        out.append(.finished)
        finishedAnnounced = true
      }
      return out
    }
    if !stopping { dispatch(now: now, into: &out) }
    checkFinished(into: &out)
    return out
  }

  mutating func handleResult(
    from w: WorkerID, _ body: ResultBody, now: Double, into out: inout [SchedulerAction]
  ) {
    let l = body.lease
    guard let trial = trials[l.trial] else {
      out.append(.ack(l, to: w))  // not a trial of this sweep: nothing to record
      return
    }
    let cancelled = body.result?.training.stopReason == .cancelled
    switch trial.status {
    case .leased(let current, let holder, _) where current == l && holder == w && !stopping:
      workers[w]?.leases.remove(l)
      if let result = body.result, !cancelled {
        trials[l.trial]?.status = .done(attempt: l.attempt)
        queue.removeAll { $0 == l.trial }
        out.append(.commit(l.trial, attempt: l.attempt, worker: w, result))
      } else {
        let (end, error): (AttemptEnd, String) =
          cancelled
          ? (.timedOut, "trial cancelled by the worker (wall-time limit)")
          : (.failed, body.error ?? "no result")
        out.append(.endAttempt(l, worker: w, end, error: error))
        retryOrFail(l.trial, error: error, into: &out)
      }
    case .done(let attempt) where attempt == l.attempt:
      break  // the same result again (resent before the ack arrived): just ack
    default:
      if body.result != nil && !cancelled {
        let reason: String
        switch trial.status {
        case .done: reason = "trial already committed"
        case .failed: reason = "trial already failed"
        default: reason = "attempt \(l.attempt) is no longer current"
        }
        out.append(.recordDuplicate(l.trial, attempt: l.attempt, worker: w, reason: reason))
      }
    }
    out.append(.ack(l, to: w))
  }

  /// Ends nothing itself: requeues `trial` or fails it if its attempts are used up.
  mutating func retryOrFail(_ id: TrialID, error: String, into out: inout [SchedulerAction]) {
    guard var t = trials[id] else { return }
    t.lastError = error
    if t.attemptsThisRun >= settings.maxAttempts {
      t.status = .failed
      trials[id] = t
      queue.removeAll { $0 == id }
      out.append(.fail(id, error: "\(t.attemptsThisRun) attempts; last error: \(error)"))
    } else {
      t.status = .pending
      trials[id] = t
      if !queue.contains(id) {
        let i = queue.firstIndex { before(id, $0) } ?? queue.count
        queue.insert(id, at: i)
      }
      out.append(.requeue(id, reason: error))
    }
  }

  /// Forgets worker `w`, ending each of its leases with `outcome`.
  mutating func drop(
    _ w: WorkerID, outcome: AttemptEnd, error: String, into out: inout [SchedulerAction]
  ) {
    guard let worker = workers.removeValue(forKey: w) else { return }
    for l in worker.leases.sorted(by: { $0.trial < $1.trial }) {
      guard case .leased(let current, _, _)? = trials[l.trial]?.status, current == l else {
        continue
      }
      out.append(.endAttempt(l, worker: w, outcome, error: error))
      retryOrFail(l.trial, error: error, into: &out)
    }
  }

  mutating func expire(now: Double, into out: inout [SchedulerAction]) {
    for w in workers.keys.sorted() {
      guard let worker = workers[w] else { continue }
      let silent = now - worker.lastSeen
      if silent > settings.workerDeadline {
        let reason =
          "silent for \(rounded(silent)) s (deadline \(rounded(settings.workerDeadline)) s)"
        drop(w, outcome: .lost, error: "worker \(w) \(reason)", into: &out)
        out.append(.workerLost(w, reason: reason))
      }
    }
    for id in trials.keys.sorted() {
      guard case .leased(let l, let w, let since)? = trials[id]?.status,
        now - since > settings.trialTimeout
      else { continue }
      workers[w]?.leases.remove(l)
      let error = "wall-time limit of \(rounded(settings.trialTimeout)) s exceeded"
      out.append(.cancel(l, worker: w))
      out.append(.endAttempt(l, worker: w, .timedOut, error: error))
      retryOrFail(id, error: error, into: &out)
    }
    for w in workers.keys.sorted() {
      guard let worker = workers[w] else { continue }
      if now - worker.lastHeartbeatSent >= settings.heartbeatInterval {
        workers[w]?.lastHeartbeatSent = now
        out.append(.heartbeat(w))
      }
    }
  }

  mutating func dispatch(now: Double, into out: inout [SchedulerAction]) {
    while !queue.isEmpty {
      // The worker with the most free credits (ties: smallest id) takes the next trial.
      guard
        let w = workers.filter({ $0.value.credits > 0 })
          .max(by: { a, b in
            a.value.credits != b.value.credits ? a.value.credits < b.value.credits : a.key > b.key
          })?.key
      else { return }
      let id = queue.removeFirst()
      guard var t = trials[id] else { continue }
      let lease = Lease(trial: id, attempt: t.nextAttempt)
      t.nextAttempt += 1
      t.attemptsThisRun += 1
      t.status = .leased(lease, w, since: now)
      trials[id] = t
      workers[w]?.credits -= 1
      workers[w]?.leases.insert(lease)
      out.append(.assign(id, attempt: lease.attempt, to: w))
    }
  }

  mutating func checkFinished(into out: inout [SchedulerAction]) {
    guard !finishedAnnounced, isComplete else { return }
    finishedAnnounced = true
    stopping = true
    for w in workers.keys.sorted() { out.append(.shutdown(w, reason: "sweep finished")) }
    out.append(.finished)
  }
}

func rounded(_ x: Double) -> String {
  let r = (x * 10).rounded() / 10
  return r == r.rounded() ? String(Int(r)) : String(r)
}
