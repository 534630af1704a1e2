import Foundation
import SweepStore
import TailNet

/// One measurement a report aggregates over seeds (method doc, section 4).
public enum Measure: String, CaseIterable, Codable, Hashable, Sendable {
  /// Fraction of hidden-layer parameters removed at the error budget r.
  case pruningRatio
  /// Test accuracy of the unpruned network.
  case testAccuracy
  /// Test accuracy after pruning at the budget (no retraining).
  case prunedTestAccuracy
  /// Unpruned minus pruned test accuracy.
  case accuracyDrop
  /// SGD iterations until the target train accuracy (only trials that reached it).
  case iterationsToTarget
  /// Share of finished trials (done or diverged) that diverged.
  case divergedShare
  /// Hill estimate α̂ of the tail index of the first hidden layer's neuron norms.
  case tailIndexNorms
  /// The second estimate of the same tail index: the moment estimator (Dekkers, Einmahl and
  /// de Haan 1989) on the same k largest norms.
  case tailIndexNormsMoment

  /// Column header for tables (units in the header, values shown in those units).
  public var header: String {
    switch self {
    case .pruningRatio: return "pruned %"
    case .testAccuracy: return "test acc %"
    case .prunedTestAccuracy: return "pruned acc %"
    case .accuracyDrop: return "drop pp"
    case .iterationsToTarget: return "iters→target"
    case .divergedShare: return "diverged"
    case .tailIndexNorms: return "α̂ Hill L1"
    case .tailIndexNormsMoment: return "α̂ moment L1"
    }
  }

  /// A longer name for detail tables and figure axes.
  public var title: String {
    switch self {
    case .pruningRatio: return "pruning ratio at the budget"
    case .testAccuracy: return "test accuracy (unpruned)"
    case .prunedTestAccuracy: return "test accuracy (pruned)"
    case .accuracyDrop: return "accuracy drop (unpruned − pruned)"
    case .iterationsToTarget: return "iterations to target"
    case .divergedShare: return "diverged share"
    case .tailIndexNorms: return "tail index α̂ (Hill) of layer-1 neuron norms"
    case .tailIndexNormsMoment: return "tail index α̂ (moment estimator) of layer-1 neuron norms"
    }
  }

  /// The values the measurement can take; confidence intervals are clipped to it.
  public var validRange: ClosedRange<Double> {
    switch self {
    case .pruningRatio, .testAccuracy, .prunedTestAccuracy, .divergedShare: return 0...1
    case .accuracyDrop: return -1...1
    case .iterationsToTarget, .tailIndexNorms: return 0...Double.greatestFiniteMagnitude
    // The moment estimator's value is not bounded below (its extreme-value index may be
    // negative): its intervals are not clipped.
    case .tailIndexNormsMoment:
      return -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
    }
  }

  /// Display factor: fractions are shown in percent (points for the drop).
  var scale: Double {
    switch self {
    case .pruningRatio, .testAccuracy, .prunedTestAccuracy, .accuracyDrop, .divergedShare:
      return 100
    case .iterationsToTarget, .tailIndexNorms, .tailIndexNormsMoment: return 1
    }
  }

  /// Decimals shown in tables (in display units).
  var decimals: Int {
    switch self {
    case .pruningRatio: return 1
    case .testAccuracy, .prunedTestAccuracy, .accuracyDrop, .tailIndexNorms, .tailIndexNormsMoment:
      return 2
    case .iterationsToTarget, .divergedShare: return 0
    }
  }

