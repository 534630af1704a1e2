import SweepSpec

/// The trials waiting for a worker, in dispatch order, with O(log T) insert, remove and
/// take-next, so that the scheduler's cost per event does not grow with the sweep.
///
/// The order is fixed when the queue is made (larger cost first, then smaller id), so each
/// trial gets a rank once and the queue holds ranks:
/// - `clean`: a binary min-heap of the ranks of pending trials that avoid no worker. Removal is
///   lazy: an entry whose trial is no longer pending here is skipped when it reaches the top
///   (a rank may appear more than once after a requeue; only one copy is ever live).
/// - `tainted`: the sorted ranks of pending trials that avoid some worker (after a timeout or
///   a lost lease). These are few, and each may be passed over by some workers, so they are
///   scanned in order. A trial moves from `clean` to `tainted` when it is found at the top
///   with an avoid set (avoid sets only grow).
struct PendingQueue {
  private enum Place: UInt8 {
    case absent, clean, tainted
  }

  private let ids: [TrialID]
  private let rank: [TrialID: Int32]
  private var place: [Place]
  private var heap: [Int32] = []
  private var tainted: [Int32] = []
  /// Number of pending trials.
  private(set) var count = 0

  /// A queue over `ordered` (already in dispatch order), all pending.
  init(ordered: [TrialID]) {
    ids = ordered
    var r: [TrialID: Int32] = [:]
    r.reserveCapacity(ordered.count)
    for (i, id) in ordered.enumerated() { r[id] = Int32(i) }
    rank = r
    place = Array(repeating: .clean, count: ordered.count)
    // Ranks 0..<n in increasing order already form a valid min-heap.
    heap = (0..<Int32(ordered.count)).map { $0 }
    count = ordered.count
  }

  var isEmpty: Bool { count == 0 }

  /// Whether `id` is pending.
  func contains(_ id: TrialID) -> Bool {
    guard let r = rank[id] else { return false }
    return place[Int(r)] != .absent
  }

  /// Makes `id` pending (no-op if it already is or is unknown).
  mutating func insert(_ id: TrialID) {
    guard let r = rank[id], place[Int(r)] == .absent else { return }
    place[Int(r)] = .clean
    push(r)
    count += 1
  }

  /// Takes `id` out (no-op if it is not pending).
  mutating func remove(_ id: TrialID) {
    guard let r = rank[id] else { return }
    switch place[Int(r)] {
    case .absent: return
    case .clean: break  // its heap entry goes stale
    case .tainted:
      if let i = tainted.firstIndex(of: r) { tainted.remove(at: i) }
    }
    place[Int(r)] = .absent
    count -= 1
  }

  /// The first pending trial in order that `accepts` (each trial's avoid set decides), or
  /// failing that the first that `fallback` accepts among the trials `accepts` refused.
  /// `isTainted` says whether a trial avoids anyone.
  mutating func first(
    isTainted: (TrialID) -> Bool, accepts: (TrialID) -> Bool, fallback: (TrialID) -> Bool
  ) -> TrialID? {
    // Bring the clean top up to date: stale entries go, tainted trials move over.
    while let top = heap.first {
      switch place[Int(top)] {
      case .clean where isTainted(ids[Int(top)]):
        popTop()
        place[Int(top)] = .tainted
        let i = insertionIndex(top)
        tainted.insert(top, at: i)
        continue
      case .clean:
        break
      case .absent, .tainted:
        popTop()
        continue
      }
      break
    }
    let cleanTop = heap.first
    for r in tainted {
      if let c = cleanTop, c < r { return ids[Int(c)] }
      if accepts(ids[Int(r)]) { return ids[Int(r)] }
    }
    if let c = cleanTop { return ids[Int(c)] }
    for r in tainted where fallback(ids[Int(r)]) { return ids[Int(r)] }
    return nil
  }

  /// Every pending trial, in order (O(T log T): for progress views and tests).
  var ordered: [TrialID] {
    var ranks = tainted
    var seen = Set<Int32>()
    for r in heap where place[Int(r)] == .clean && seen.insert(r).inserted { ranks.append(r) }
    return ranks.sorted().map { ids[Int($0)] }
  }

  private func insertionIndex(_ r: Int32) -> Int {
    var lo = 0
    var hi = tainted.count
    while lo < hi {
      let mid = (lo + hi) / 2
      if tainted[mid] < r { lo = mid + 1 } else { hi = mid }
    }
    return lo
  }

  private mutating func push(_ r: Int32) {
    heap.append(r)
    var i = heap.count - 1
    while i > 0 {
      let parent = (i - 1) / 2
      if heap[parent] <= heap[i] { break }
      heap.swapAt(parent, i)
      i = parent
    }
  }

  private mutating func popTop() {
    let last = heap.removeLast()
    guard !heap.isEmpty else { return }
    heap[0] = last
    var i = 0
    let n = heap.count
    while true {
      let l = 2 * i + 1
      let r = l + 1
      var m = i
      if l < n && heap[l] < heap[m] { m = l }
      if r < n && heap[r] < heap[m] { m = r }
      if m == i { break }
      heap.swapAt(i, m)
      i = m
    }
  }
}
