import SweepSpec
import TailSweepTestSupport
import Testing

@testable import SweepWire

/// Model-based: random inserts, removals, avoid sets and takes against a sorted array with the
/// scheduler's old linear rules (first trial in order that accepts the worker, else the first
/// that the fallback accepts). 200 seeds × 400 operations over 1–40 trials.
@Test func pendingQueueMatchesTheLinearModel() {
  for seed in 0..<200 {
    var r = SimRandom(state: UInt64(seed))
    let n = 1 + r.below(40)
    let ids = (0..<n).map { tid($0) }
    var q = PendingQueue(ordered: ids)
    var model = Set(ids)
    var avoid: [TrialID: Set<Int>] = [:]
    for step in 0..<400 {
      let id = ids[r.below(n)]
      switch r.below(10) {
      case 0..<3:
        q.remove(id)
        model.remove(id)
      case 3..<6:
        q.insert(id)
        model.insert(id)
      case 6:
        avoid[id, default: []].insert(r.below(3))  // avoid sets only grow
      default:
        let worker = r.below(3)
        let noOther = r.below(2) == 0
        let accepts = { (t: TrialID) in !(avoid[t]?.contains(worker) ?? false) }
        let fallback = { (_: TrialID) in noOther }
        let ordered = ids.filter { model.contains($0) }
        let expected = ordered.first(where: accepts) ?? ordered.first(where: fallback)
        let got = q.first(
          isTainted: { !(avoid[$0]?.isEmpty ?? true) }, accepts: accepts, fallback: fallback)
        #expect(got == expected, "seed \(seed) step \(step)")
        if got != expected { return }
      }
      #expect(q.count == model.count)
      #expect(q.ordered == ids.filter { model.contains($0) })
      #expect(ids.allSatisfy { q.contains($0) == model.contains($0) })
    }
  }
}
