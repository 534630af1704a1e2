import Foundation
import Logging
import SweepRuntime
import SweepSpec
import SweepStore
import SweepWire
import TailNet

// An in-process cluster: one CoordinatorCore and several WorkerMachines over an in-memory
// network, with a fake clock, used by the runtime tests and the model-based property test. Its
// trials and results are in Trials.swift, its random source in Random.swift.

/// A logger that drops everything (tests assert on state, not on log lines).
public func quietLogger() -> Logger {
  var l = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
  l.logLevel = .critical
  return l
}

/// The store as a dictionary, with the store's rules: one result per trial, attempts closed
/// once, failures recorded. It can be told to fail (disk full) and records every violation.
public final class InMemoryLedger: CoordinatorLedger {
  public struct Attempt: Hashable, Sendable {
    public var worker: String
    public var outcome: AttemptOutcome?
  }
  public private(set) var results: [TrialID: (lease: Lease, worker: String, result: TrialResult)] =
    [:]
  public private(set) var attempts: [Lease: Attempt] = [:]
  public private(set) var failedTrials: [TrialID: String] = [:]
  /// Commits asked for a trial that already had a result (the coordinator should never).
  public private(set) var doubleCommits: [TrialID] = []
  /// Committed results whose config does not hash to their trial id (checked once, at commit).
  public private(set) var foreignConfigs: [TrialID] = []
  /// Attempt rows started twice (a reused attempt number).
  public private(set) var reusedAttempts: [Lease] = []
  /// Every lease handed out, in order.
  public private(set) var startedLeases: [Lease] = []
  /// When set, every write throws this (the store is full).
  public var failure: String?
  /// Asked at the end of every batch, before its sync: true makes the sync fail (the batch is
  /// rolled back and `inBatch` throws), as when the coordinator dies between its writes and
  /// the sync, or the disk fills at the sync.
  public var failSync: (() -> Bool)?
  /// Batches made durable, and batches rolled back.
  public private(set) var syncs = 0
  public private(set) var rollbacks = 0
  /// Whether a batch is open (writes are not durable yet).
  public private(set) var inOpenBatch = false
  public init() {}

  struct State {
    var results: [TrialID: (lease: Lease, worker: String, result: TrialResult)]
    var attempts: [Lease: Attempt]
    var failedTrials: [TrialID: String]
    var startedLeases: [Lease]
  }

  /// Group commit with the store's rules: the batch's writes are kept together, or (the body
  /// or the sync failed) none of them. Violation records are not rolled back.
  public func inBatch(_ body: () throws -> Void) throws {
    let before = State(
      results: results, attempts: attempts, failedTrials: failedTrials,
      startedLeases: startedLeases)
    inOpenBatch = true
    defer { inOpenBatch = false }
    do {
      try body()
      if failSync?() == true { throw Unavailable(description: "sync failed") }
      syncs += 1
    } catch {
      results = before.results
      attempts = before.attempts
      failedTrials = before.failedTrials
      startedLeases = before.startedLeases
      rollbacks += 1
      throw error
    }
  }

  struct Unavailable: Error, CustomStringConvertible {
    var description: String
  }

  func check() throws {
    if let failure { throw Unavailable(description: failure) }
  }

  /// The latest progress recorded per lease, and how many times progress was recorded.
  public private(set) var progress: [Lease: AttemptProgress] = [:]
  public private(set) var progressRecordings = 0

  public func progress(_ entries: [AttemptProgress]) throws {
    try check()
    progressRecordings += 1
    for e in entries { progress[Lease(trial: e.trial, attempt: e.attempt)] = e }
  }

  /// The latest liveness recorded per worker, and every recording (entries per call).
  public private(set) var workers: [WorkerID: WorkerLiveness] = [:]
  public private(set) var workerRecordings: [[WorkerLiveness]] = []

  public func workers(_ entries: [WorkerLiveness]) throws {
    try check()
    workerRecordings.append(entries)
    for e in entries { workers[WorkerID(e.worker)] = e }
  }

