import TailMath

/// A deterministic random source for fault schedules and model-based tests: TailMath's
/// SplitMix64 with the draws the tests need.
public struct SimRandom {
  var mix: SplitMix64
  /// The fault schedules' seeding (the generator starts one step ahead of `seed`).
  public init(seed: UInt64) { mix = SplitMix64(seed: seed &+ 0x9E37_79B9_7F4A_7C15) }
  /// Plain SplitMix64 from the state `state`.
  public init(state: UInt64) { mix = SplitMix64(seed: state) }
  public mutating func next() -> UInt64 { mix.next() }
  /// Uniform in [0, 1).
  public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
  /// Uniform in 0..<n.
  public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
  /// True with probability p.
  public mutating func chance(_ p: Double) -> Bool { unit() < p }
}
