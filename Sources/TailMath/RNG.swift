/// Seeded pseudo-random numbers for simulation. Never `SystemRandomNumberGenerator`: every
/// trial must give bit-identical numbers on any worker and any run.

/// SplitMix64 (Steele, Lea, Flood 2014): used to expand a 64-bit key into generator state and to
/// derive independent stream keys.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  public var state: UInt64
  public init(seed: UInt64) { state = seed }
  @inlinable public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// xoshiro256** 1.0 (Blackman and Vigna 2018), state seeded through SplitMix64.
public struct Xoshiro256: RandomNumberGenerator, Sendable {
  public var s: (UInt64, UInt64, UInt64, UInt64)

  /// A generator whose whole state is expanded from `seed` by SplitMix64.
  public init(seed: UInt64) {
    var sm = SplitMix64(seed: seed)
    s = (sm.next(), sm.next(), sm.next(), sm.next())
  }

  /// A generator for stream `stream` of key `key`: distinct (key, stream) pairs give
  /// independent-looking streams (the pair is mixed through SplitMix64 before seeding).
  public init(key: UInt64, stream: UInt64) {
    var sm = SplitMix64(seed: key)
    let a = sm.next()
    var sm2 = SplitMix64(seed: a ^ (stream &* 0xD1B5_4A32_D192_ED03))
    self.init(seed: sm2.next())
  }

  // Always inlined: left to the optimiser, the batch sampler's sixteen `next()` calls per step
  // called it as a function (15 % of `tailsweep sample`'s time).
  @inlinable @inline(__always) static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
    (x << k) | (x >> (64 - k))
  }

  @inlinable public mutating func next() -> UInt64 {
    let result = Xoshiro256.rotl(s.1 &* 5, 7) &* 9
    let t = s.1 << 17
    s.2 ^= s.0
    s.3 ^= s.1
    s.1 ^= s.2
    s.0 ^= s.3
    s.2 ^= t
    s.3 = Xoshiro256.rotl(s.3, 45)
    return result
  }

  /// Uniform in [0, 1) with 53 random bits.
  @inlinable public mutating func nextUnit() -> Double {
    Double(next() >> 11) * 0x1.0p-53
  }

  /// Uniform in the open interval (0, 1): never 0, never 1 (52 random bits plus one half, so
  /// the largest value 1 − 2⁻⁵³ is exactly representable).
  @inlinable public mutating func nextOpenUnit() -> Double {
    (Double(next() >> 12) + 0.5) * 0x1.0p-52
  }

  /// Uniform integer in 0..<bound (Lemire's nearly divisionless method, unbiased).
  @inlinable public mutating func nextInt(below bound: Int) -> Int {
    precondition(bound > 0)
    return Int(truncatingIfNeeded: next(upperBound: UInt64(bound)))
  }
}

/// The named random streams of one trial. Keeping them separate means that turning the noise
/// on or off never changes the initial weights or the order of the mini-batches: noisy and
/// plain SGD at the same seed are a paired comparison.
public enum TrialStream: UInt64, Sendable {
  case initialization = 1
  case dataOrder = 2
  case noise = 3
  case data = 4
}
