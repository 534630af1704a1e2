import SweepSpec
import TailNet

@testable import SweepWire

// Fixtures shared by the scheduler, worker machine and codec tests.

/// A made-up trial id (ordering follows `n`). Trials registered with such ids carry no config,
/// so the scheduler skips the config-hash check for them.
func tid(_ n: Int) -> TrialID {
  let hex = String(format: "%064x", n)
  guard let id = TrialID(hex: hex) else { fatalError("bad id") }
  return id
}

/// A real, valid configuration; `seed` makes distinct ones.
func config(_ seed: Int, maxIterations: Int = 200) -> TrialConfig {
  TrialConfig(
    dataset: DatasetSpec(name: "synthetic", trainSize: 500, testSize: 200), width: 16, eta: 0.1,
    batchSize: 10, maxIterations: maxIterations, seed: UInt64(seed))
}

/// The id of `config(seed)`: a real, content-addressed trial id.
func rid(_ seed: Int) -> TrialID { TrialID(config: config(seed)) }

/// A scheduler entry for the real trial `config(seed)` (so results are config-checked).
func realTrial(_ seed: Int, cost: Double = 1, previousAttempts: Int = 0) -> SchedulerTrial {
  SchedulerTrial(
    id: rid(seed), cost: cost, previousAttempts: previousAttempts, config: config(seed))
}

let sampleConfig = config(0)

/// A result that passes `TrialResult.validationProblems()` (finite losses: a run that stopped at
/// its iteration cap may not carry a NaN loss any more).
func sampleResult(
  _ stop: StopReason = .maxIterations, config: TrialConfig = sampleConfig,
  datasetHash: String? = nil
) -> TrialResult {
  TrialResult(
    config: config,
    training: TrainingSummary(
      stopReason: stop, iterations: 200, wallSeconds: 0.5,
      final: EvalPoint(
        iteration: 200, trainLoss: 0.25, trainAccuracy: 0.9, testLoss: 0.3, testAccuracy: 0.8),
      history: [
        EvalPoint(
          iteration: 100, trainLoss: 0.5, trainAccuracy: 0.7, testLoss: 0.6, testAccuracy: 0.65)
      ]),
    compression: nil, datasetHash: datasetHash)
}

/// What a null-trial worker answers (dispatch benchmark): no evaluation, marked as null.
func nullResult(config: TrialConfig = sampleConfig) -> TrialResult {
  TrialResult(
    config: config,
    training: TrainingSummary(
      stopReason: .maxIterations, iterations: 0, wallSeconds: 0, final: nil, history: []),
    compression: nil, datasetHash: TrialResult.nullTrialDatasetHash)
}

/// A worker state report (epoch 1 is the default `SchedulerSettings.epoch`).
func state(_ credits: Int, running: [Lease] = [], seen: Int = 0, epoch: UInt64 = 1)
  -> WorkerState
{
  WorkerState(credits: credits, running: running, epoch: epoch, seen: seen)
}

/// A `ready` body: `credits` free of `slots`.
func ready(
  _ credits: Int = 1, fresh: Bool = true, running: [Lease] = [], slots: Int? = nil,
  seen: Int = 0, host: String = "h", nullTrials: Bool = false
) -> ReadyBody {
  ReadyBody(
    fresh: fresh, host: host, pid: 1, slots: slots ?? max(1, credits + running.count),
    nullTrials: nullTrials, state: state(credits, running: running, seen: seen))
}

func resultBody(
  _ trial: TrialID, _ attempt: Int, _ r: TrialResult? = sampleResult(), error: String? = nil
) -> ResultBody {
  ResultBody(lease: Lease(trial: trial, attempt: attempt), result: r, error: error)
}

func lease(_ trial: TrialID, _ attempt: Int) -> Lease { Lease(trial: trial, attempt: attempt) }

/// Heartbeat 1 s, deadline 3 s, 3 attempts, wall-time limit 100 s.
let fast = SchedulerSettings(heartbeatInterval: 1, liveness: 3, maxAttempts: 3, trialTimeout: 100)

/// Heartbeat 1 s, deadline 100 s (no worker dies by silence), `trialTimeout` as given.
func patient(trialTimeout: Double = 100, maxAttempts: Int = 5) -> SchedulerSettings {
  SchedulerSettings(
    heartbeatInterval: 1, liveness: 100, maxAttempts: maxAttempts, trialTimeout: trialTimeout)
}

struct Assigned: Hashable {
  var lease: Lease
  var worker: WorkerID
  var seq: Int
  var resend: Bool
}

