import Foundation
import SweepSpec
import SweepStore
import TailNet
import TailSweepTestSupport
import Testing

@testable import SweepServe

/// The live view's snapshots, against a real SQLite store that a writer (as a coordinator
/// would) keeps open and changes between calls. Its results: `Fixture.compactResult` with the
/// moment estimator beside Hill, and the unpruned evaluation as the pruned one.
private func liveResult(_ c: TrialConfig, pruning: Double) -> TrialResult {
  Fixture.compactResult(
    c, pruning: pruning,
    tail: TailIndexEstimate(hill: 1.6, hillK: 10, other: 1.4, otherName: "moment"),
    pruned: Fixture.compactFinal)
}

@Test func snapshotsFollowAWriterAndSayWhatIsRunningFailedAndDone() throws {
  let dir = try TestFiles.temporaryDirectory("serve")
  defer { try? FileManager.default.removeItem(at: dir) }
  let clock = Date(timeIntervalSince1970: 1_800_000_000)
  let view = LiveView(
    results: dir.path, now: { clock.addingTimeInterval(40) }, minCheckInterval: 0,
    rebuildSpacing: 0)
  defer { view.close() }

  // No store yet: a snapshot that says so.
  #expect(view.snapshot().waitingReason == "no store yet")
  #expect(API.status(view.snapshot()).total == 0)

  let store = try SweepStore(path: dir.appendingPathComponent("sweep.sqlite").path)
  defer { try? store.close() }
  let configs = [0.0, 0.5].flatMap { s in
    (1...2).map { Fixture.grid(width: 32, sigma: s, seed: $0) }
  }
  let ids = configs.map { TrialID(config: $0) }
  _ = try store.beginSweep(
    name: "live", description: "unit", text: "",
    trials: configs.map { PlannedTrial(config: $0, relativeCost: 1) },
    provenance: Provenance(
      toolVersion: "t", gitCommit: "abc", host: "h", datasetHashes: [:], blas: "-"))
  let start = try #require(try store.sweeps().first?.lastRunAt)

  // Trial 0 committed after 10 s, trial 1 running on w2, trial 2 failed once, trial 3 pending.
  try store.attemptStarted(trial: ids[0], attempt: 1, worker: "w1", host: "h1", at: start)
  _ = try store.commit(
    trial: ids[0], attempt: 1, worker: "w1", result: liveResult(configs[0], pruning: 0.1),
    at: start.addingTimeInterval(10))
  try store.attemptStarted(
    trial: ids[1], attempt: 1, worker: "w2", host: "h2", at: start.addingTimeInterval(12))
  try store.attemptStarted(
    trial: ids[2], attempt: 1, worker: "w1", host: "h1", at: start.addingTimeInterval(11))
  try store.attemptEnded(
    trial: ids[2], attempt: 1, outcome: .failed, error: "out of memory",
    at: start.addingTimeInterval(13))

  let s1 = view.snapshot()
  #expect(s1.waitingReason == nil)
  #expect(s1.sweepName == "live")
  #expect(s1.status?.count(.done) == 1)
  #expect(s1.status?.count(.running) == 1)
  #expect(s1.running.map(\.trial) == [ids[1]])
  #expect(s1.running.first?.worker == "w2")
  #expect(s1.failures.map(\.error) == ["out of memory"])
  #expect(s1.recent.map(\.row.id) == [ids[0]])
  // ETA: 1 trial finished in the run so far; 3 remain (1 running, 2 pending).
  let elapsed = clock.addingTimeInterval(40).timeIntervalSince(start)
  #expect(abs((s1.etaSeconds ?? 0) - 3 * elapsed) < 1e-6)
  let status = API.status(s1)
  #expect(status.finished == 1 && status.total == 4)
  #expect(status.workers.first { $0.worker == "w2" }?.current.map(\.trial) == [ids[1].hex])
  #expect(status.notStored.contains("idle workers included"))
  #expect(status.workers.first { $0.worker == "w2" }?.current.first?.iteration == nil)

  // The coordinator records the lease's progress: the snapshot shows it (patched, not
  // rebuilt: counts and activity are unchanged) under a new version.
  let reported = start.addingTimeInterval(15)
  try store.recordProgress([
    AttemptProgress(trial: ids[1], attempt: 1, iteration: 700, maxIterations: 2000, at: reported)
  ])
  let progressed = view.snapshot()
  #expect(progressed.version != s1.version)
  // Tables and figures did not change: the page need not reload them.
  #expect(progressed.tablesVersion == s1.tablesVersion)
  let lease = API.status(progressed).workers.first { $0.worker == "w2" }?.current.first
  #expect(lease?.iteration == 700 && lease?.maxIterations == 2000 && lease?.progressAt == reported)
  #expect(API.status(progressed).workers.allSatisfy { $0.lastHeartbeat == nil })

  // The coordinator records worker liveness: w3 registered but never got a lease (idle); its
  // heartbeats show, and so do the busy worker's; a worker last heard from before this run
  // began is not shown.
  try store.recordWorkers([
    WorkerLiveness(
      worker: "w2", host: "h2", slots: 1, registeredAt: start,
      lastSeen: start.addingTimeInterval(30),
      state: .active),
    WorkerLiveness(
      worker: "w3", host: "h3", slots: 4, registeredAt: start.addingTimeInterval(5),
      lastSeen: start.addingTimeInterval(37), state: .active),
    WorkerLiveness(
      worker: "old", host: "h0", slots: 1, registeredAt: start.addingTimeInterval(-99),
      lastSeen: start.addingTimeInterval(-50), state: .gone),
  ])
  let heard = view.snapshot()
  #expect(heard.version != progressed.version)
  #expect(heard.tablesVersion == s1.tablesVersion)
  let fleet = API.status(heard).workers
  #expect(fleet.map(\.worker) == ["w1", "w2", "w3"])
  let idle = try #require(fleet.first { $0.worker == "w3" })
  #expect(idle.current.isEmpty && idle.attempts == 0 && idle.host == "h3" && idle.slots == 4)
  #expect(idle.state == "active" && idle.lastHeartbeat == start.addingTimeInterval(37))
  #expect(fleet.first { $0.worker == "w2" }?.lastHeartbeat == start.addingTimeInterval(30))
  #expect(fleet.first { $0.worker == "w1" }?.lastHeartbeat == nil)
  let json = String(decoding: API.encode(API.status(heard)), as: UTF8.self)
  #expect(json.contains("\"lastHeartbeat\""), "\(json)")

  // A new commit changes the version; the paired answer appears once noisy and plain pair.
  _ = try store.commit(
    trial: ids[1], attempt: 1, worker: "w2", result: liveResult(configs[1], pruning: 0.12),
    at: start.addingTimeInterval(20))
  try store.attemptStarted(trial: ids[2], attempt: 2, worker: "w1", host: "h1", at: start)
  _ = try store.commit(
    trial: ids[2], attempt: 2, worker: "w1", result: liveResult(configs[2], pruning: 0.4),
    at: start.addingTimeInterval(21))
  let s2 = view.snapshot()
  #expect(s2.version != s1.version && s2.tablesVersion != s1.tablesVersion)
  #expect(s2.recent.map(\.row.id) == [ids[2], ids[1], ids[0]])
  #expect(s2.answer.count == 1)
  #expect(!s2.tables.isEmpty && !s2.figures.isEmpty)
  // Unchanged store: the same snapshot (same version) without a rebuild.
  #expect(view.snapshot().version == s2.version)

  // A trial's detail: attempts in order, with the failure's error.
  let d = try #require(view.trial(ids[2]))
  #expect(d.attempts.map(\.outcome) == [.failed, .committed])
  #expect(d.attempts.first?.error == "out of memory")
  #expect(d.provenance?.gitCommit == "abc")
  let page = Pages.trial(d)
  for part in ["id=\"config\"", "id=\"attempts\"", "Training curve", "Pruning curve", "err(κ)"] {
    #expect(page.contains(part), "trial page lacks \(part)")
  }
  #expect(view.trial(TrialID(config: Fixture.grid(width: 7, sigma: 0, seed: 9))) == nil)
}