  public func started(_ lease: Lease, worker: String, host: String) throws {
    try check()
    if attempts[lease] != nil { reusedAttempts.append(lease) }
    attempts[lease] = Attempt(worker: worker, outcome: nil)
    startedLeases.append(lease)
  }
  public func ended(_ lease: Lease, outcome: AttemptOutcome, error: String?) throws {
    try check()
    if attempts[lease]?.outcome == nil {
      attempts[lease] = Attempt(worker: attempts[lease]?.worker ?? "", outcome: outcome)
    }
  }
  public func commit(_ lease: Lease, worker: String, host: String, result: TrialResult) throws
    -> Bool
  {
    try check()
    if results[lease.trial] != nil {
      doubleCommits.append(lease.trial)
      return false
    }
    if TrialID(config: result.config) != lease.trial { foreignConfigs.append(lease.trial) }
    results[lease.trial] = (lease, worker, result)
    attempts[lease] = Attempt(worker: worker, outcome: .committed)
    failedTrials[lease.trial] = nil
    return true
  }
  public func failed(_ trial: TrialID, error: String) throws {
    try check()
    if results[trial] == nil { failedTrials[trial] = error }
  }
  /// Attempts still open (a dead coordinator's leases), by trial: the highest one and its
  /// worker, as `SweepStore.interruptedAttempts` finds them after start-up recovery.
  public func openAttempts() -> [TrialID: InterruptedLease] {
    var out: [TrialID: InterruptedLease] = [:]
    for (l, a) in attempts where a.outcome == nil {
      if let o = out[l.trial], o.lease.attempt > l.attempt { continue }
      out[l.trial] = InterruptedLease(lease: l, worker: WorkerID(a.worker))
    }
    return out
  }
  /// What a restarted coordinator's store does first: attempts still open become `lost`.
  public func recoverInterrupted() {
    for (l, a) in attempts where a.outcome == nil {
      attempts[l] = Attempt(worker: a.worker, outcome: .lost)
    }
  }
  /// Attempts recorded per trial (what a resumed run continues after).
  public func attemptCount(_ trial: TrialID) -> Int {
    attempts.keys.filter { $0.trial == trial }.map(\.attempt).max() ?? 0
  }
}

/// One simulated worker process: its machine, its trials (each finishes `trialSeconds` after
/// it starts, with the deterministic result), and what it saw acknowledged.
public final class SimWorker {
  public let id: WorkerID
  public var machine: WorkerMachine
  /// Lease → fake time at which it finishes.
  public var computing: [Lease: (finishAt: Double, config: TrialConfig, cancelled: Bool)] = [:]
  /// Trials whose real result this worker saw acknowledged (the store must have them).
  public var acknowledged: Set<TrialID> = []
  /// Results sent and not acknowledged yet, by lease (to know which acks are for results).
  var sentResults: [Lease: Bool] = [:]
  public var stopped: WorkerStop?
  public var frozen = false
  /// Connection generation: messages of an older connection are dropped.
  public var connection = 0
  public var dataHash = simulatedDataHash
  public var corruptResults = false
  /// Seconds this worker's trials take (nil: the cluster's `trialSeconds`).
  public var trialSeconds: Double?

  public init(id: WorkerID, settings: WorkerSettings) {
    self.id = id
    self.machine = WorkerMachine(settings: settings)
  }
}

/// A message in flight.
public struct InFlight {
  public var from: WorkerID
  public var connection: Int
  public var frames: [[UInt8]]
  public var toCoordinator: Bool
  public var deliverAt: Double
}

/// One coordinator (restartable) and several workers on an in-memory network with a fake clock.
/// Faults are applied by the test through the public knobs.
public final class SimCluster: CoordinatorTransport {
  public var now = 0.0
  public let trials: [CoordinatorTrial]
  public var settings: SchedulerSettings
  public let ledger = InMemoryLedger()
  public private(set) var coordinator: CoordinatorCore!
  public var workers: [WorkerID: SimWorker] = [:]
  public var inFlight: [InFlight] = []
  public var trialSeconds = 3.0
  /// Workers report training progress (iterations 0…100 over a trial) every step, as real
  /// workers do; the worker machine sends at most one report per heartbeat interval.
  public var progressReports = false
  /// Network faults (probabilities per message).
  public var loss = 0.0
  public var duplication = 0.0
  public var maxDelay = 0.05
  public var random: SimRandom
  var epochs: UInt64 = 1
  public private(set) var restarts = 0
  /// Probability that the coordinator dies at the end of a batch, after its writes and before
  /// the sync: the batch is lost, nothing it held back leaves, and a new coordinator starts.
  public var crashBeforeSync = 0.0
  /// Set while the coordinator is dying: nothing it sends leaves.
  var dying = false
  /// Acknowledgements sent while the ledger had a batch open (must stay 0: group commit sends
  /// them only after the sync).
  public private(set) var acksBeforeSync = 0