struct Ended: Hashable {
  var lease: Lease
  var worker: WorkerID
  var outcome: AttemptOutcome
  var error: String
}

extension Array where Element == SchedulerAction {
  var assigns: [Assigned] {
    compactMap {
      if case .assign(let l, let w, let seq, let resend) = $0 {
        Assigned(lease: l, worker: w, seq: seq, resend: resend)
      } else {
        nil
      }
    }
  }
  /// Leases of first-time assignments (resends left out).
  var newLeases: [Lease] { assigns.filter { !$0.resend }.map(\.lease) }
  var commits: [(lease: Lease, worker: WorkerID, result: TrialResult)] {
    compactMap { if case .commit(let l, let w, let r) = $0 { (l, w, r) } else { nil } }
  }
  var commitLeases: [Lease] { commits.map(\.lease) }
  var ends: [Ended] {
    compactMap {
      if case .endAttempt(let l, let w, let o, let e) = $0 {
        Ended(lease: l, worker: w, outcome: o, error: e)
      } else {
        nil
      }
    }
  }
  var outcomes: [AttemptOutcome] { ends.map(\.outcome) }
  var duplicates: [Lease] { ends.filter { $0.outcome == .duplicate }.map(\.lease) }
  var acks: [Lease] { compactMap { if case .ack(let l, _) = $0 { l } else { nil } } }
  var rejects: [(worker: WorkerID, body: RejectBody)] {
    compactMap { if case .reject(let w, let b) = $0 { (w, b) } else { nil } }
  }
  var rejectCodes: [RejectCode] { rejects.map(\.body.code) }
  var requeues: [TrialID] { compactMap { if case .requeue(let t, _) = $0 { t } else { nil } } }
  var cancels: [Lease] { compactMap { if case .cancel(let l, _) = $0 { l } else { nil } } }
  var failures: [TrialID] { compactMap { if case .fail(let t, _) = $0 { t } else { nil } } }
  var lostWorkers: [WorkerID] {
    compactMap { if case .workerLost(let w, _) = $0 { w } else { nil } }
  }
  var quarantines: [(worker: WorkerID, until: Double)] {
    compactMap { if case .quarantined(let w, let u, _) = $0 { (w, u) } else { nil } }
  }
  var shutdowns: [(worker: WorkerID, hold: Bool)] {
    compactMap { if case .shutdown(let w, _, let h) = $0 { (w, h) } else { nil } }
  }
  var finished: Bool { contains(.finished) }

  /// Index of the first action matching `match`.
  func index(_ match: (SchedulerAction) -> Bool) -> Int? { firstIndex(where: match) }
}

func isCommit(_ a: SchedulerAction) -> Bool { if case .commit = a { true } else { false } }
func isAck(_ a: SchedulerAction) -> Bool { if case .ack = a { true } else { false } }

// MARK: Worker machine

func workerSettings(slots: Int = 1, maxResultBytes: Int = wireMaxResultBody) -> WorkerSettings {
  var s = WorkerSettings(
    heartbeatInterval: 1, liveness: 3, coordinatorTimeout: 10, host: "node1", pid: 7)
  s.slots = slots
  s.maxResultBytes = maxResultBytes
  return s
}

func assignFrames(_ l: Lease, seq: Int, epoch: UInt64 = 1, config c: TrialConfig = sampleConfig)
  -> [[UInt8]]
{
  WireCodec.encode(
    .assign(AssignBody(lease: l, config: c, timeLimit: 60, epoch: epoch, seq: seq)))
}

extension Array where Element == WorkerAction {
  var sent: [WireMessage] { compactMap { if case .send(let m) = $0 { m } else { nil } } }
  var sentResults: [ResultBody] {
    sent.compactMap { if case .result(let b) = $0 { b } else { nil } }
  }
  var sentStates: [WorkerState] {
    compactMap { if case .send(.heartbeat(let st?)) = $0 { st } else { nil } }
  }
  var sentReadies: [ReadyBody] {
    sent.compactMap { if case .ready(let b) = $0 { b } else { nil } }
  }
  var runs: [Lease] { compactMap { if case .run(let b) = $0 { b.lease } else { nil } } }
  var cancels: [Lease] { compactMap { if case .cancel(let l) = $0 { l } else { nil } } }
  var exits: [WorkerStop] { compactMap { if case .exit(let s) = $0 { s } else { nil } } }
  var reconnects: Bool { contains(.reconnect) }
}
