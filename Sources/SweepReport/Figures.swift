import Foundation
import SweepStore
import TailNet

/// One figure of a report: a standalone SVG document and where it goes.
public struct Figure: Hashable, Sendable {
  /// File stem: the figure is written as `figures/<name>.svg`.
  public var name: String
  /// Title (also the caption in index.html).
  public var title: String
  /// Legend labels, in order.
  public var labels: [String]
  /// The SVG document.
  public var svg: String
}

/// Which series a trial belongs to in the figures, and how the x axis is chosen.
struct FigureLayout {
  /// The key on the x axis of the "vs width" figures.
  var xKey: String
  /// Keys that separate the lines.
  var seriesKeys: [String]
  /// The configuration keys that are the same for every trial, as text for subtitles.
  var fixedText: String
  /// Budget r, when all trials share one.
  var budget: Double?
  /// Whether noisy trials use more than one noise type (else the type is left out of labels).
  var severalNoisyTypes: Bool

  init(rows: [TrialRow]) {
    let configs = rows.map(\.config)
    let varying = ConfigKey.varying(in: configs)
    let x =
      ["width", "channels", "sigma", "alpha", "eta", "batchSize", "depth"].first {
        varying.contains($0)
      }
      ?? "width"
    xKey = x
    seriesKeys = varying.filter { $0 != x }
    var parts: [String] = []
    if let c = configs.first {
      // A VGG has no width or depth but a channel multiplier.
      let fixedKeys =
        c.modelKind == .fcn
        ? ["dataset", "depth", "width", "eta", "batchSize", "alpha", "sigma", "budget"]
        : ["dataset", "model", "channels", "eta", "batchSize", "alpha", "sigma", "budget"]
      for key in fixedKeys
      where !varying.contains(key) && key != x {
        guard let v = ConfigKey.value(key, of: c) else { continue }
        parts.append(key == "dataset" ? v.description : "\(ConfigKey.symbol(key))=\(v)")
      }
    }
    fixedText = parts.joined(separator: " · ")
    let budgets = Set(configs.map(\.budget))
    budget = budgets.count == 1 ? budgets.first : nil
    severalNoisyTypes = Set(configs.filter(\.isNoisy).map(\.noiseType)).count > 1
    let positive = configs.compactMap { ConfigKey.value(x, of: $0)?.number }.filter { $0 > 0 }
    xLog =
      ConfigKey.logScale.contains(x)
      || (x == "sigma" && Set(positive).count >= 3
        && (positive.max() ?? 0) >= 10 * (positive.min() ?? 1))
  }

  /// The series identity of a trial.
  func seriesID(_ c: TrialConfig) -> SeriesID {
    SeriesID(values: seriesKeys.compactMap { ConfigKey.value($0, of: c) }, isNoisy: c.isNoisy)
  }

  /// A legend label: `α=1.75, σ=0.5` for noisy runs, `plain SGD (σ=0)` for the baseline.
  func label(_ id: SeriesID) -> String {
    var parts: [String] = []
    for (k, v) in zip(seriesKeys, id.values) {
      if !id.isNoisy && ConfigKey.noiseKeys.contains(k) { continue }
      if k == "noiseType" {
        if severalNoisyTypes { parts.append("type \(v)") }
      } else if k == "dataset" {
        parts.append(v.description)
      } else {
        parts.append("\(ConfigKey.symbol(k))=\(v)")
      }
    }
    if !id.isNoisy { return (["plain SGD (σ=0)"] + parts).joined(separator: ", ") }
    return parts.isEmpty ? "noisy SGD" : parts.joined(separator: ", ")
  }

  /// X axis title with its unit.
  var xTitle: String {
    let t = Self.axisTitle(xKey)
    return xLog && !t.contains("log scale") ? t + " (log scale; σ = 0 as a level line)" : t
  }

  static func axisTitle(_ key: String) -> String {
    switch key {
    case "width": return "width n (hidden neurons per layer, log scale)"
    case "sigma": return "noise scale σ"
    case "alpha": return "noise tail index α"
    case "eta": return "step size η (log scale)"
    case "batchSize": return "batch size b (log scale)"
    case "depth": return "depth (hidden layers)"
    case "channels": return "channel multiplier m (VGG-11-wide, log scale)"
    default: return key
    }
  }

  /// Log x axis: width, η, batch size always; σ when its positive values span a factor ≥ 10.
  var xLog: Bool

  /// Whether a series with all its points at x = 0 must become a reference line (log x axis).
  func isReference(_ points: [PlotPoint]) -> Bool {
    xLog && !points.isEmpty && points.allSatisfy { $0.x <= 0 }
  }
}

/// A line of the figures: values of the series keys, and whether noise is injected.
struct SeriesID: Hashable, Comparable {
  var values: [KeyValue]
  var isNoisy: Bool
  /// Noisy lines first (in key order), the plain baseline last.
  static func < (a: SeriesID, b: SeriesID) -> Bool {
    if a.isNoisy != b.isNoisy { return a.isNoisy }
    return a.values.lexicographicallyPrecedes(b.values)
  }
}

