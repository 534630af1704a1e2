import Foundation
import SweepStore
import TailNet

/// Noisy against plain SGD at one grid point, for one measurement, paired by seed.
public struct PairedRow: Codable, Hashable, Sendable {
  /// Values of `PairedComparison.pointKeys` at this grid point.
  public var point: [KeyValue]
  /// The noisy configuration, e.g. `α=1.75 σ=0.003`.
  public var noisy: String
  /// The per-step noise scale s = σ·η^(1/α) of the noisy configuration (nil if its trials at
  /// the point have several, which the pairing keys rule out).
  public var noiseScale: Double?
  /// The plain configuration (`plain`, or `plain α=2` when a point has several).
  public var plain: String
  /// The measurement compared.
  public var measure: Measure
  /// Number of seeds where both trials have the measurement.
  public var pairs: Int
  /// Mean of the noisy trials over those seeds.
  public var noisyMean: Double?
  /// Mean of the plain trials over those seeds.
  public var plainMean: Double?
  /// Summary of noisy − plain per seed: its mean is the difference of the means, its
  /// interval the paired t interval.
  public var difference: Summary
  /// Noisy trials at this point that diverged (any seed).
  public var noisyDiverged: Int
  /// Plain trials at this point that diverged (any seed).
  public var plainDiverged: Int
}

/// The paired comparison table: every noisy configuration against the plain SGD run of the
/// same grid point (everything but alpha, sigma, noiseType and seed equal), seed by seed.
public struct PairedComparison: Codable, Hashable, Sendable {
  /// Keys that vary between grid points (noise keys and seed excluded).
  public var pointKeys: [String]
  /// Rows sorted by point, noisy configuration, then measurement.
  public var rows: [PairedRow]
}

extension SweepReport {
  /// The measurements the paired table compares.
  public static let pairedMeasures: [Measure] = [
    .pruningRatio, .prunedTestAccuracy, .testAccuracy, .iterationsToTarget,
  ]

  /// Pairs noisy and plain trials by seed at equal width, η, batch size, data set, depth and
  /// every other non-noise key, and summarizes the per-seed differences (noisy − plain).
  /// Iterations are compared only where both trials reached the target.
  public static func paired(_ rows: [TrialRow]) -> PairedComparison {
    let varying = ConfigKey.varying(in: rows.map(\.config))
    let pointKeys = varying.filter { !ConfigKey.noiseKeys.contains($0) }
    let noiseKeys = ["alpha", "sigma", "noiseType"]
    struct Variant: Hashable {
      var noise: [KeyValue]
      var isNoisy: Bool
    }
    // point -> variant -> rows
    var points: [[KeyValue]: [Variant: [TrialRow]]] = [:]
    for r in rows {
      let p = pointKeys.compactMap { ConfigKey.value($0, of: r.config) }
      let v = Variant(
        noise: noiseKeys.compactMap { ConfigKey.value($0, of: r.config) },
        isNoisy: r.config.isNoisy)
      points[p, default: [:]][v, default: []].append(r)
    }
    var out: [PairedRow] = []
    for point in points.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
      guard let variants = points[point] else { continue }
      let order: (Variant, Variant) -> Bool = { $0.noise.lexicographicallyPrecedes($1.noise) }
      let plains = variants.keys.filter { !$0.isNoisy }.sorted(by: order)
      let noisies = variants.keys.filter { $0.isNoisy }.sorted(by: order)
      for pv in plains {
        let plainRows = variants[pv] ?? []
        let plainLabel =
          plains.count > 1 ? "plain " + noiseLabel(pv.noise, includeSigma: false) : "plain"
        for nv in noisies {
          let noisyRows = variants[nv] ?? []
          for m in pairedMeasures {
            out.append(
              pairRow(
                point: point, noisyLabel: noiseLabel(nv.noise, includeSigma: true),
                plainLabel: plainLabel, measure: m, noisy: noisyRows, plain: plainRows))
          }
        }
      }
    }
    return PairedComparison(pointKeys: pointKeys, rows: out)
  }

  /// `α=1.75 σ=0.003` (and `type 2` when the noise type is not the default per-neuron one).
  static func noiseLabel(_ noise: [KeyValue], includeSigma: Bool) -> String {
    guard noise.count == 3 else { return "?" }
    var s = "α=\(noise[0])"
    if includeSigma { s += " σ=\(noise[1])" }
    if let t = noise[2].number, t != 1, includeSigma { s += " type \(Int(t))" }
    return s
  }

  private static func pairRow(
    point: [KeyValue], noisyLabel: String, plainLabel: String, measure: Measure,
    noisy: [TrialRow], plain: [TrialRow]
  ) -> PairedRow {
    func bySeed(_ rows: [TrialRow]) -> [UInt64: Double] {
      var d: [UInt64: Double] = [:]
      for r in rows.sorted(by: { $0.id < $1.id }) where RowClass(r) == .ok {
        if d[r.config.seed] == nil, let res = r.result, let v = measure.value(of: res) {
          d[r.config.seed] = v
        }
      }
      return d
    }
    let n = bySeed(noisy)
    let p = bySeed(plain)
    let seeds = Set(n.keys).intersection(p.keys).sorted()
    let nv = seeds.compactMap { n[$0] }
    let pv = seeds.compactMap { p[$0] }
    let diffs = zip(nv, pv).map { $0 - $1 }
    let scales = Set(noisy.map(\.config).filter(\.isNoisy).map(noiseScale))
    return PairedRow(
      point: point, noisy: noisyLabel, noiseScale: scales.count == 1 ? scales.first : nil,
      plain: plainLabel, measure: measure, pairs: seeds.count,
      noisyMean: Summary.of(nv).mean, plainMean: Summary.of(pv).mean,
      difference: Summary.of(diffs).clipped(
        to: -measure.validRange.upperBound...measure.validRange.upperBound),
      noisyDiverged: noisy.filter { RowClass($0) == .diverged }.count,
      plainDiverged: plain.filter { RowClass($0) == .diverged }.count)
  }
}
