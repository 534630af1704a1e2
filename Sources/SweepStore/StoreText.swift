import Foundation
import GRDB
import SweepSpec
import TailNet

/// Dates as the store writes them: `yyyy-MM-dd HH:mm:ss.SSS` in UTC, the text GRDB stores for
/// a `Date` (to the nearest millisecond, as ICU rounds). Formatted here by arithmetic: GRDB formats through a
/// `DateFormatter` (ICU), which cost the coordinator several microseconds per date, five dates
/// per trial. `StoreTextTests` checks the two agree.
enum StoreDate {
  static func text(_ date: Date) -> String {
    let ms = Int64((date.timeIntervalSince1970 * 1000).rounded())
    var days = ms / 86_400_000
    var inDay = ms % 86_400_000
    if inDay < 0 {
      inDay += 86_400_000
      days -= 1
    }
    // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-compatible low-level date
    // algorithms").
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let day = doy - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    let h = inDay / 3_600_000
    let m = inDay / 60_000 % 60
    let s = inDay / 1000 % 60
    let f = inDay % 1000
    guard (0...9999).contains(year) else {
      // Outside four-digit years (never a clock reading): GRDB's own form.
      return String.fromDatabaseValue(date.databaseValue) ?? ""
    }
    var out = [UInt8](repeating: 0, count: 23)
    func put(_ v: Int64, _ width: Int, at start: Int) {
      var v = v
      for i in stride(from: start + width - 1, through: start, by: -1) {
        out[i] = UInt8(48 + v % 10)
        v /= 10
      }
    }
    put(year, 4, at: 0)
    out[4] = 45  // -
    put(month, 2, at: 5)
    out[7] = 45
    put(day, 2, at: 8)
    out[10] = 32  // space
    put(h, 2, at: 11)
    out[13] = 58  // :
    put(m, 2, at: 14)
    out[16] = 58
    put(s, 2, at: 17)
    out[19] = 46  // .
    put(f, 3, at: 20)
    return String(decoding: out, as: UTF8.self)
  }
}

extension StoreJSON {
  /// The JSON of a training summary, written directly: what `encode(_:)` gives up to the
  /// spelling of numbers (sorted keys, absent optionals omitted, non-finite numbers as the
  /// strings "nan", "inf", "-inf"), and decoded by `decode(_:_:path:what:)` to an equal value
  /// (`StoreTextTests`). A commit writes one; through `JSONEncoder` it cost more than the
  /// SQL of the commit.
  static func training(_ t: TrainingSummary) -> String {
    var out = "{"
    out.reserveCapacity(96 + 120 * t.history.count)
    if let d = t.divergedAt { out += "\"divergedAt\":\(d)," }
    if let f = t.final {
      out += "\"final\":"
      point(f, into: &out)
      out += ","
    }
    out += "\"history\":["
    for (i, p) in t.history.enumerated() {
      if i > 0 { out += "," }
      point(p, into: &out)
    }
    out += "],\"iterations\":\(t.iterations),\"stopReason\":\"\(t.stopReason.rawValue)\""
    out += ",\"wallSeconds\":"
    number(t.wallSeconds, into: &out)
    out += "}"
    return out
  }

  /// The JSON of a trial configuration, written directly like `training(_:)`: what
  /// `encode(_:)` gives up to the spelling of numbers, decoded to an equal value
  /// (`StoreTextTests`). Store setup writes one per trial of the sweep.
  static func config(_ c: TrialConfig) -> String {
    var out = "{\"alpha\":"
    out.reserveCapacity(320)
    number(c.alpha, into: &out)
    out += ",\"batchSize\":\(c.batchSize),\"budget\":"
    number(c.budget, into: &out)
    if let m = c.channels {
      out += ",\"channels\":"
      number(m, into: &out)
    }
    let d = c.dataset
    out += ",\"dataset\":{"
    var first = true
    func key(_ k: String) {
      out += first ? "\"" : ",\""
      first = false
      out += k
      out += "\":"
    }
    func integer(_ k: String, _ v: (some BinaryInteger)?) {
      guard let v else { return }
      key(k)
      out += String(v)
    }
    if let v = d.binarize {
      key("binarize")
      string(v, into: &out)
    }
    integer("classes", d.classes)
    integer("dataSeed", d.dataSeed)
    integer("inputs", d.inputs)
    key("name")
    string(d.name, into: &out)
    integer("resplit", d.resplit)
    integer("teacherWidth", d.teacherWidth)
    integer("testLimit", d.testLimit)
    integer("testSize", d.testSize)
    integer("trainLimit", d.trainLimit)
    integer("trainSize", d.trainSize)
    out += "},\"depth\":\(c.depth),\"eta\":"
    number(c.eta, into: &out)
    out += ",\"evalEvery\":\(c.evalEvery),\"maxIterations\":\(c.maxIterations)"
    if let m = c.model {
      out += ",\"model\":"
      string(m.rawValue, into: &out)
    }
    out += ",\"noiseType\":\(c.noiseType.rawValue),\"seed\":\(c.seed),\"sigma\":"
    number(c.sigma, into: &out)
    out += ",\"targetAccuracy\":"
    number(c.targetAccuracy, into: &out)
    out += ",\"width\":\(c.width)}"
    return out
  }

  /// A JSON string: quotes, backslashes and control characters escaped, the rest as UTF-8
  /// (the escaping of the canonical trial form).
  private static func string(_ s: String, into out: inout String) {
    out += CanonicalJSON.quote(s)
  }

  private static func point(_ p: EvalPoint, into out: inout String) {
    out += "{\"iteration\":\(p.iteration),\"testAccuracy\":"
    number(p.testAccuracy, into: &out)
    out += ",\"testLoss\":"
    number(p.testLoss, into: &out)
    out += ",\"trainAccuracy\":"
    number(p.trainAccuracy, into: &out)
    out += ",\"trainLoss\":"
    number(p.trainLoss, into: &out)
    out += "}"
  }

  /// A double as JSON: Swift's shortest round-trip spelling (`0.1`, `1e-05`, `-0.0`: all JSON
  /// numbers), or the store's strings for non-finite values.
  private static func number(_ x: Double, into out: inout String) {
    if x.isNaN {
      out += "\"nan\""
    } else if x.isInfinite {
      out += x > 0 ? "\"inf\"" : "\"-inf\""
    } else {
      out += x.description
    }
  }
}
