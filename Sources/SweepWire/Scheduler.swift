import SweepSpec
import TailNet

/// A worker's error text that starts with this marks an error that recurs on every attempt
/// (an invalid configuration, data missing or cut beyond its size): the scheduler fails the
/// trial at once instead of retrying it. Older workers do not send it; their errors are retried.
public let permanentErrorPrefix = "permanent: "

/// Timing, retry and verification rules of the coordinator.
public struct SchedulerSettings: Hashable, Sendable {
  /// Seconds between application heartbeats (both ways).
  public var heartbeatInterval: Double
  /// A worker silent for `liveness × heartbeatInterval` seconds is declared dead.
  public var liveness: Int
  /// Attempts a trial may use in this run (retries + 1); then it fails with the last error.
  public var maxAttempts: Int
  /// Wall-time limit of one attempt, seconds.
  public var trialTimeout: Double
  /// Consecutive leases of one worker that time out (or that it silently stops reporting)
  /// before the worker is quarantined: it gets no work for `trialTimeout` seconds.
  public var quarantineAfter = 2
  /// Whether this coordinator serves null trials (dispatch benchmark). Workers must register
  /// in the same mode; null results are refused otherwise, and real ones in null mode.
  public var nullTrials = false
  /// SHA-256 of each data set as the coordinator's host has it (`DataCatalog`): a result whose
  /// `datasetHash` differs is refused (`wrong_data`). Data sets not listed are not checked.
  public var datasetHashes: [String: String] = [:]
  /// Data sets generated in memory (`synthetic`): no files, so no hash. Unless `datasetHashes`
  /// names one, a result for them must carry no hash; one that does is refused (`wrong_data`)
  /// like a hash that differs (else a forged hash would be stored as the trial's).
  public var hashlessDatasets: Set<String> = ["synthetic"]
  /// This coordinator process's epoch (a random number): assignments carry it with a sequence
  /// number, and workers report the highest they saw, so lost assignments are found.
  public var epoch: UInt64 = 1

  /// Creates settings.
  public init(heartbeatInterval: Double, liveness: Int, maxAttempts: Int, trialTimeout: Double) {
    self.heartbeatInterval = heartbeatInterval
    self.liveness = max(1, liveness)
    self.maxAttempts = max(1, maxAttempts)
    self.trialTimeout = trialTimeout
  }

  /// Seconds a trial whose lease was running when the previous coordinator stopped is held
  /// for that lease's worker, from this scheduler's first event, before it is handed out
  /// again: time for the worker to notice the restart, reconnect (with backoff) and report
  /// the lease it still computes. A worker that registers without reporting the lease keeps
  /// the trial one worker deadline more (for the result it resends after registering).
  public var interruptedHold = 10.0

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
  /// The trial's configuration: results must carry a config that hashes to `id`. Nil only in
  /// tests that use made-up ids (then the config check is skipped).
  public var config: TrialConfig?
  /// The lease that was running when the previous coordinator stopped, and its worker: the
  /// trial is held for that worker for `SchedulerSettings.interruptedHold` seconds.
  public var interrupted: InterruptedLease?
  /// Creates a trial entry.
  public init(
    id: TrialID, cost: Double, previousAttempts: Int = 0, config: TrialConfig? = nil,
    interrupted: InterruptedLease? = nil
  ) {
    self.id = id
    self.cost = cost
    self.interrupted = interrupted
    self.previousAttempts = previousAttempts
    self.config = config
  }
}

/// A lease the previous coordinator recorded as running when it stopped (its attempt row was
/// still open in the store), and the worker it was given to.
public struct InterruptedLease: Hashable, Sendable {
  /// The lease.
  public var lease: Lease
  /// Its worker.
  public var worker: WorkerID
  /// Creates a record.
  public init(lease: Lease, worker: WorkerID) {
    self.lease = lease
    self.worker = worker
  }
}

/// What happened: fed to `Scheduler.handle(_:now:)`. `now` is when the message arrived.
public enum SchedulerEvent: Hashable, Sendable {
  /// A `ready` message.
  case ready(WorkerID, ReadyBody)
  /// A `heartbeat` message (with the worker's state, when it sent one).
  case heartbeat(WorkerID, WorkerState?)
  /// A `progress` message.
  case progress(WorkerID, ProgressBody)
  /// A `result` message.
  case result(WorkerID, ResultBody)
  /// A `result` message too large to decode (`size` bytes); its lease when it could be read.
  case oversizedResult(WorkerID, Lease?, size: Int)
  /// The local supervisor saw the worker's process exit.
  case workerExited(WorkerID, reason: String)
  /// The assignment of `Lease` could not be sent: the worker is not connected (it left, or
  /// libzmq replaced its connection). The lease never ran, so it uses up no attempt.
  case undelivered(WorkerID, Lease)
  /// Time passed (call at least every heartbeat interval). `drained`: every message that had
  /// arrived by `now` has been handled; only then can silence declare a worker dead, so a
  /// coordinator that falls behind never mistakes its own backlog for dead workers.
  case tick(drained: Bool)
  /// The store cannot take writes: stop handing out work, tell workers to stop but keep their
  /// unacknowledged results.
  case storeFailed(reason: String)
  /// Stop: shut workers down, end attempts in flight.
  case shutdown(reason: String)
}

