import Crypto
import Foundation
import TailNet

/// The identity of a trial: SHA-256 of the canonical JSON of its full configuration plus the
/// training semantics version. The same grid point in two sweep files has the same id; key
/// order, number spelling and defaults do not change it.
public struct TrialID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
  /// 64 lowercase hex digits.
  public let hex: String

  public init(config: TrialConfig, semanticsVersion: Int = trialSemanticsVersion) {
    let text = TrialID.canonicalText(config, semanticsVersion: semanticsVersion)
    let digest = SHA256.hash(data: Data(text.utf8))
    hex = digest.map { String(format: "%02x", $0) }.joined()
  }

  /// Wraps an existing id (from the store or the network); nil unless 64 lowercase hex digits.
  public init?(hex: String) {
    guard hex.utf8.count == 64,
      hex.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })
    else { return nil }
    self.hex = hex
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    let s = try c.decode(String.self)
    guard let id = TrialID(hex: s) else {
      throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a trial id: \(s)")
    }
    self = id
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(hex)
  }

  /// The first 12 hex digits, for logs and tables.
  public var short: String { String(hex.prefix(12)) }
  public var description: String { short }
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
  /// configuration as JSON with sorted keys, absent optionals omitted, numbers in Swift's
  /// shortest round-trip form.
  public static func canonicalText(_ config: TrialConfig, semanticsVersion: Int) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let json = (try? encoder.encode(config)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    return "tailsweep-trial/v\(semanticsVersion)\n" + json
  }
}
