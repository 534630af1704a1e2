import Foundation
import SweepSpec
import Testing

@testable import SweepStore

/// What a coordinator killed mid-sweep leaves: attempts never closed. Start-up recovery closes
/// them `lost` (`interruptedAttemptError`), and `interruptedAttempts` gives the next coordinator
/// each pending trial's interrupted lease and its worker (to hold the trial for it), also after
/// a second restart with nothing run in between; a trial whose latest attempt is newer is not
/// listed.
@Test func interruptedAttemptsAreTheLeasesAKilledCoordinatorLeftOpen() throws {
  let path = try Fixtures.storePath()
  let trials = Fixtures.trials(1...5)
  func start(_ store: SweepStore) throws -> Int64 {
    let id = try store.beginSweep(
      name: "s", description: "d", text: "x", trials: trials, provenance: Fixtures.provenance)
    _ = try store.trialsToRun(sweepID: id)
    return id
  }
  do {
    let store = try SweepStore(path: path)
    _ = try start(store)
    try Fixtures.run(store, trials[0])  // committed: not pending
    for (i, t) in trials.dropFirst().enumerated() {
      try store.attemptStarted(trial: t.id, attempt: 1, worker: "w\(i)", host: "h", at: Date())
    }
    // Timed out, then a second attempt runs on w9.
    try store.attemptEnded(
      trial: trials[1].id, attempt: 1, outcome: .timedOut, error: "slow", at: Date())
    try store.attemptStarted(trial: trials[1].id, attempt: 2, worker: "w9", host: "h", at: Date())
    // Ended by the coordinator itself (not interrupted): not listed.
    try store.attemptEnded(
      trial: trials[4].id, attempt: 1, outcome: .lost, error: "worker w3 silent", at: Date())
    try store.close()  // the coordinator is killed here: attempts 2@w9, 1@w1, 1@w2 stay open
  }
  func listed(_ store: SweepStore, _ id: Int64) throws -> Set<String> {
    Set(
      try store.interruptedAttempts(sweepID: id).map {
        "\($0.trial.short)#\($0.attempt)@\($0.worker)"
      })
  }
  let expected = Set(
    [(1, 2, "w9"), (2, 1, "w1"), (3, 1, "w2")].map { i, a, w in "\(trials[i].id.short)#\(a)@\(w)" })
  do {
    let store = try SweepStore(path: path)
    let id = try start(store)
    #expect(try store.openAttempts(sweepID: nil).isEmpty)
    #expect(try listed(store, id) == expected)
    try store.close()  // killed again before anything ran
  }
  let store = try SweepStore(path: path)
  let id = try start(store)
  #expect(try listed(store, id) == expected)
  // A new lease of one of them replaces the interrupted one.
  try store.attemptStarted(trial: trials[2].id, attempt: 2, worker: "w5", host: "h", at: Date())
  #expect(try listed(store, id) == expected.subtracting(["\(trials[2].id.short)#1@w1"]))
}