/// What the coordinator loop must do, in order. An action that fails to write to the store
/// stops the loop before any later action (no `ack` is sent for what is not durable).
public enum SchedulerAction: Hashable, Sendable {
  /// Record the start of `lease` and send `assign` to `worker` with sequence number `seq`
  /// (`resend`: the same assignment again, nothing to record).
  case assign(Lease, to: WorkerID, seq: Int, resend: Bool)
  /// Send `ack` of `lease` to `worker` (after the actions before it are durable).
  case ack(Lease, to: WorkerID)
  /// Commit this result durably as the trial's result, under `lease` (whose attempt number
  /// may be a fresh one when the result was computed under a lease of another run).
  case commit(Lease, worker: WorkerID, TrialResult)
  /// Record how an attempt ended without becoming the trial's result.
  case endAttempt(Lease, worker: WorkerID, AttemptOutcome, error: String)
  /// The trial goes back to the queue (informational: the store learns it from `endAttempt`).
  case requeue(TrialID, reason: String)
  /// The trial used all its attempts: mark it failed with the last error.
  case fail(TrialID, error: String)
  /// Send `cancel` of `lease` to `worker`.
  case cancel(Lease, worker: WorkerID)
  /// Send a heartbeat to `worker`.
  case heartbeat(WorkerID)
  /// Send `reject` to `worker`.
  case reject(WorkerID, RejectBody)
  /// The worker is declared dead and forgotten (for logs).
  case workerLost(WorkerID, reason: String)
  /// The worker gets no work until `until` (for logs).
  case quarantined(WorkerID, until: Double, reason: String)
  /// Send `shutdown` to `worker` (`hold`: keep unacknowledged results and wait).
  case shutdown(WorkerID, reason: String, hold: Bool)
  /// Every trial is done or failed (or shutdown was requested): the loop may stop.
  case finished
}

/// The coordinator's pure state machine: events in, actions out, time a parameter (seconds on
/// any monotonic clock). It knows no sockets, files or clocks. Rules (docs/protocol.md):
/// - every assignment is a lease (trial, attempt); attempt numbers grow per trial;
/// - a result is checked first: finite, in-range numbers; config hashing to the trial id;
///   data set hash equal to the coordinator's; the agreed null-trial mode. Failing results are
///   refused with `reject` (never committed);
/// - a verified result for a trial without a result is committed, whatever lease it came from
///   (trials are content-addressed and bit-reproducible); for a finished trial it is recorded
///   as a duplicate; the lease it replaces is cancelled;
/// - workers report their state (free slots, leases held, last assignment seen) with every
///   `ready` and `heartbeat`: leases they no longer hold end as lost, lost assignments are
///   found by sequence number, credits come from the report (never from counting deltas),
///   and a worker never holds more leases than the slots it declared;
/// - a worker silent past `liveness × heartbeatInterval` (measured from message arrival, and
///   only once the coordinator has drained its backlog) loses its leases;
/// - an attempt past `trialTimeout` is cancelled and requeued, not to the same worker first;
///   a worker whose leases keep timing out is quarantined;
/// - a trial that used `maxAttempts` attempts fails with the last error;
/// - pending trials are handed out by decreasing cost (ties: trial id).
public struct Scheduler: Sendable {
  enum Status: Hashable, Sendable {
    case pending
    case leased(Lease, WorkerID, since: Double)
    /// A worker still computes a lease of an earlier run (it said so when registering): the
    /// trial is not handed out while that worker reports it.
    case held(Lease, WorkerID, since: Double)
    case done(attempt: Int)
    case failed
  }

  struct Trial: Hashable, Sendable {
    var cost: Double
    var config: TrialConfig?
    var firstAttemptThisRun: Int
    var nextAttempt: Int
    var attemptsThisRun = 0
    var status: Status = .pending
    var lastError: String?
    /// Attempt numbers issued in this run, and to whom.
    var issued: [Int: WorkerID] = [:]
    /// Workers on which a lease of this trial timed out or vanished: others go first.
    var avoid: Set<WorkerID> = []
    /// The worker's lease whose result was committed (a resend of it is only acknowledged).
    var committedLease: Lease?
  }

  struct Sent: Hashable, Sendable {
    var seq: Int
    var at: Double
    /// The latest progress report of the lease.
    var progress: ProgressBody?
    /// When it arrived (scheduler clock).
    var progressAt: Double?
  }

  struct Worker: Hashable, Sendable {
    var slots: Int
    var reportedFree: Int
    var leases: [Lease: Sent] = [:]
    var seen = 0
    var lastSeen: Double
    var lastHeartbeatSent: Double
    var host: String
    /// When it registered (its latest fresh `ready`).
    var registeredAt: Double
    var strikes = 0
    var quarantinedUntil = -Double.infinity
  }