  public init(trials: Int, settings: SchedulerSettings? = nil, seed: UInt64 = 1) {
    self.trials = sampleTrials(trials)
    var s =
      settings
      ?? SchedulerSettings(heartbeatInterval: 1, liveness: 3, maxAttempts: 20, trialTimeout: 60)
    s.datasetHashes = ["synthetic": simulatedDataHash]
    self.settings = s
    self.random = SimRandom(seed: seed)
    startCoordinator()
    ledger.failSync = { [unowned self] in
      guard self.crashBeforeSync > 0, self.random.chance(self.crashBeforeSync) else {
        return false
      }
      self.dying = true
      return true
    }
  }

  /// Starts (or restarts) the coordinator on the ledger's state: trials without a result, attempt
  /// numbers continuing after the recorded ones, a new epoch. Messages in flight to the old
  /// one are lost with it.
  public func startCoordinator() {
    epochs += 1
    settings.epoch = epochs
    // As the store does: attempts left open by the dead coordinator are read, then closed.
    let open = ledger.openAttempts()
    ledger.recoverInterrupted()
    let remaining = trials.filter { ledger.results[$0.id] == nil }.map { t -> CoordinatorTrial in
      var t = t
      t.previousAttempts = ledger.attemptCount(t.id)
      t.interrupted = open[t.id]
      return t
    }
    inFlight.removeAll { $0.toCoordinator }
    coordinator = CoordinatorCore(
      trials: remaining, settings: settings, ledger: ledger, transport: self,
      logger: quietLogger())
    coordinator.tick(now: now, drained: true)
  }

  /// Kills the coordinator (nothing it had not sent yet leaves) and starts a new one.
  public func restartCoordinator() {
    restarts += 1
    startCoordinator()
  }

  /// Adds a worker and registers it.
  @discardableResult
  public func addWorker(_ name: String, slots: Int = 1) -> SimWorker {
    var s = WorkerSettings(
      heartbeatInterval: settings.heartbeatInterval, liveness: settings.liveness,
      coordinatorTimeout: 1e9, host: "host-\(name)", pid: 1)
    s.slots = slots
    let w = SimWorker(id: WorkerID(name), settings: s)
    workers[w.id] = w
    perform(w, w.machine.start(now: now))
    return w
  }

  // CoordinatorTransport
  public func send(_ frames: [[UInt8]], to worker: WorkerID) throws -> SendStatus {
    if dying { return .sent }  // lost with the process
    guard let w = workers[worker], w.stopped == nil else { return .unreachable }
    if ledger.inOpenBatch, case .ack? = try? WireCodec.decode(frames) { acksBeforeSync += 1 }
    enqueue(
      InFlight(
        from: worker, connection: w.connection, frames: frames, toCoordinator: false, deliverAt: now
      ))
    return .sent
  }

  func enqueue(_ m: InFlight) {
    if random.chance(loss) { return }
    var m = m
    m.deliverAt = now + random.unit() * maxDelay
    inFlight.append(m)
    if random.chance(duplication) {
      m.deliverAt = now + random.unit() * maxDelay
      inFlight.append(m)
    }
  }

  func perform(_ w: SimWorker, _ actions: [WorkerAction]) {
    for a in actions {
      switch a {
      case .send(let m):
        if case .result(let body) = m, body.result != nil,
          body.result?.training.stopReason != .cancelled
        {
          w.sentResults[body.lease] = true
        }
        enqueue(
          InFlight(
            from: w.id, connection: w.connection, frames: WireCodec.encode(m), toCoordinator: true,
            deliverAt: now))
      case .run(let body):
        w.computing[body.lease] = (now + (w.trialSeconds ?? trialSeconds), body.config, false)
      case .cancel(let l):
        w.computing[l]?.cancelled = true
      case .reconnect:
        w.connection += 1
      case .log: break
      case .exit(let stop):
        w.stopped = stop
      }
    }
  }

