import Foundation
import SweepSpec
import Testing

@testable import SweepStore

/// What a coordinator killed mid-sweep leaves: attempts never closed. The next coordinator reads
/// them (`openAttempts`, to wait for their workers) before `beginSweep` closes them as `lost`.
@Test func openAttemptsAreTheKilledCoordinatorsLeasesUntilTheNextSweepStartClosesThem() throws {
  let path = try Fixtures.storePath()
  let trials = Fixtures.trials(1...4)
  do {
    let store = try SweepStore(path: path)
    _ = try store.beginSweep(
      name: "s", description: "d", text: "x", trials: trials, provenance: Fixtures.provenance)
    try Fixtures.run(store, trials[0])  // committed
    for (i, t) in trials.dropFirst().enumerated() {
      try store.attemptStarted(trial: t.id, attempt: 1, worker: "w\(i)", host: "h", at: Date())
    }
    try store.attemptEnded(  // closed: timed out, then a second attempt runs
      trial: trials[1].id, attempt: 1, outcome: .timedOut, error: "slow", at: Date())
    try store.attemptStarted(trial: trials[1].id, attempt: 2, worker: "w9", host: "h", at: Date())
    try store.close()  // the coordinator dies here: attempts stay open
  }
  let store = try SweepStore(path: path)
  let open = try store.openAttempts(sweepID: nil).map {
    "\($0.trial.short)#\($0.attempt)@\($0.worker)"
  }
  let expected = [(1, 2, "w9"), (2, 1, "w1"), (3, 1, "w2")].map { i, a, w in
    "\(trials[i].id.short)#\(a)@\(w)"
  }
  #expect(Set(open) == Set(expected))
  _ = try store.beginSweep(
    name: "s", description: "d", text: "x", trials: trials, provenance: Fixtures.provenance)
  #expect(try store.openAttempts(sweepID: nil).isEmpty)
}
