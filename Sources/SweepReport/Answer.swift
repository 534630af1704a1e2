import Foundation
import SweepStore
import TailNet

extension SweepReport {
  /// The measurements a lead statement reports, in order.
  static let answerMeasures: [Measure] = [.pruningRatio, .testAccuracy, .prunedTestAccuracy]

  /// The answer of a sweep in a few sentences: one per comparison of the paired table (a noisy
  /// configuration against plain SGD), over every grid point where both were run. For example
  /// "α=1.75 σ=0.003 is more compressible than plain SGD at every n (32–2048): pruned % +6.2
  /// to +56.4, every 95 % CI above 0; test acc % −1.02 to −2.16 points, every 95 % CI below
  /// 0; …". Empty when nothing is paired yet.
  public static func answer(rows: [TrialRow]) -> [String] {
    let p = paired(rows)
    struct Comparison: Hashable {
      var noisy: String
      var plain: String
    }
    var order: [Comparison] = []
    var byComparison: [Comparison: [PairedRow]] = [:]
    for r in p.rows where r.pairs > 0 {
      let c = Comparison(noisy: r.noisy, plain: r.plain)
      if byComparison[c] == nil { order.append(c) }
      byComparison[c, default: []].append(r)
    }
    return order.compactMap { c in
      guard let rs = byComparison[c] else { return nil }
      return statement(c.noisy, c.plain, rs, pointKeys: p.pointKeys)
    }
  }

  /// What the statements are made of, printed under them.
  static let answerNote =
    "From the paired table: differences noisy − plain SGD per seed (same initial weights and "
    + "batches), their range over the grid points, and whether each point's paired 95 % CI "
    + "excludes 0. Accuracies in percentage points."

  /// The answer for the terminal: a heading and one wrapped bullet per comparison ("" when
  /// nothing is paired).
  public static func answerText(rows: [TrialRow], maxWidth: Int = 100) -> String {
    let a = answer(rows: rows)
    guard !a.isEmpty else { return "" }
    var out = "Answer (noisy vs plain SGD, paired by seed)\n"
    for s in a { out += wrapBullet(s, width: max(40, maxWidth)) }
    return out + "\n"
  }

  /// The answer as a Markdown section ("" when nothing is paired).
  public static func answerMarkdown(rows: [TrialRow]) -> String {
    let a = answer(rows: rows)
    guard !a.isEmpty else { return "" }
    return "## Answer\n\n" + a.map { "- \($0)\n" }.joined() + "\n" + answerNote + "\n\n"
  }

  static func wrapBullet(_ text: String, width: Int) -> String {
    var out = ""
    var line = "- "
    for word in text.split(separator: " ") {
      if line.count > 2 && line.count + 1 + word.count > width {
        out += line + "\n"
        line = "  "
      }
      line += (line == "- " || line == "  " ? "" : " ") + word
    }
    return out + line + "\n"
  }

  /// The per-step noise scale `s = σ·η^(1/α)` of every noisy configuration in `rows`, and the
  /// convention of the α = 2 arm, as table notes (none without noisy trials).
  public static func noiseScaleNotes(_ rows: [TrialRow]) -> [String] {
    struct Arm: Hashable, Comparable {
      var alpha: Double
      var sigma: Double
      var eta: Double
      static func < (a: Arm, b: Arm) -> Bool {
        (a.alpha, a.sigma, a.eta) < (b.alpha, b.sigma, b.eta)
      }
    }
    let arms = Set(
      rows.map(\.config).filter(\.isNoisy).map {
        Arm(alpha: $0.alpha, sigma: $0.sigma, eta: $0.eta)
      }
    ).sorted()
    guard !arms.isEmpty else { return [] }
    let list = arms.prefix(12).map { a in
      "α=\(KeyValue.number(a.alpha)) σ=\(KeyValue.number(a.sigma)) η=\(KeyValue.number(a.eta)): "
        + "s=\(noiseScaleText(sigma: a.sigma, eta: a.eta, alpha: a.alpha))"
    }
    var out = [
      "Per-step noise scale s = σ·η^(1/α): " + list.joined(separator: "; ")
        + (arms.count > 12 ? "; … (\(arms.count) in all)" : "") + "."
    ]
    if arms.contains(where: { $0.alpha == 2 }) {
      out.append(
        "α = 2 arms: the noise is SαS(2, s) = N(0, 2s²) here; the public code draws N(0, s²), "
          + "so its Gaussian arm has 1/√2 of this standard deviation at the same σ "
          + "(docs/method-notes.md).")
    }
    return out
  }

  /// `s = σ·η^(1/α)` with three significant digits.
  public static func noiseScaleText(sigma: Double, eta: Double, alpha: Double) -> String {
    String(format: "%.3g", sigma * Foundation.pow(eta, 1 / alpha))
  }

  /// The per-step noise scale `s = σ·η^(1/α)` of `config` (whether or not it is noisy).
  static func noiseScale(_ config: TrialConfig) -> Double {
    NoiseInjection.stepScale(sigma: config.sigma, eta: config.eta, alpha: config.alpha)
  }