  /// The value of this measurement for a trial with a compression report (nil when absent,
  /// e.g. the target was not reached or the Hill estimator could not be applied). Not defined
  /// for `divergedShare`, which is a share over trials.
  func value(of result: TrialResult) -> Double? {
    guard let c = result.compression else { return nil }
    let v: Double?
    switch self {
    case .pruningRatio: v = c.pruningRatio
    case .testAccuracy: v = c.unpruned.testAccuracy
    case .prunedTestAccuracy: v = c.pruned.testAccuracy
    case .accuracyDrop: v = c.unpruned.testAccuracy - c.pruned.testAccuracy
    case .iterationsToTarget:
      v = result.training.stopReason == .reachedTarget ? Double(result.training.iterations) : nil
    case .divergedShare: v = nil
    case .tailIndexNorms: v = c.layers.first?.tailIndexNorms.hill
    case .tailIndexNormsMoment: v = c.layers.first?.tailIndexNorms.other
    }
    guard let x = v, x.isFinite else { return nil }
    return x
  }
}

/// How the trials of a group stand.
public struct TrialCounts: Codable, Hashable, Sendable {
  /// Trials with a compression report: the ones measurements aggregate over.
  public var ok = 0
  /// Trials whose training diverged (a result, but nothing to measure).
  public var diverged = 0
  /// Trials that gave up after their retries, or finished without a compression report.
  public var failed = 0
  /// Trials not finished yet (pending or running).
  public var pending = 0
  /// Of the `ok` trials, those whose training stopped at the iteration cap (`maxIterations`)
  /// before reaching the target accuracy; the other `ok` trials reached it.
  public var atCap = 0

  /// Creates counts.
  public init(ok: Int = 0, diverged: Int = 0, failed: Int = 0, pending: Int = 0, atCap: Int = 0) {
    self.ok = ok
    self.diverged = diverged
    self.failed = failed
    self.pending = pending
    self.atCap = atCap
  }

  /// Of the `ok` trials, those that reached the target accuracy.
  public var reachedTarget: Int { ok - atCap }

  /// All trials counted.
  public var total: Int { ok + diverged + failed + pending }
}

/// How a report classifies a trial row.
public enum RowClass: String, Codable, Sendable {
  /// A compression report exists.
  case ok
  /// Training diverged.
  case diverged
  /// Failed, or done without a compression report (e.g. cancelled).
  case failed
  /// Pending or running.
  case pending

  /// The class of `row`.
  public init(_ row: TrialRow) {
    switch row.state {
    case .pending, .running: self = .pending
    case .failed: self = .failed
    case .diverged: self = .diverged
    case .done:
      if row.result?.training.stopReason == .diverged {
        self = .diverged
      } else if row.result?.compression != nil {
        self = .ok
      } else {
        self = .failed
      }
    }
  }
}

extension TrialCounts {
  mutating func add(_ c: RowClass) {
    switch c {
    case .ok: ok += 1
    case .diverged: diverged += 1
    case .failed: failed += 1
    case .pending: pending += 1
    }
  }
}

/// The seeds of one group of configurations, summarized.
public struct GroupSummary: Codable, Hashable, Sendable {
  /// The group's values of the grouping keys (same order as `Aggregation.keys`).
  public var values: [KeyValue]
  /// Trials by class.
  public var counts: TrialCounts
  /// Summary of every measurement, keyed by `Measure.rawValue`.
  public var measures: [String: Summary]
  /// Seeds of the trials in the group, sorted.
  public var seeds: [UInt64]
  /// The per-step noise scales s = σ·η^(1/α) of the group's noisy trials, distinct and
  /// sorted: one value unless the group pools several noise configurations; empty for plain
  /// SGD (noise type 0 or σ = 0).
  public var noiseScales: [Double] = []

  /// The summary of `m` (an empty summary if missing).
  public func summary(_ m: Measure) -> Summary {
    measures[m.rawValue] ?? Summary.of([])
  }
}

/// Trials grouped by configuration keys and aggregated over the rest (normally the seeds).
public struct Aggregation: Codable, Hashable, Sendable {
  /// The grouping keys, e.g. `["width", "alpha", "sigma"]`.
  public var keys: [String]
  /// One entry per distinct combination of key values, sorted by those values.
  public var groups: [GroupSummary]
  /// Counts over all trials.
  public var totals: TrialCounts
  /// Keys other than seed (and the grouping keys) whose value differs within some group: the
  /// group's summary pools trials of different configurations. Empty for the default grouping.
  public var pooledKeys: [String] = []
}

