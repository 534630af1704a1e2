import Foundation
import SweepSpec
import SweepStore
import TailNet
import TailSweepTestSupport
import Testing

@testable import SweepReport

@Test func reportFromARealStoreMatchesTheRows() throws {
  let dir = try TestFiles.temporaryDirectory("report-store")
  defer { try? FileManager.default.removeItem(at: dir) }
  let path = try Fixture.makeStore(Fixture.sweep, in: dir)
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
