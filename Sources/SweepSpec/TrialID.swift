import Foundation
import TailNet

/// The identity of a trial: SHA-256 of the canonical JSON of its full configuration plus the
/// training semantics version. The same grid point in two sweep files has the same id; key
/// order, number spelling and defaults do not change it.
public struct TrialID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
  /// 64 lowercase hex digits.
  public let hex: String

  /// The id of `config` (normalised first, see `canonicalText`) under `semanticsVersion`.
  public init(config: TrialConfig, semanticsVersion: Int = trialSemanticsVersion) {
    let text = TrialID.canonicalText(config, semanticsVersion: semanticsVersion)
    hex = SHA256Digest.hex(text.utf8)
  }

  /// Wraps an existing id (from the store or the network); nil unless 64 lowercase hex digits.
  public init?(hex: String) {
    guard hex.utf8.count == 64,
      hex.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })
    else { return nil }
    self.hex = hex
  }

  /// Decodes an id from its 64-hex-digit string.
  public init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    let s = try c.decode(String.self)
    guard let id = TrialID(hex: s) else {
      throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a trial id: \(s)")
    }
    self = id
  }

  /// Encodes the id as its 64-hex-digit string.
  public func encode(to encoder: Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(hex)
  }

  /// The first 12 hex digits, for logs and tables.
  public var short: String { String(hex.prefix(12)) }
  /// The short form (`short`).
  public var description: String { short }
  /// Orders ids by their hex digits.
  public static func < (a: TrialID, b: TrialID) -> Bool { a.hex < b.hex }

  /// A 64-bit key for the trial's random streams (the first 8 bytes of the id).
  public var rngKey: UInt64 {
    var k: UInt64 = 0
    var idx = hex.startIndex
    for _ in 0..<16 {
      let next = hex.index(after: idx)
      k = (k << 4) | UInt64(Int(hex[idx..<next], radix: 16) ?? 0)
      idx = next
    }
    return k
  }

  /// The canonical text that is hashed: `tailsweep-trial/v<semantics>\n` followed by the
  /// normalised configuration (`TrialConfig.normalized()`: synthetic data defaults filled in,
  /// fields irrelevant to the data set removed) as canonical JSON: keys sorted, no whitespace,
  /// absent optionals omitted, integers in decimal, doubles in Swift's shortest round-trip
  /// form (so `0.01` and `1e-2`, or `100` and `1e2` for a double key, hash alike).
  public static func canonicalText(_ config: TrialConfig, semanticsVersion: Int) -> String {
    // TrialConfig's encoding only meets primitives, which CanonicalJSON never fails on.
    let json = (try? CanonicalJSON.encode(config.normalized())) ?? ""
    return "tailsweep-trial/v\(semanticsVersion)\n" + json
  }
}