  /// Kills worker `id` (its unacknowledged results die with it).
  public func kill(_ id: WorkerID, reportExit: Bool) {
    workers[id]?.stopped = .shutdown
    workers[id] = nil
    inFlight.removeAll { $0.from == id }
    if reportExit { coordinator.workerExited(id, reason: "killed", now: now) }
  }

  /// Advances the fake clock by `dt`, delivering due messages and running every party.
  public func step(_ dt: Double = 0.1) {
    now += dt
    var due: [InFlight] = []
    inFlight.removeAll { m in
      if m.deliverAt <= now {
        due.append(m)
        return true
      }
      return false
    }
    // Reordering: messages due in the same step are delivered in random order.
    if maxDelay > 0 {
      for i in due.indices.reversed() where i > 0 {
        due.swapAt(i, random.below(i + 1))
      }
    }
    // The coordinator handles what reached it in this step as one group commit.
    coordinatorBatch {
      for m in due where m.toCoordinator {
        guard let w = workers[m.from], w.connection == m.connection || random.chance(0.5) else {
          continue
        }
        coordinator.receive(m.frames, from: m.from, now: now)
      }
    }
    for m in due where !m.toCoordinator {
      guard let w = workers[m.from], w.stopped == nil, !w.frozen, m.connection == w.connection
      else { continue }
      if case .ack(let l)? = try? WireCodec.decode(m.frames), w.sentResults[l] == true {
        w.acknowledged.insert(l.trial)
        w.sentResults[l] = nil
      }
      perform(w, w.machine.receive(m.frames, now: now))
    }
    for w in workers.values.sorted(by: { $0.id < $1.id }) where w.stopped == nil && !w.frozen {
      for (l, c) in w.computing.sorted(by: { $0.key.trial < $1.key.trial })
      where c.finishAt <= now || c.cancelled {
        w.computing[l] = nil
        var result = simulatedResult(c.config, dataHash: w.dataHash)
        if c.cancelled { result.training.stopReason = .cancelled }
        if w.corruptResults { result.training.wallSeconds = .nan }
        perform(w, w.machine.finished(ResultBody(lease: l, result: result, error: nil), now: now))
      }
      if progressReports {
        for (l, c) in w.computing.sorted(by: { $0.key.trial < $1.key.trial }) {
          let seconds = w.trialSeconds ?? trialSeconds
          let done = min(1, max(0, 1 - (c.finishAt - now) / seconds))
          let body = ProgressBody(
            lease: l, iteration: Int(done * 100), maxIterations: 100, trainAccuracy: nil)
          perform(w, w.machine.progress(body, now: now))
        }
      }
      perform(w, w.machine.tick(now: now))
    }
    coordinatorBatch { coordinator.tick(now: now, drained: true) }
  }

  /// Runs `body` in one batch of the coordinator; if the coordinator died before the sync,
  /// starts a new one.
  func coordinatorBatch(_ body: () -> Void) {
    coordinator.batch(body)
    if dying {
      dying = false
      restartCoordinator()
    }
  }

  /// Steps until `done()` or `seconds` of fake time pass; returns whether `done()` held.
  @discardableResult
  public func run(for seconds: Double, until done: () -> Bool = { false }) -> Bool {
    let end = now + seconds
    while now < end {
      if done() { return true }
      step()
    }
    return done()
  }

  /// Every trial has a result or failed.
  public var allSettled: Bool {
    trials.allSatisfy { ledger.results[$0.id] != nil || ledger.failedTrials[$0.id] != nil }
  }

  /// The invariants that must hold after every step; returns the violations.
  public func violations() -> [String] {
    var out: [String] = []
    if !ledger.doubleCommits.isEmpty { out.append("double commits: \(ledger.doubleCommits)") }
    if !ledger.reusedAttempts.isEmpty { out.append("reused attempts: \(ledger.reusedAttempts)") }
    if acksBeforeSync > 0 {
      out.append("\(acksBeforeSync) acks sent before their batch was synced")
    }
    for id in ledger.foreignConfigs {
      out.append("stored result of \(id.short) has another config")
    }
    for w in workers.values {
      for t in w.acknowledged where ledger.results[t] == nil {
        out.append("worker \(w.id) saw \(t.short) acknowledged but the store lacks it")
      }
    }
    return out
  }
}