/// A mistake in what a report was asked for.
public enum ReportError: Error, CustomStringConvertible, Equatable {
  /// `--by` named a key that is not a configuration key.
  case unknownKey(String, valid: [String])
  /// A file or folder could not be written.
  case io(path: String, message: String)

  /// A message naming the problem and what is allowed.
  public var description: String {
    switch self {
    case .unknownKey(let k, let valid):
      return "unknown grouping key '\(k)' (valid keys: \(valid.joined(separator: ", ")))"
    case .io(let path, let message):
      return "\(path): \(message)"
    }
  }
}

extension SweepReport {
  /// The default grouping: every configuration key that varies across `rows`, except seed.
  public static func defaultKeys(_ rows: [TrialRow]) -> [String] {
    ConfigKey.varying(in: rows.map(\.config))
  }

  /// Checks grouping keys (nil: the default grouping).
  static func resolveKeys(_ keys: [String]?, rows: [TrialRow]) throws(ReportError) -> [String] {
    guard let keys else { return defaultKeys(rows) }
    for k in keys where ConfigKey.value(k, of: sampleConfig) == nil {
      throw ReportError.unknownKey(k, valid: ConfigKey.all)
    }
    var seen = Set<String>()
    return keys.filter { seen.insert($0).inserted }
  }

  private static let sampleConfig = TrialConfig(
    dataset: DatasetSpec(name: "x"), width: 1, eta: 1, batchSize: 1)

  /// Groups `rows` by `keys` (nil: every varying key except seed) and summarizes every
  /// measurement over the trials of each group that have a compression report. Diverged, failed
  /// and pending trials are counted, never averaged in.
  public static func aggregate(_ rows: [TrialRow], by keys: [String]? = nil) throws(ReportError)
    -> Aggregation
  {
    let keys = try resolveKeys(keys, rows: rows)
    var buckets: [[KeyValue]: [TrialRow]] = [:]
    for row in rows {
      let v = keys.compactMap { ConfigKey.value($0, of: row.config) }
      buckets[v, default: []].append(row)
    }
    var totals = TrialCounts()
    var groups: [GroupSummary] = []
    for (values, members) in buckets {
      var counts = TrialCounts()
      for r in members {
        let c = RowClass(r)
        counts.add(c)
        if c == .ok && r.result?.training.stopReason == .maxIterations { counts.atCap += 1 }
      }
      totals.atCap += counts.atCap
      totals.ok += counts.ok
      totals.diverged += counts.diverged
      totals.failed += counts.failed
      totals.pending += counts.pending
      let okResults = members.filter { RowClass($0) == .ok }.compactMap(\.result)
      var measures: [String: Summary] = [:]
      for m in Measure.allCases {
        if m == .divergedShare {
          measures[m.rawValue] = Summary.proportion(
            successes: counts.diverged, of: counts.ok + counts.diverged)
        } else {
          measures[m.rawValue] = Summary.of(okResults.compactMap { m.value(of: $0) })
            .clipped(to: m.validRange)
        }
      }
      groups.append(
        GroupSummary(
          values: values, counts: counts, measures: measures,
          seeds: members.map(\.config.seed).sorted(),
          noiseScales: Set(members.map(\.config).filter(\.isNoisy).map(noiseScale)).sorted()))
    }
    groups.sort { $0.values.lexicographicallyPrecedes($1.values) }
    var pooled: [String] = []
    for key in ConfigKey.all where key != "seed" && !keys.contains(key) {
      let differs = buckets.values.contains { members in
        Set(members.compactMap { ConfigKey.value(key, of: $0.config) }).count > 1
      }
      if differs { pooled.append(key) }
    }
    return Aggregation(keys: keys, groups: groups, totals: totals, pooledKeys: pooled)
  }
}
