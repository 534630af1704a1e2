/// Least-significant-digit radix sort of `Double`s in the IEEE 754 total order
/// (−NaN < −∞ < … < −0 < +0 < … < +∞ < +NaN). O(n), stable, deterministic, allocation of two
/// scratch arrays; used by `Pruning` so that results never depend on a comparison sort's
/// handling of ties or NaN (and because generic `sort` is very slow in debug builds).
enum RadixSort {
  /// The value's bit pattern mapped to an unsigned key with the same order as the IEEE total
  /// order: negative values have all bits flipped, non-negative ones only the sign bit.
  @inline(__always) static func key(_ x: Double) -> UInt64 {
    let bits = x.bitPattern
    return bits >> 63 == 1 ? ~bits : bits | (1 << 63)
  }

  /// Inverse of `key`.
  @inline(__always) static func value(_ key: UInt64) -> Double {
    Double(bitPattern: key >> 63 == 1 ? key & ~(1 << 63) : ~key)
  }

  /// `values` sorted ascending in the IEEE total order.
  static func sorted(_ values: [Double]) -> [Double] {
    var keys = values.map(key)
    var scratch = [UInt64](repeating: 0, count: keys.count)
    var counts = [Int](repeating: 0, count: 257)
    for shift in stride(from: UInt64(0), to: 64, by: 8) {
      if !countDigits(keys, shift: shift, into: &counts) { continue }
      keys.withUnsafeBufferPointer { source in
        scratch.withUnsafeMutableBufferPointer { target in
          for k in source {
            let digit = Int(truncatingIfNeeded: (k >> shift) & 0xFF)
            target[counts[digit]] = k
            counts[digit] += 1
          }
        }
      }
      swap(&keys, &scratch)
    }
    return keys.map(value)
  }

  /// Indices of `values` in ascending IEEE total order of the values; equal values keep
  /// ascending index order (the sort is stable).
  static func order(_ values: [Double]) -> [Int] {
    var keys = values.map(key)
    var indices = Array(values.indices)
    var scratchKeys = [UInt64](repeating: 0, count: keys.count)
    var scratchIndices = [Int](repeating: 0, count: keys.count)
    var counts = [Int](repeating: 0, count: 257)
    for shift in stride(from: UInt64(0), to: 64, by: 8) {
      if !countDigits(keys, shift: shift, into: &counts) { continue }
      keys.withUnsafeBufferPointer { sourceKeys in
        indices.withUnsafeBufferPointer { sourceIndices in
          scratchKeys.withUnsafeMutableBufferPointer { targetKeys in
            scratchIndices.withUnsafeMutableBufferPointer { targetIndices in
              for i in 0..<sourceKeys.count {
                let k = sourceKeys[i]
                let digit = Int(truncatingIfNeeded: (k >> shift) & 0xFF)
                let slot = counts[digit]
                targetKeys[slot] = k
                targetIndices[slot] = sourceIndices[i]
                counts[digit] = slot + 1
              }
            }
          }
        }
      }
      swap(&keys, &scratchKeys)
      swap(&indices, &scratchIndices)
    }
    return indices
  }

  /// Fills `counts[d]` with the start offset of digit d for this pass. Returns false when
  /// every key has the same digit (the pass would not move anything and is skipped).
  private static func countDigits(_ keys: [UInt64], shift: UInt64, into counts: inout [Int])
    -> Bool
  {
    for d in 0..<counts.count { counts[d] = 0 }
    keys.withUnsafeBufferPointer { buffer in
      for k in buffer { counts[Int(truncatingIfNeeded: (k >> shift) & 0xFF) + 1] += 1 }
    }
    if counts.contains(keys.count) { return false }
    for d in 1..<counts.count { counts[d] += counts[d - 1] }
    return true
  }
}