extension SweepReport {
  /// The report's figures, built from `rows`: pruning ratio, accuracy and tail index vs width
  /// (or the first varying key of σ, α, η, batch, depth), the fixed-ratio curve, err(κ) and
  /// training curves. Error bars are 95 % Student-t intervals over seeds.
  public static func figures(_ rows: [TrialRow]) -> [Figure] {
    let layout = FigureLayout(rows: rows)
    let ok = rows.filter { RowClass($0) == .ok }
    var bySeries: [SeriesID: [TrialRow]] = [:]
    for r in rows { bySeries[layout.seriesID(r.config), default: []].append(r) }
    let ids = bySeries.keys.sorted()
    var colour: [SeriesID: Int] = [:]
    var next = 0
    for id in ids {
      if id.isNoisy {
        colour[id] = next % LinePlot.black
        next += 1
      } else {
        colour[id] = LinePlot.black
      }
    }
    var labels: [SeriesID: String] = [:]
    for id in ids {
      labels[id] = layout.label(id)
      // The per-step noise scale s = σ·η^(1/α) beside σ, when one value holds for the line.
      let scales = Set(
        (bySeries[id] ?? []).map(\.config).filter(\.isNoisy).map {
          noiseScaleText(sigma: $0.sigma, eta: $0.eta, alpha: $0.alpha)
        })
      if id.isNoisy, scales.count == 1, let s = scales.first { labels[id]? += ", s=\(s)" }
    }
    let xName =
      layout.xKey == "width"
      ? "width" : layout.xKey == "channels" ? "channel multiplier" : ConfigKey.symbol(layout.xKey)
    let cnn = rows.contains { $0.config.modelKind != .fcn }
    let r = layout.budget.map { "r = \(formatKeyNumber($0))" } ?? "the budget r"
    let seedsNote = "mean over seeds, bars: 95 % CI (Student t)"
    func subtitle(_ extra: String) -> String {
      [layout.fixedText, extra].filter { !$0.isEmpty }.joined(separator: " · ")
    }
    // Figures without the x key are drawn at each line's largest value of it (the largest
    // width; for σ on the x axis, plain SGD stays at σ = 0).
    var seriesMax: [SeriesID: KeyValue] = [:]
    for (id, members) in bySeries {
      seriesMax[id] = members.compactMap { ConfigKey.value(layout.xKey, of: $0.config) }.max()
    }
    let maxima = Set(seriesMax.values)
    let sym = ConfigKey.symbol(layout.xKey)
    let atMaxText: String
    if maxima.count == 1, let m = maxima.first {
      atMaxText = "at \(sym) = \(m)"
    } else if layout.xKey == "sigma" && maxima.count == 2 && maxima.contains(.number(0)),
      let m = maxima.max()
    {
      atMaxText = "at σ = \(m) (plain SGD: σ = 0)"
    } else {
      atMaxText = "at each line's largest \(sym)"
    }
    func xOf(_ row: TrialRow) -> Double? { ConfigKey.value(layout.xKey, of: row.config)?.number }
    func okRows(_ id: SeriesID) -> [TrialRow] { ok.filter { layout.seriesID($0.config) == id } }
    func atMax(_ rows: [TrialRow]) -> [TrialRow] {
      rows.filter {
        let v = ConfigKey.value(layout.xKey, of: $0.config)
        return v != nil && v == seriesMax[layout.seriesID($0.config)]
      }
    }

    /// Mean and CI of `value` per x, in display units.
    func points(_ rows: [TrialRow], scale: Double, _ value: (TrialResult) -> Double?) -> [PlotPoint]
    {
      var byX: [Double: [Double]] = [:]
      for row in rows {
        guard let x = xOf(row), let res = row.result, let v = value(res), v.isFinite else {
          continue
        }
        byX[x, default: []].append(v)
      }
      return byX.keys.sorted().compactMap { x in
        let s = Summary.of(byX[x] ?? [])
        guard let m = s.mean else { return nil }
        return PlotPoint(
          x: x, y: m * scale, low: s.ciLow.map { $0 * scale }, high: s.ciHigh.map { $0 * scale })
      }
    }
    /// Mean and CI over seeds of a curve (pairs of x and y per trial), in display units.
    func curve(_ rows: [TrialRow], scale: Double, _ pairs: (TrialResult) -> [(Double, Double)])
      -> [PlotPoint]
    {
      var byX: [Double: [Double]] = [:]
      for row in rows {
        guard let res = row.result else { continue }
        for (x, y) in pairs(res) where x.isFinite && y.isFinite { byX[x, default: []].append(y) }
      }
      return byX.keys.sorted().compactMap { x in
        let s = Summary.of(byX[x] ?? [])
        guard let m = s.mean else { return nil }
        return PlotPoint(
          x: x, y: m * scale, low: s.ciLow.map { $0 * scale }, high: s.ciHigh.map { $0 * scale })
      }
    }
    func series(_ id: SeriesID, _ pts: [PlotPoint], suffix: String = "", dashed: Bool = false)
      -> PlotSeries
    {
      PlotSeries(
        label: (labels[id] ?? "?") + suffix, points: pts, color: colour[id] ?? 0, dashed: dashed,
        isReference: layout.isReference(pts))
    }
    func figure(_ name: String, _ plot: LinePlot) -> Figure {
      Figure(name: name, title: plot.title, labels: plot.series.map(\.label), svg: plot.svg())
    }

    var figs: [Figure] = []
    figs.append(
      figure(
        "pruning_ratio",
        LinePlot(
          title: "Pruning ratio at \(r) vs \(xName)", subtitle: subtitle(seedsNote),
          xLabel: layout.xTitle,
          yLabel: cnn
            ? "prunable parameters pruned (%, whole filters)" : "hidden parameters pruned (%)",
          xLog: layout.xLog,
          series: ids.map { id in
            series(id, points(okRows(id), scale: 100) { $0.compression?.pruningRatio })
          }, yLimits: (0, 100))))
    figs.append(
      figure(
        "accuracy",
        LinePlot(
          title: "Test accuracy, unpruned and pruned at \(r), vs \(xName)",
          subtitle: subtitle(seedsNote), xLabel: layout.xTitle, yLabel: "test accuracy (%)",
          xLog: layout.xLog,
          series: ids.flatMap { id in
            [
              series(
                id, points(okRows(id), scale: 100) { $0.compression?.unpruned.testAccuracy },
                suffix: " — unpruned"),
              series(
                id, points(okRows(id), scale: 100) { $0.compression?.pruned.testAccuracy },
                suffix: " — pruned", dashed: true),
            ]
          }, yLimits: (0, 100))))
    figs.append(
      figure(
        "fixed_ratio",
        LinePlot(
          title: "Test accuracy vs fraction of neurons pruned",
          subtitle: subtitle(atMaxText + " · " + seedsNote),
          xLabel: "fraction of neurons pruned per layer (%)",
          yLabel: "test accuracy (%)", xLog: false,
          series: ids.map { id in
            series(
              id,
              curve(atMax(okRows(id)), scale: 100) { res in
                (res.compression?.fixedRatioCurve ?? []).map { ($0.pruned * 100, $0.testAccuracy) }
              })
          }, yLimits: (0, 100))))
    figs.append(
      figure(
        "error_curve",
        LinePlot(
          title: "Relative error err(κ) of keeping the largest rows, layer 1",
          subtitle: subtitle(atMaxText + " · " + seedsNote),
          xLabel: "fraction κ of neurons kept (log scale)",
          yLabel: "err(κ) = ‖W − W_κ‖_F / ‖W‖_F", xLog: true,
          series: ids.map { id in
            series(
              id,
              curve(atMax(okRows(id)), scale: 1) { res in
                (res.compression?.layers.first?.errorCurve ?? []).map {
                  ($0.kept, $0.relativeError)
                }
              })
          }, yLimits: (0, 1))))
    // Training curves: mean over seeds per evaluation, the 95 % CI as a band. Trials stop at
    // different iterations (target reached), so later points average the seeds still training.
    var training: [PlotSeries] = []
    for id in ids {
      let members = atMax(bySeries[id] ?? []).filter {
        RowClass($0) == .ok && !($0.result?.training.history.isEmpty ?? true)
      }
      guard !members.isEmpty else { continue }
      let seedsText = " (\(members.count) seed\(members.count == 1 ? "" : "s"))"
      var train = series(
        id,
        curve(members, scale: 100) { res in
          res.training.history.map { (Double($0.iteration), $0.trainAccuracy) }
        }, suffix: seedsText + " — train")
      train.band = true
      var test = series(
        id,
        curve(members, scale: 100) { res in
          res.training.history.map { (Double($0.iteration), $0.testAccuracy) }
        }, suffix: seedsText + " — test", dashed: true)
      test.band = true
      training += [train, test]
    }
    figs.append(
      figure(
        "training_curves",
        LinePlot(
          title: "Training curves, mean over seeds",
          subtitle: subtitle(
            atMaxText + " · band: 95 % CI (Student t) over the seeds still training"),
          xLabel: "SGD iteration",
          yLabel: "accuracy (%)", xLog: false, series: training, yLimits: (0, 100), dodge: false)))
    let tailSeries = ids.map { id in
      series(id, points(okRows(id), scale: 1) { $0.compression?.layers.first?.tailIndexNorms.hill })
    }
    // Light-tailed (plain SGD) norms give Hill estimates in the tens: a log axis keeps the
    // heavy-tailed lines (α̂ ≈ 1–2) readable next to them.
    let tailMeans = tailSeries.flatMap { $0.points.map(\.y) }.filter { $0 > 0 }
    let tailLog = (tailMeans.max() ?? 1) > 8 * (tailMeans.min() ?? 1)
    figs.append(
      figure(
        "tail_index",
        LinePlot(
          title: "Tail index of layer-1 neuron norms vs \(xName)", subtitle: subtitle(seedsNote),
          xLabel: layout.xTitle,
          yLabel: "Hill estimate α̂ (dimensionless\(tailLog ? ", log scale" : ""))",
          xLog: layout.xLog, series: tailSeries, yLimits: (0, .infinity), yLog: tailLog)))
    return figs
  }
}