  /// The `s` cell of a table: one scale with three significant digits, `low–high` when a row
  /// pools several, `—` for plain SGD (no noisy trial).
  static func noiseScaleCell(_ scales: [Double]) -> String {
    guard let lo = scales.first, let hi = scales.last else { return "—" }
    let a = String(format: "%.3g", lo)
    return lo == hi ? a : a + "–" + String(format: "%.3g", hi)
  }

  /// `table` with `notes` appended.
  static func noted(_ table: Table, _ notes: [String]) -> Table {
    var t = table
    t.notes += notes
    return t
  }

  /// "ok 55 (target 50, at the iteration cap 5)" for the trial-count lines of reports.
  static func okText(_ c: TrialCounts) -> String {
    "ok \(c.ok) (reached the target \(c.reachedTarget), stopped at the iteration cap \(c.atCap))"
  }

  /// One comparison's sentence (see `answer`).
  static func statement(_ noisy: String, _ plain: String, _ rows: [PairedRow], pointKeys: [String])
    -> String?
  {
    let plainText =
      plain == "plain" ? "plain SGD" : plain.replacingOccurrences(of: "plain", with: "plain SGD")
    let points = Set(rows.map(\.point))
    let whereText = pointsText(Array(points), keys: pointKeys)
    var parts: [String] = []
    var lead = "\(noisy) vs \(plainText)\(whereText)"
    for m in answerMeasures {
      let ms = rows.filter { $0.measure == m }
      let diffs = ms.compactMap { $0.difference.mean.map { $0 * m.scale } }
      guard !diffs.isEmpty else { continue }
      let withCI = ms.filter { $0.difference.ciLow != nil && $0.difference.ciHigh != nil }
      let above = withCI.filter { ($0.difference.ciLow ?? 0) > 0 }.count
      let below = withCI.filter { ($0.difference.ciHigh ?? 0) < 0 }.count
      let unit = m == .pruningRatio ? "" : " points"
      var text = "\(m.header) \(rangeText(diffs, decimals: m.decimals))\(unit)"
      if withCI.isEmpty {
        text += " (one seed per point: no CI)"
      } else if above == withCI.count {
        text += withCI.count == 1 ? ", 95 % CI above 0" : ", every 95 % CI above 0"
      } else if below == withCI.count {
        text += withCI.count == 1 ? ", 95 % CI below 0" : ", every 95 % CI below 0"
      } else if above == 0 && below == 0 {
        text += withCI.count == 1 ? ", 95 % CI includes 0" : ", every 95 % CI includes 0"
      } else {
        let counts = [
          ("above 0", above), ("below 0", below), ("includes 0", withCI.count - above - below),
        ].filter { $0.1 > 0 }.map { "\($0.0) at \($0.1)" }
        text += ", 95 % CI " + counts.joined(separator: ", ") + " (of \(withCI.count) points)"
      }
      parts.append(text)
      if m == .pruningRatio {
        if above == withCI.count && !withCI.isEmpty {
          lead = "\(noisy) is more compressible than \(plainText)\(whereText)"
        } else if below == withCI.count && !withCI.isEmpty {
          lead = "\(noisy) is less compressible than \(plainText)\(whereText)"
        } else if above == 0 && below == 0 && !withCI.isEmpty {
          lead = "\(noisy) vs \(plainText)\(whereText): no clear difference in compressibility"
        } else if !withCI.isEmpty {
          lead = "\(noisy) vs \(plainText)\(whereText): no consistent difference in compressibility"
        }
      }
    }
    guard !parts.isEmpty else { return nil }
    return lead + ": " + parts.joined(separator: "; ") + "."
  }

  /// " at every n (32–2048)", " at n = 32", or "" with no grid keys.
  static func pointsText(_ points: [[KeyValue]], keys: [String]) -> String {
    guard !keys.isEmpty, !points.isEmpty else { return "" }
    if points.count == 1, let p = points.first {
      return " at " + zip(keys, p).map { "\(ConfigKey.symbol($0)) = \($1)" }.joined(separator: ", ")
    }
    let ranges = keys.indices.map { i -> String in
      let values = Set(points.map { $0[i] }).sorted()
      let sym = ConfigKey.symbol(keys[i])
      guard let lo = values.first, let hi = values.last else { return sym }
      if keys.count == 1 { return lo == hi ? "\(lo)" : "\(lo)–\(hi)" }
      return lo == hi ? "\(sym) = \(lo)" : "\(sym) \(lo)–\(hi)"
    }
    let names = keys.map(ConfigKey.symbol).joined(separator: ", ")
    return " at every \(names) (\(ranges.joined(separator: "; ")), \(points.count) points)"
  }

  /// The span of signed differences, smallest magnitude first when all share a sign
  /// ("+6.2 to +56.4", "−1.02 to −2.16"), else lowest to highest.
  static func rangeText(_ values: [Double], decimals: Int) -> String {
    func signed(_ x: Double) -> String {
      let t = fixed(x, decimals)
      if t.hasPrefix("-") { return "−" + t.dropFirst() }
      return t.allSatisfy({ $0 == "0" || $0 == "." }) ? t : "+" + t
    }
    guard let lo = values.min(), let hi = values.max() else { return "" }
    if lo == hi { return signed(lo) }
    if lo >= 0 { return "\(signed(lo)) to \(signed(hi))" }
    if hi <= 0 { return "\(signed(hi)) to \(signed(lo))" }
    return "\(signed(lo)) to \(signed(hi))"
  }
}
