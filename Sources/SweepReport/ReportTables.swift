import Foundation

extension SweepReport {
  /// Measurements shown in the summary table, in order.
  static let summaryMeasures: [Measure] = [
    .pruningRatio, .testAccuracy, .prunedTestAccuracy, .accuracyDrop, .iterationsToTarget,
    .divergedShare, .tailIndexNorms, .tailIndexNormsMoment,
  ]

  /// `mean ± h` in display units, with `(k)` appended when fewer than `expected` values went in;
  /// with fewer than `Summary.minimumForInterval` values no `± h` but `(n=k)`: too few seeds.
  static func cell(_ s: Summary, _ m: Measure, expected: Int) -> String {
    guard let mean = s.mean else { return expected > 0 ? "— (0)" : "—" }
    var text = fixed(mean * m.scale, m.decimals)
    guard s.count >= Summary.minimumForInterval else { return text + " (n=\(s.count))" }
    if let lo = s.ciLow, let hi = s.ciHigh, let h = s.halfWidth {
      // A clipped interval is no longer symmetric: show its ends.
      if abs((mean - lo) - (hi - mean)) > 1e-12 {
        text +=
          " [" + fixed(lo * m.scale, m.decimals) + ", " + fixed(hi * m.scale, m.decimals) + "]"
      } else {
        text += " ± " + fixed(h * m.scale, m.decimals)
      }
    }
    if s.count < expected { text += " (\(s.count))" }
    return text
  }

  /// Where the `s` column goes among the key columns: right after σ, else after the last key;
  /// nil when no group has a noisy trial (no column).
  static func noiseScaleColumn(_ agg: Aggregation) -> Int? {
    guard agg.groups.contains(where: { !$0.noiseScales.isEmpty }) else { return nil }
    return agg.keys.firstIndex(of: "sigma").map { $0 + 1 } ?? agg.keys.count
  }

  /// The summary table for reading: counts, then `mean ± 95 % CI half-width` per measurement.
  /// Beside σ, the per-step noise scale s = σ·η^(1/α) of the row (— for plain SGD).
  public static func summaryTable(_ agg: Aggregation) -> Table {
    var columns = agg.keys.map {
      Table.Column(ConfigKey.symbol($0), right: $0 != "dataset", key: true)
    }
    let sAt = noiseScaleColumn(agg)
    if let sAt { columns.insert(Table.Column("s", key: true), at: sAt) }
    columns += ["ok", "div", "fail", "pend"].map { Table.Column($0) }
    columns += summaryMeasures.map { Table.Column($0.header) }
    let rows = agg.groups.map { g -> [String] in
      var r = g.values.map(\.description)
      if let sAt { r.insert(noiseScaleCell(g.noiseScales), at: sAt) }
      r += [g.counts.ok, g.counts.diverged, g.counts.failed, g.counts.pending].map(String.init)
      for m in summaryMeasures {
        if m == .divergedShare {
          let s = g.summary(m)
          r.append(s.mean.map { "\(fixed($0 * 100, 0))% (\(g.counts.diverged)/\(s.count))" } ?? "—")
        } else {
          r.append(cell(g.summary(m), m, expected: g.counts.ok))
        }
      }
      r.append("\(g.counts.atCap)/\(g.counts.ok)")
      return r
    }
    columns.append(Table.Column("at cap"))
    let t = agg.totals
    var pooling: [String] = []
    if !agg.pooledKeys.isEmpty {
      pooling.append(
        "Pooled: each row mixes trials that differ in \(agg.pooledKeys.joined(separator: ", ")) "
          + "(not in the grouping).")
    }
    return Table(
      name: "summary", title: "Measurements over seeds (\(t.total) trials)", columns: columns,
      rows: rows,
      notes: pooling + [
        "mean ± half-width of the 95% CI (Student t over seeds), or [low, high] where the CI was "
          + "cut to the possible values; (k): only k trials had the value; (n=k): fewer than "
          + "\(Summary.minimumForInterval) seeds, too few for an interval.",
        "Measurements use only trials with a compression report (ok); diverged (div), failed and "
          + "pending trials are counted, not averaged.",
        "pruned %: prunable parameters removed at the budget r (hidden layers; a CNN's "
          + "convolutions but the first); drop pp: unpruned − pruned test "
          + "accuracy in points; iters→target: trials that reached the target only; diverged: "
          + "share of finished trials (95% Wilson CI in the CSV).",
        "α̂ Hill L1, α̂ moment L1: the two tail-index estimators (Hill; moment estimator of "
          + "Dekkers et al. 1989) on the same k largest layer-1 neuron norms.",
        "at cap: ok trials that stopped at the iteration cap before reaching the target "
          + "accuracy, of all ok trials (the others reached it).",
      ] + (sAt == nil ? [] : [noiseScaleColumnNote]))
  }

  /// What the `s` column is.
  static let noiseScaleColumnNote =
    "s: the per-step noise scale σ·η^(1/α) (— for plain SGD; low–high where a row pools "
    + "several)."

