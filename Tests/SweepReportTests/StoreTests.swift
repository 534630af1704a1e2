import Foundation
import SweepSpec
import SweepStore
import TailNet
import Testing

@testable import SweepReport

/// Writes `rows` into a real SQLite store the way the coordinator does (begin, lease, commit or
/// give up) and returns the store's path.
func makeStore(_ rows: [TrialRow], in dir: URL) throws -> String {
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  let path = dir.appendingPathComponent("sweep.sqlite").path
  let store = try SweepStore(path: path)
  let planned = rows.map { PlannedTrial(config: $0.config, relativeCost: 1) }
  _ = try store.beginSweep(
    name: "fixture", description: "report test", text: "", trials: planned,
    provenance: Provenance(
      toolVersion: "test", gitCommit: nil, host: "test", datasetHashes: [:], blas: "none"))
  let t0 = Date(timeIntervalSince1970: 1_700_000_000)
  for r in rows {
    switch r.state {
    case .done, .diverged:
      try store.attemptStarted(trial: r.id, attempt: 1, worker: "w1", host: "h", at: t0)
      if let res = r.result {
        try store.commit(trial: r.id, attempt: 1, worker: "w1", result: res, at: t0)
      }
    case .failed:
      try store.attemptStarted(trial: r.id, attempt: 1, worker: "w1", host: "h", at: t0)
      try store.attemptEnded(trial: r.id, attempt: 1, outcome: .crashed, error: "crashed", at: t0)
      try store.markFailed(trial: r.id, error: "crashed")
    case .pending, .running:
      break
    }
  }
  try store.close()
  return path
}

@Test func reportFromARealStoreMatchesTheRows() throws {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
    "report-store-\(UUID().uuidString)")
  defer { try? FileManager.default.removeItem(at: dir) }
  let path = try makeStore(Fixture.sweep, in: dir)
  let store = try SweepStore(readOnlyPath: path)
  let rows = try store.rows(sweepID: nil)
  try store.close()
  #expect(rows.count == Fixture.sweep.count)
  let fromStore = try SweepReport.aggregate(rows, by: ["width", "sigma"])
  let direct = try SweepReport.aggregate(Fixture.sweep, by: ["width", "sigma"])
  #expect(fromStore.totals == TrialCounts(ok: 12, diverged: 1, failed: 1, pending: 1, atCap: 1))
  #expect(fromStore == direct)
  let s = try SweepReport.write(rows: rows, to: dir, by: nil)
  #expect(s.files.contains("index.html"))
}