  /// The rules in force.
  public let settings: SchedulerSettings
  var trials: [TrialID: Trial] = [:]
  /// Pending trials, highest cost first (O(log T) per change).
  var queue = PendingQueue(ordered: [])
  var workers: [WorkerID: Worker] = [:]
  var nextSeq = 1
  var stopping = false
  var finishedAnnounced = false
  var lastDrained = -Double.infinity
  /// Trials held for the worker of their interrupted lease (`SchedulerTrial.interrupted`)
  /// until it registers, and until when (set at the first event).
  var presumed: [TrialID: Double] = [:]
  var clockStarted = false
  var counts = (running: 0, done: 0, failed: 0, held: 0)
  /// Trials leased or held now (what `expire` looks at), and the held ones per worker: kept
  /// by `setStatus`, so no event walks every trial.
  var active: Set<TrialID> = []
  var heldBy: [WorkerID: Set<TrialID>] = [:]

  /// A scheduler for `trials` (duplicates by id are ignored).
  public init(trials: [SchedulerTrial], settings: SchedulerSettings) {
    self.settings = settings
    var ids: [TrialID] = []
    ids.reserveCapacity(trials.count)
    for t in trials where self.trials[t.id] == nil {
      self.trials[t.id] = Trial(
        cost: t.cost, config: t.config, firstAttemptThisRun: t.previousAttempts + 1,
        nextAttempt: t.previousAttempts + 1)
      ids.append(t.id)
    }
    let costs = self.trials.mapValues(\.cost)
    ids.sort { a, b in
      let ca = costs[a] ?? 0
      let cb = costs[b] ?? 0
      return ca != cb ? ca > cb : a < b
    }
    queue = PendingQueue(ordered: ids)
    // Trials whose lease was running when the previous coordinator stopped: held for that
    // lease's worker (the clock starts at the first event).
    for t in trials {
      guard let i = t.interrupted, i.lease.trial == t.id, presumed[t.id] == nil,
        i.lease.attempt < (self.trials[t.id]?.firstAttemptThisRun ?? 0)
      else { continue }
      setStatus(t.id, .held(i.lease, i.worker, since: 0))
      presumed[t.id] = .infinity
    }
  }

  // MARK: Queries

  /// Trials waiting for a worker, in the order they will be handed out.
  public var pendingTrials: [TrialID] { queue.ordered }
  /// Number of trials waiting for a worker.
  public var pendingCount: Int { queue.count }
  /// Number of trials leased now (or still computed under a lease of an earlier run).
  public var runningCount: Int { counts.running + counts.held }
  /// Number of trials with a committed result.
  public var doneCount: Int { counts.done }
  /// Number of trials that used all their attempts.
  public var failedCount: Int { counts.failed }
  /// Number of trials in total.
  public var totalCount: Int { trials.count }
  /// Workers known (registered and not declared dead).
  public var liveWorkers: [WorkerID] { workers.keys.sorted() }
  /// Number of workers known.
  public var liveWorkerCount: Int { workers.count }
  /// Host name a worker gave when registering.
  public func host(of worker: WorkerID) -> String? { workers[worker]?.host }
  /// The configuration of `trial` (nil for unknown trials and made-up test ids).
  public func config(of trial: TrialID) -> TrialConfig? { trials[trial]?.config }
  /// The current lease of `trial` and its holder, if leased.
  public func lease(of trial: TrialID) -> (Lease, WorkerID)? {
    if case .leased(let l, let w, _)? = trials[trial]?.status { return (l, w) }
    return nil
  }
  /// Leases the coordinator believes `worker` holds.
  public func leases(of worker: WorkerID) -> Set<Lease> {
    Set(workers[worker]?.leases.keys.map { $0 } ?? [])
  }
  /// Trials `worker` could take now (free slots the coordinator will fill), 0 if unknown or
  /// quarantined at `now`.
  public func available(_ worker: WorkerID, now: Double) -> Int {
    guard let w = workers[worker], w.quarantinedUntil <= now else { return 0 }
    return available(w)
  }
  /// Whether `worker` is quarantined at `now`.
  public func isQuarantined(_ worker: WorkerID, now: Double) -> Bool {
    (workers[worker]?.quarantinedUntil ?? -.infinity) > now
  }
  /// Whether every trial is done or failed.
  public var isComplete: Bool { queue.isEmpty && runningCount == 0 }
  /// Whether `trial` is pending and `worker` is one it should avoid while others can take it.
  public func avoids(_ trial: TrialID, _ worker: WorkerID) -> Bool {
    trials[trial]?.avoid.contains(worker) ?? false
  }

  func available(_ w: Worker) -> Int {
    let inFlight = w.leases.values.count { $0.seq > w.seen }
    return max(0, min(w.reportedFree - inFlight, w.slots - w.leases.count))
  }