  /// The summary as machine-readable columns, named like the keys of sweep files (camelCase):
  /// counts, then `<measure>N`, `Mean`, `Std`, `CiLow`, `CiHigh` of every measurement, as
  /// fractions (not percent).
  public static func summaryCSVTable(_ agg: Aggregation) -> Table {
    var columns = agg.keys.map { Table.Column($0, key: true) }
    let sAt = noiseScaleColumn(agg)
    if let sAt { columns.insert(Table.Column("s", key: true), at: sAt) }
    columns += ["okCount", "divergedCount", "failedCount", "pendingCount"].map {
      Table.Column($0)
    }
    for m in summaryMeasures {
      for s in ["N", "Mean", "Std", "CiLow", "CiHigh"] {
        columns.append(Table.Column("\(m.rawValue)\(s)"))
      }
    }
    let rows = agg.groups.map { g -> [String] in
      var r = g.values.map(\.description)
      // One raw scale; empty for plain SGD or a row that pools several.
      if let sAt { r.insert(g.noiseScales.count == 1 ? raw(g.noiseScales[0]) : "", at: sAt) }
      r += [g.counts.ok, g.counts.diverged, g.counts.failed, g.counts.pending].map(String.init)
      for m in summaryMeasures {
        let s = g.summary(m)
        r += [String(s.count), raw(s.mean), raw(s.std), raw(s.ciLow), raw(s.ciHigh)]
      }
      r.append(String(g.counts.atCap))
      return r
    }
    columns.append(Table.Column("n_at_cap"))
    return Table(name: "summary", title: "Measurements over seeds", columns: columns, rows: rows)
  }

  /// One line per group and measurement: n, mean, std and the 95 % CI in display units.
  public static func detailTable(_ agg: Aggregation) -> Table {
    var columns = agg.keys.map {
      Table.Column(ConfigKey.symbol($0), right: $0 != "dataset", key: true)
    }
    columns += [
      Table.Column("measurement", right: false, key: true), Table.Column("n"),
      Table.Column("mean"), Table.Column("std"), Table.Column("95% CI"),
    ]
    var rows: [[String]] = []
    for g in agg.groups {
      for m in summaryMeasures {
        let s = g.summary(m)
        let d = m.decimals + 1
        let ci = s.ciLow.flatMap { lo in
          s.ciHigh.map { hi in "[\(fixed(lo * m.scale, d)), \(fixed(hi * m.scale, d))]" }
        }
        rows.append(
          g.values.map(\.description) + [
            m.header, String(s.count), s.mean.map { fixed($0 * m.scale, d) } ?? "—",
            s.std.map { fixed($0 * m.scale, d) } ?? "—", ci ?? "—",
          ])
      }
    }
    return Table(
      name: "detail", title: "Every measurement in detail", columns: columns, rows: rows,
      notes: [
        "95% CI: Student t over seeds; for the diverged share the Wilson score interval. "
          + "Units as in the summary: % and pp are percent and percentage points."
      ])
  }

  /// The paired table for reading: noisy vs plain means, the difference and its paired 95 % CI.
  public static func pairedTable(_ p: PairedComparison) -> Table {
    var columns = p.pointKeys.map {
      Table.Column(ConfigKey.symbol($0), right: $0 != "dataset", key: true)
    }
    columns += [
      Table.Column("noisy run", right: false, key: true), Table.Column("s", key: true),
      Table.Column("vs", right: false, key: true),
      Table.Column("measure", right: false, key: true), Table.Column("pairs"),
      Table.Column("noisy"), Table.Column("plain"), Table.Column("diff"), Table.Column("95% CI"),
      Table.Column("div n/p"),
    ]
    let rows = p.rows.map { r -> [String] in
      let m = r.measure
      let d = m.decimals
      func sign(_ x: Double) -> String {
        let t = fixed(x * m.scale, d)
        return t.hasPrefix("-") ? t : "+" + t
      }
      let ci =
        r.pairs < Summary.minimumForInterval && r.pairs > 0
        ? "too few (\(r.pairs))"
        : r.difference.ciLow.flatMap { lo in
          r.difference.ciHigh.map { hi in "[\(sign(lo)), \(sign(hi))]" }
        }
      return r.point.map(\.description) + [
        r.noisy, noiseScaleCell(r.noiseScale.map { [$0] } ?? []), r.plain, m.header,
        String(r.pairs),
        r.noisyMean.map { fixed($0 * m.scale, d) } ?? "—",
        r.plainMean.map { fixed($0 * m.scale, d) } ?? "—",
        r.difference.mean.map(sign) ?? "—", ci ?? "—", "\(r.noisyDiverged)/\(r.plainDiverged)",
      ]
    }
    return Table(
      name: "paired", title: "Noisy vs plain SGD, paired by seed (diff = noisy − plain)",
      columns: columns, rows: rows,
      notes: [
        "Pairs: same grid point and seed (same initial weights and batches); means over the pairs.",
        "95% CI: paired Student t on the per-seed differences; iters→target: pairs where both "
          + "reached the target; div n/p: diverged noisy/plain trials at the point (not paired).",
        noiseScaleColumnNote,
      ])
  }

  /// The paired comparison as machine-readable columns (fractions, not percent).
  public static func pairedCSVTable(_ p: PairedComparison) -> Table {
    var columns = p.pointKeys.map { Table.Column($0, key: true) }
    columns += [
      "noisy", "s", "plain", "measure", "pairs", "noisyMean", "plainMean", "diffMean", "diffStd",
      "diffCiLow", "diffCiHigh", "noisyDiverged", "plainDiverged",
    ].map { Table.Column($0) }
    let rows = p.rows.map { r -> [String] in
      r.point.map(\.description) + [
        r.noisy, raw(r.noiseScale), r.plain, r.measure.rawValue, String(r.pairs), raw(r.noisyMean),
        raw(r.plainMean),
        raw(r.difference.mean), raw(r.difference.std), raw(r.difference.ciLow),
        raw(r.difference.ciHigh), String(r.noisyDiverged), String(r.plainDiverged),
      ]
    }
    return Table(
      name: "paired", title: "Noisy vs plain SGD, paired by seed", columns: columns, rows: rows)
  }
}
