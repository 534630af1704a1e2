import SweepSpec
import TailNet

@testable import SweepWire

/// A trial id made of one repeated hex digit pattern (ordering follows `n`).
func tid(_ n: Int) -> TrialID {
  let hex = String(format: "%064x", n)
  guard let id = TrialID(hex: hex) else { fatalError("bad id") }
  return id
}

let sampleConfig = TrialConfig(
  dataset: DatasetSpec(name: "synthetic", trainSize: 500, testSize: 200), width: 16, eta: 0.1,
  batchSize: 10, maxIterations: 200)

func sampleResult(_ stop: StopReason = .maxIterations) -> TrialResult {
  TrialResult(
    config: sampleConfig,
    training: TrainingSummary(
      stopReason: stop, iterations: 200, wallSeconds: 0.5,
      final: EvalPoint(
        iteration: 200, trainLoss: .nan, trainAccuracy: 0.9, testLoss: 0.3, testAccuracy: 0.8),
      history: []),
    compression: nil, datasetHash: nil)
}

func ready(_ credits: Int = 1, fresh: Bool = true, running: [Lease] = []) -> ReadyBody {
  ReadyBody(credits: credits, fresh: fresh, host: "h", pid: 1, running: running)
}

func resultBody(
  _ trial: TrialID, _ attempt: Int, _ r: TrialResult? = sampleResult(), error: String? = nil
)
  -> ResultBody
{
  ResultBody(lease: Lease(trial: trial, attempt: attempt), result: r, error: error)
}

let fast = SchedulerSettings(heartbeatInterval: 1, liveness: 3, maxAttempts: 3, trialTimeout: 100)

extension Array where Element == SchedulerAction {
  var assigns: [(TrialID, Int, WorkerID)] {
    compactMap { if case .assign(let t, let a, let w) = $0 { (t, a, w) } else { nil } }
  }
  var commits: [(TrialID, Int)] {
    compactMap { if case .commit(let t, let a, _, _) = $0 { (t, a) } else { nil } }
  }
  var duplicates: [(TrialID, Int)] {
    compactMap { if case .recordDuplicate(let t, let a, _, _) = $0 { (t, a) } else { nil } }
  }
  var ends: [(Lease, AttemptEnd)] {
    compactMap { if case .endAttempt(let l, _, let e, _) = $0 { (l, e) } else { nil } }
  }
  var failures: [TrialID] { compactMap { if case .fail(let t, _) = $0 { t } else { nil } } }
  var finished: Bool { contains(.finished) }
}