@Test func addressesAreParsedAndRemoteOnesNeedTheFlagAndAToken() throws {
  #expect(try ServeOptions(address: "127.0.0.1:8321").parsed() == ("127.0.0.1", 8321))
  #expect(try ServeOptions(address: "localhost:0").parsed() == ("127.0.0.1", 0))
  #expect(try ServeOptions(address: "[::1]:9000").parsed() == ("::1", 9000))
  for bad in ["127.0.0.1", "host.example:80", "127.0.0.1:99999", "[::1]9000", ":80"] {
    #expect(throws: ServeError.self, "\(bad)") { try ServeOptions(address: bad).parsed() }
  }
  try ServeOptions(address: "127.0.0.1:0").validate()
  #expect(throws: ServeError.self) { try ServeOptions(address: "0.0.0.0:80").validate() }
  #expect(throws: ServeError.self) {
    try ServeOptions(address: "0.0.0.0:80", allowRemote: true).validate()
  }
  #expect(throws: ServeError.self) {
    try ServeOptions(address: "0.0.0.0:80", allowRemote: true, token: "short").validate()
  }
  try ServeOptions(address: "0.0.0.0:80", allowRemote: true, token: "0123456789abcdef").validate()
  #expect(constantTimeEqual("abc", "abc"))
  #expect(!constantTimeEqual("abc", "abd"))
  #expect(!constantTimeEqual("abc", "abcd"))
  #expect(!constantTimeEqual("", "a"))
}