  // MARK: Events

  /// Applies `event` at time `now` and returns the actions to perform, in order.
  public mutating func handle(_ event: SchedulerEvent, now: Double) -> [SchedulerAction] {
    var out: [SchedulerAction] = []
    if !clockStarted {
      clockStarted = true
      for id in presumed.keys.sorted() {
        presumed[id] = now + settings.interruptedHold
        if case .held(let l, let w, _)? = trials[id]?.status {
          setStatus(id, .held(l, w, since: now))
        }
      }
    }
    switch event {
    case .ready(let w, let body):
      if body.nullTrials != settings.nullTrials {
        let mine = settings.nullTrials ? "null trials" : "real trials"
        let theirs = body.nullTrials ? "null trials (--null-trials)" : "real trials"
        out.append(
          .reject(
            w,
            RejectBody(
              code: .modeMismatch,
              message: "this coordinator runs \(mine) but the worker runs \(theirs); "
                + "start the worker \(settings.nullTrials ? "with" : "without") --null-trials")))
        if workers[w] != nil {
          drop(w, outcome: .lost, error: "worker changed its null-trial mode", now: now, into: &out)
        }
        return out
      }
      if workers[w] == nil {
        guard body.fresh else {
          out.append(.reject(w, unknownWorkerReject))
          break
        }
        workers[w] = Worker(
          slots: max(1, min(64, body.slots)), reportedFree: 0, lastSeen: now,
          lastHeartbeatSent: now, host: body.host, registeredAt: now)
      } else if body.fresh {
        workers[w]?.slots = max(1, min(64, body.slots))
        workers[w]?.host = body.host
        workers[w]?.registeredAt = now
      }
      touch(w, now)
      reconcile(w, body.state, fresh: body.fresh, now: now, into: &out)
    case .heartbeat(let w, let state):
      guard workers[w] != nil else {
        out.append(.reject(w, unknownWorkerReject))
        break
      }
      touch(w, now)
      if let state { reconcile(w, state, fresh: false, now: now, into: &out) }
    case .progress(let w, let body):
      if workers[w] != nil {
        touch(w, now)
        if isCurrent(body.lease, of: w) {
          workers[w]?.leases[body.lease]?.progress = body
          workers[w]?.leases[body.lease]?.progressAt = now
        }
      } else {
        out.append(.reject(w, unknownWorkerReject))
      }
    case .result(let w, let body):
      if workers[w] != nil { touch(w, now) }
      handleResult(from: w, body, now: now, into: &out)
      if workers[w] == nil { out.append(.reject(w, unknownWorkerReject)) }
    case .oversizedResult(let w, let lease, let size):
      if workers[w] != nil { touch(w, now) }
      let error =
        "result of \(size) bytes exceeds the wire limit of \(wireMaxResultBody) bytes"
      if let l = lease, isCurrent(l, of: w) {
        release(l, from: w)
        out.append(.endAttempt(l, worker: w, .failed, error: error))
        retryOrFail(l.trial, error: error, into: &out)
      }
      out.append(.reject(w, RejectBody(code: .tooLarge, message: error, lease: lease)))
    case .workerExited(let w, let reason):
      if workers[w] != nil {
        drop(w, outcome: .crashed, error: "worker process exited: \(reason)", now: now, into: &out)
        out.append(.workerLost(w, reason: reason))
      }
    case .undelivered(let w, let l):
      if isCurrent(l, of: w) {
        release(l, from: w)
        trials[l.trial]?.attemptsThisRun -= 1
        out.append(
          .endAttempt(l, worker: w, .lost, error: "assignment not delivered: \(w) is not connected")
        )
        setStatus(l.trial, .pending)
        out.append(.requeue(l.trial, reason: "assignment not delivered"))
      }
      if workers[w] != nil {
        drop(w, outcome: .lost, error: "worker \(w) is not connected", now: now, into: &out)
        out.append(.workerLost(w, reason: "not connected"))
      }
    case .tick(let drained):
      if drained { lastDrained = now }
      expire(now: now, into: &out)
    case .storeFailed(let reason):
      if !stopping {
        stopping = true
        for w in workers.keys.sorted() { out.append(.shutdown(w, reason: reason, hold: true)) }
        workers = [:]
        out.append(.finished)
        finishedAnnounced = true
      }
      return out
    case .shutdown(let reason):
      if !stopping {
        stopping = true
        for w in workers.keys.sorted() {
          for l in (workers[w]?.leases.keys.map { $0 } ?? []).sorted(by: leaseOrder) {
            if isCurrent(l, of: w) {
              out.append(.endAttempt(l, worker: w, .lost, error: "coordinator shut down"))
              setStatus(l.trial, .pending)
            }
          }
          out.append(.shutdown(w, reason: reason, hold: false))
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

  /// A message from `w` arrived at `now`.
  mutating func touch(_ w: WorkerID, _ now: Double) {
    guard let seen = workers[w]?.lastSeen else { return }
    workers[w]?.lastSeen = max(seen, now)
  }

  var unknownWorkerReject: RejectBody {
    RejectBody(code: .unknownWorker, message: "unknown worker; send a fresh ready")
  }

  func leaseOrder(_ a: Lease, _ b: Lease) -> Bool {
    a.trial != b.trial ? a.trial < b.trial : a.attempt < b.attempt
  }

  func isCurrent(_ l: Lease, of w: WorkerID) -> Bool {
    if case .leased(let cur, let holder, _)? = trials[l.trial]?.status {
      return cur == l && holder == w
    }
    return false
  }

  /// Moves `trial` to `status`, keeping the counters and the queue in step.
  mutating func setStatus(_ id: TrialID, _ status: Status) {
    guard let old = trials[id]?.status else { return }
    switch old {
    case .pending: queue.remove(id)
    case .leased:
      counts.running -= 1
      active.remove(id)
    case .held(_, let w, _):
      counts.held -= 1
      active.remove(id)
      heldBy[w]?.remove(id)
      if heldBy[w]?.isEmpty == true { heldBy[w] = nil }
    case .done: counts.done -= 1
    case .failed: counts.failed -= 1
    }
    trials[id]?.status = status
    switch status {
    case .pending:
      queue.insert(id)
    case .leased:
      counts.running += 1
      active.insert(id)
    case .held(_, let w, _):
      counts.held += 1
      active.insert(id)
      heldBy[w, default: []].insert(id)
    case .done: counts.done += 1
    case .failed: counts.failed += 1
    }
  }

  /// The latest progress report of every current lease that arrived after `since` (scheduler
  /// clock), with its arrival time: what the coordinator records for `status` and the live
  /// view. O(current leases); the coordinator calls it about once a second.
  public func progressReports(after since: Double) -> [(progress: ProgressBody, at: Double)] {
    var out: [(progress: ProgressBody, at: Double)] = []
    for worker in workers.values {
      for sent in worker.leases.values {
        guard let p = sent.progress, let at = sent.progressAt, at > since else { continue }
        out.append((p, at))
      }
    }
    return out
  }

  /// Every known worker heard from after `since` (scheduler clock): what the coordinator
  /// records as worker liveness for `status` and the live view, idle workers included.
  /// O(workers); the coordinator calls it about once a second.
  public func workerSightings(after since: Double, now: Double) -> [WorkerSighting] {
    var out: [WorkerSighting] = []
    for (id, w) in workers where w.lastSeen > since {
      out.append(
        WorkerSighting(
          worker: id, host: w.host, slots: w.slots, registeredAt: w.registeredAt,
          lastSeen: w.lastSeen, quarantined: w.quarantinedUntil > now))
    }
    return out
  }

  /// Whether `worker` is registered (not declared dead, not gone).
  public func isKnown(_ worker: WorkerID) -> Bool { workers[worker] != nil }

  /// The running lease furthest along (by share of its iteration cap) among those that
  /// reported progress, with when it was sent (scheduler clock); nil when none reported yet.
  public var leadingProgress: (progress: ProgressBody, since: Double)? {
    var best: (progress: ProgressBody, since: Double)?
    for worker in workers.values {
      for sent in worker.leases.values {
        guard let p = sent.progress else { continue }
        let share = Double(p.iteration) / Double(max(1, p.maxIterations))
        if let b = best,
          Double(b.progress.iteration) / Double(max(1, b.progress.maxIterations)) >= share
        {
          continue
        }
        best = (p, sent.at)
      }
    }
    return best
  }

  /// Removes `l` from `w`'s leases (the worker's slot comes back with its next report).
  mutating func release(_ l: Lease, from w: WorkerID) {
    workers[w]?.leases[l] = nil
  }

  /// Brings the coordinator's view of `w` in line with what the worker reports.
  mutating func reconcile(
    _ w: WorkerID, _ state: WorkerState, fresh: Bool, now: Double,
    into out: inout [SchedulerAction]
  ) {
    guard var worker = workers[w] else { return }
    if fresh {
      // Registered: an interrupted lease it reports stays held (an ordinary hold now); one it
      // does not report stays held one deadline more, for the result it resends right after
      // its `ready` (it finished the trial while no coordinator listened).
      for id in (heldBy[w] ?? []).sorted() where presumed[id] != nil {
        if case .held(let hl, _, _)? = trials[id]?.status, state.running.contains(hl) {
          presumed[id] = nil
        } else {
          presumed[id] = now + settings.workerDeadline
        }
      }
    }
    worker.reportedFree = state.credits
    let seen = state.epoch == settings.epoch ? state.seen : 0
    worker.seen = fresh ? seen : max(worker.seen, seen)
    workers[w] = worker
    let reported = Set(state.running)
    // Leases the worker has seen but no longer holds, without a result: lost.
    for (l, sent) in worker.leases.sorted(by: { leaseOrder($0.key, $1.key) }) {
      if reported.contains(l) { continue }
      if sent.seq <= worker.seen {
        release(l, from: w)
        guard isCurrent(l, of: w) else { continue }
        let error = "worker \(w) no longer holds the lease (its assignment or result was lost)"
        out.append(.endAttempt(l, worker: w, .lost, error: error))
        strike(w, trial: l.trial, now: now, reason: "leases vanish", into: &out)
        retryOrFail(l.trial, error: error, into: &out)
      } else if now - sent.at >= settings.heartbeatInterval {
        // Not seen after an interval: the assignment may be lost; send it again (the worker
        // ignores an assignment it already has).
        workers[w]?.leases[l]?.at = now
        out.append(.assign(l, to: w, seq: sent.seq, resend: true))
      }
    }
    // Leases the worker holds that the coordinator did not give it (an earlier run, or an
    // expired lease): keep the trial for it if nobody else has it, else cancel.
    for l in state.running.sorted(by: leaseOrder) where workers[w]?.leases[l] == nil {
      guard let t = trials[l.trial] else {
        out.append(.cancel(l, worker: w))
        continue
      }
      switch t.status {
      case .pending where !stopping && l.attempt < t.firstAttemptThisRun:
        setStatus(l.trial, .held(l, w, since: now))
      case .held(let hl, let hw, _) where hl == l && hw == w:
        break
      case .leased(let cur, let holder, _) where cur == l && holder == w:
        break
      default:
        // Ours no longer (timed out, superseded, or another run's lease of a trial that is
        // handed out already): stop it.
        out.append(.cancel(l, worker: w))
      }
    }
    // Trials held for this worker that it no longer reports go back to the queue.
    for id in (heldBy[w] ?? []).sorted() {
      if case .held(let hl, _, _)? = trials[id]?.status, !reported.contains(hl),
        presumed[id] == nil
      {
        setStatus(id, .pending)
        out.append(.requeue(id, reason: "worker \(w) no longer computes \(hl)"))
      }
    }
  }

  /// Counts a vanished or timed-out lease against `w`; quarantines it after too many.
  mutating func strike(
    _ w: WorkerID, trial: TrialID, now: Double, reason: String, into out: inout [SchedulerAction]
  ) {
    trials[trial]?.avoid.insert(w)
    guard var worker = workers[w] else { return }
    worker.strikes += 1
    if worker.strikes >= settings.quarantineAfter && worker.quarantinedUntil <= now {
      worker.quarantinedUntil = now + settings.trialTimeout
      worker.strikes = 0
      out.append(
        .quarantined(
          w, until: worker.quarantinedUntil,
          reason: "\(settings.quarantineAfter) leases in a row ended without a result (\(reason))"
        ))
    }
    workers[w] = worker
  }

  /// Why `result` cannot be committed for `lease` from `w`, as a reject; nil if it can.
  func refusal(_ result: TrialResult, lease: Lease, worker w: WorkerID) -> RejectBody? {
    let isNull = result.isNullTrial
    if isNull != settings.nullTrials {
      return RejectBody(
        code: .invalidResult,
        message: isNull
          ? "a null-trial result is not a measurement; this coordinator runs real trials"
          : "this coordinator runs null trials; a real result is not expected",
        lease: lease)
    }
    let problems = result.validationProblems()
    if !problems.isEmpty {
      return RejectBody(
        code: .invalidResult,
        message: "result of \(lease) refused: " + problems.prefix(5).joined(separator: "; "),
        lease: lease)
    }
    // The trial's id is the hash of its config, so an equal config hashes to it: compare (cheap)
    // and hash only to name what the worker ran.
    if let expected = trials[lease.trial]?.config, result.config != expected {
      let id = TrialID(config: result.config)
      if id != lease.trial {
        return RejectBody(
          code: .wrongWork,
          message: "result of \(lease) refused: its config hashes to trial \(id.short), "
            + "not \(lease.trial.short)",
          lease: lease)
      }
    }
    // The hash the coordinator expects: its own, or none for data generated in memory.
    let name = result.config.dataset.name
    let expected: String?? =
      settings.datasetHashes[name].map { .some($0) }
      ?? (settings.hashlessDatasets.contains(name) ? .some(nil) : nil)
    if !settings.nullTrials, let expected, result.datasetHash != expected {
      let host = workers[w]?.host ?? "unknown host"
      return RejectBody(
        code: .wrongData,
        message: "worker \(w) on \(host) has other data for \(name): "
          + "sha256 \(result.datasetHash ?? "none") there, "
          + "\(expected ?? "none (generated in memory)") on the coordinator; "
          + "give the worker the same data folder (tailsweep data list shows the hashes)",
        lease: lease)
    }
    return nil
  }

  mutating func handleResult(
    from w: WorkerID, _ body: ResultBody, now: Double, into out: inout [SchedulerAction]
  ) {
    let l = body.lease
    guard let trial = trials[l.trial] else {
      out.append(.ack(l, to: w))  // not a trial of this run: nothing to record
      return
    }
    let current = isCurrent(l, of: w)
    guard let result = body.result, result.training.stopReason != .cancelled else {
      // An error, or a run the worker cancelled (wall-time limit or our cancel).
      if current {
        release(l, from: w)
        let cancelled = body.result != nil
        let error =
          cancelled
          ? "trial cancelled by the worker (wall-time limit)" : (body.error ?? "no result")
        out.append(.endAttempt(l, worker: w, cancelled ? .timedOut : .failed, error: error))
        retryOrFail(l.trial, error: error, into: &out)
      } else if case .held(let hl, let hw, _) = trial.status, hl == l, hw == w {
        setStatus(l.trial, .pending)
        out.append(.requeue(l.trial, reason: body.error ?? "cancelled"))
      }
      out.append(.ack(l, to: w))
      return
    }
    if let reject = refusal(result, lease: l, worker: w) {
      if current {
        release(l, from: w)
        out.append(.endAttempt(l, worker: w, .failed, error: reject.message))
        retryOrFail(l.trial, error: reject.message, into: &out)
      }
      if reject.code == .wrongData {
        if workers[w] != nil {
          drop(w, outcome: .failed, error: reject.message, now: now, into: &out)
          out.append(.workerLost(w, reason: reject.message))
        }
      }
      out.append(.reject(w, reject))
      return
    }
    switch trial.status {
    case .done(let attempt):
      if trial.committedLease != l && !(trial.committedLease == nil && attempt == l.attempt) {
        out.append(
          .endAttempt(
            l, worker: w, .duplicate, error: "trial already committed (attempt \(attempt))"))
      }
    case .pending, .leased, .held, .failed:
      // A verified result for a trial without one: keep it, whatever lease it came from.
      var commitLease = l
      if !current && trial.issued[l.attempt] != w {
        // A lease of another run (or not ours): record it under a fresh attempt number.
        commitLease = Lease(trial: l.trial, attempt: trial.nextAttempt)
        trials[l.trial]?.nextAttempt += 1
        trials[l.trial]?.issued[commitLease.attempt] = w
      }
      if case .leased(let cur, let holder, _) = trial.status, !(cur == l && holder == w) {
        release(cur, from: holder)
        out.append(.cancel(cur, worker: holder))
        out.append(
          .endAttempt(
            cur, worker: holder, .lost,
            error: "cancelled: attempt \(l.attempt)'s result was committed first"))
      }
      release(l, from: w)
      setStatus(l.trial, .done(attempt: commitLease.attempt))
      trials[l.trial]?.committedLease = l
      workers[w]?.strikes = 0
      out.append(.commit(commitLease, worker: w, result))
    }
    out.append(.ack(l, to: w))
  }

  /// Ends nothing itself: requeues `trial` or fails it if its attempts are used up.
  mutating func retryOrFail(_ id: TrialID, error: String, into out: inout [SchedulerAction]) {
    guard var t = trials[id] else { return }
    t.lastError = error
    trials[id] = t
    if error.hasPrefix(permanentErrorPrefix) {
      // The same configuration and data give the same error on every attempt: no retry.
      setStatus(id, .failed)
      out.append(.fail(id, error: "no retry (the error recurs on every attempt): \(error)"))
    } else if t.attemptsThisRun >= settings.maxAttempts {
      setStatus(id, .failed)
      out.append(.fail(id, error: "\(t.attemptsThisRun) attempts; last error: \(error)"))
    } else {
      setStatus(id, .pending)
      out.append(.requeue(id, reason: error))
    }
  }

  /// Forgets worker `w`, ending each of its current leases with `outcome`.
  mutating func drop(
    _ w: WorkerID, outcome: AttemptOutcome, error: String, now: Double,
    into out: inout [SchedulerAction]
  ) {
    guard let worker = workers.removeValue(forKey: w) else { return }
    for l in worker.leases.keys.sorted(by: leaseOrder) {
      guard case .leased(let current, let holder, _)? = trials[l.trial]?.status,
        current == l, holder == w
      else { continue }
      trials[l.trial]?.avoid.insert(w)
      out.append(.endAttempt(l, worker: w, outcome, error: error))
      retryOrFail(l.trial, error: error, into: &out)
    }
    for id in (heldBy[w] ?? []).sorted() {
      if trials[id] != nil {
        setStatus(id, .pending)
        out.append(.requeue(id, reason: "worker \(w) is gone"))
      }
    }
  }

  mutating func expire(now: Double, into out: inout [SchedulerAction]) {
    for w in workers.keys.sorted() {
      guard let worker = workers[w] else { continue }
      let silent = now - worker.lastSeen
      // Silence counts only once everything that arrived after the deadline was handled.
      if silent > settings.workerDeadline
        && lastDrained > worker.lastSeen + settings.workerDeadline
      {
        let reason =
          "silent for \(rounded(silent)) s (deadline \(rounded(settings.workerDeadline)) s)"
        drop(w, outcome: .lost, error: "worker \(w) \(reason)", now: now, into: &out)
        out.append(.workerLost(w, reason: reason))
      }
    }
    for (id, until) in presumed.sorted(by: { $0.key < $1.key }) where now >= until {
      presumed[id] = nil
      guard case .held(let l, let w, _)? = trials[id]?.status else { continue }
      setStatus(id, .pending)
      out.append(
        .requeue(
          id,
          reason: "worker \(w) did not come back within \(rounded(settings.interruptedHold)) s "
            + "to report lease \(l) of the interrupted run"))
    }
    var expired: [(TrialID, Lease, WorkerID)] = []
    var heldTooLong: [(TrialID, Lease, WorkerID)] = []
    for id in active {
      guard let t = trials[id] else { continue }
      if case .held(let l, let w, let since) = t.status, now - since > settings.trialTimeout {
        heldTooLong.append((id, l, w))
      }
      if case .leased(let l, let w, let since) = t.status, now - since > settings.trialTimeout {
        expired.append((id, l, w))
      }
    }
    for (id, l, w) in heldTooLong.sorted(by: { $0.0 < $1.0 }) {
      // A lease of an earlier run past the wall-time limit: stop waiting for it.
      out.append(.cancel(l, worker: w))
      setStatus(id, .pending)
      trials[id]?.avoid.insert(w)
      out.append(.requeue(id, reason: "lease \(l) of an earlier run exceeded the wall-time limit"))
    }
    for (id, l, w) in expired.sorted(by: { $0.0 < $1.0 }) {
      release(l, from: w)
      let error = "wall-time limit of \(rounded(settings.trialTimeout)) s exceeded"
      out.append(.cancel(l, worker: w))
      out.append(.endAttempt(l, worker: w, .timedOut, error: error))
      strike(w, trial: id, now: now, reason: "timed out", into: &out)
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
    guard !queue.isEmpty else { return }
    var hungry: [(WorkerID, Int)] = []
    for (id, w) in workers where w.quarantinedUntil <= now {
      let n = available(w)
      if n > 0 { hungry.append((id, n)) }
    }
    guard !hungry.isEmpty else { return }
    // The worker with the most free slots (ties: smallest id) takes the next trial.
    hungry.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
    var progress = true
    while progress && !queue.isEmpty {
      progress = false
      for i in hungry.indices where hungry[i].1 > 0 && !queue.isEmpty {
        let w = hungry[i].0
        guard let id = nextTrial(for: w, now: now) else { continue }
        assign(id, to: w, now: now, into: &out)
        hungry[i].1 -= 1
        progress = true
      }
    }
  }

  /// The first pending trial `w` should take: one that does not avoid `w`, or, failing that,
  /// one that no other eligible worker could take.
  mutating func nextTrial(for w: WorkerID, now: Double) -> TrialID? {
    let trials = self.trials
    let workers = self.workers
    return queue.first(
      isTainted: { !(trials[$0]?.avoid.isEmpty ?? true) },
      accepts: { !(trials[$0]?.avoid.contains(w) ?? false) },
      fallback: { id in
        guard let t = trials[id] else { return false }
        return !workers.contains { key, other in
          key != w && other.quarantinedUntil <= now && !t.avoid.contains(key)
        }
      })
  }

  mutating func assign(
    _ id: TrialID, to w: WorkerID, now: Double, into out: inout [SchedulerAction]
  ) {
    guard var t = trials[id] else { return }
    let lease = Lease(trial: id, attempt: t.nextAttempt)
    t.nextAttempt += 1
    t.attemptsThisRun += 1
    t.issued[lease.attempt] = w
    trials[id] = t
    setStatus(id, .leased(lease, w, since: now))
    let seq = nextSeq
    nextSeq += 1
    workers[w]?.leases[lease] = Sent(seq: seq, at: now)
    out.append(.assign(lease, to: w, seq: seq, resend: false))
  }

  mutating func checkFinished(into out: inout [SchedulerAction]) {
    guard !finishedAnnounced, isComplete else { return }
    finishedAnnounced = true
    stopping = true
    for w in workers.keys.sorted() {
      out.append(.shutdown(w, reason: "sweep finished", hold: false))
    }
    out.append(.finished)
  }
}

func rounded(_ x: Double) -> String {
  let r = (x * 10).rounded() / 10
  return r == r.rounded() ? String(Int(r)) : String(r)
}

/// One registered worker as the scheduler knows it (`Scheduler.workerSightings`).
public struct WorkerSighting: Hashable, Sendable {
  /// The worker.
  public var worker: WorkerID
  /// The host it named when registering.
  public var host: String
  /// The slots it declared (clamped to 1...64).
  public var slots: Int
  /// When it registered (scheduler clock).
  public var registeredAt: Double
  /// When its latest message arrived (scheduler clock).
  public var lastSeen: Double
  /// Whether it is quarantined now.
  public var quarantined: Bool
}
