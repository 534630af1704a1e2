import Foundation

/// One point of a plotted series, with an optional error bar.
public struct PlotPoint: Hashable, Sendable {
  /// Position on the x axis (data units).
  public var x: Double
  /// Position on the y axis (data units).
  public var y: Double
  /// Lower end of the error bar (nil: none).
  public var low: Double?
  /// Upper end of the error bar (nil: none).
  public var high: Double?
  /// Creates a point.
  public init(x: Double, y: Double, low: Double? = nil, high: Double? = nil) {
    self.x = x
    self.y = y
    self.low = low
    self.high = high
  }
}

/// A line of a plot: label for the legend, points, and style.
public struct PlotSeries: Hashable, Sendable {
  /// Legend text.
  public var label: String
  /// Points, drawn in x order.
  public var points: [PlotPoint]
  /// Index into the colour palette (several series may share a colour).
  public var color: Int
  /// Dashed line (e.g. pruned vs unpruned, test vs train).
  public var dashed: Bool
  /// A reference level drawn across the whole plot at the first point's y (its interval as a
  /// shaded band), e.g. plain SGD at σ = 0 on a log σ axis where 0 has no place.
  public var isReference: Bool
  /// Draw the intervals as a shaded band along the line instead of error bars (for curves
  /// with many points, e.g. training curves over seeds).
  public var band: Bool
  /// Creates a series.
  public init(
    label: String, points: [PlotPoint], color: Int, dashed: Bool = false, isReference: Bool = false,
    band: Bool = false
  ) {
    self.label = label
    self.points = points.sorted { $0.x < $1.x }
    self.color = color
    self.dashed = dashed
    self.isReference = isReference
    self.band = band
  }
}

/// A line chart rendered as a standalone SVG document (no scripts, fonts or links).
public struct LinePlot: Sendable {
  /// Title at the top.
  public var title: String
  /// Smaller line under the title (fixed settings, what the bars mean).
  public var subtitle: String
  /// X axis title with unit.
  public var xLabel: String
  /// Y axis title with unit.
  public var yLabel: String
  /// Logarithmic x axis.
  public var xLog: Bool
  /// The lines.
  public var series: [PlotSeries]
  /// Fixed y range (nil: from the data and error bars).
  public var yRange: (Double, Double)?
  /// Bounds the automatic y range may not cross (e.g. 0 and 100 for percentages); error bars
  /// beyond the axis are cut at its edge, without a cap.
  public var yLimits: (Double, Double)?
  /// Logarithmic y axis (for estimates spread over orders of magnitude).
  public var yLog: Bool = false
  /// Shift series sideways by a few pixels so error bars at the same x do not hide each other.
  public var dodge: Bool = true

  /// Creates a plot.
  public init(
    title: String, subtitle: String, xLabel: String, yLabel: String, xLog: Bool,
    series: [PlotSeries], yRange: (Double, Double)? = nil, yLimits: (Double, Double)? = nil,
    dodge: Bool = true, yLog: Bool = false
  ) {
    self.yLog = yLog
    self.yLimits = yLimits
    self.dodge = dodge
    self.title = title
    self.subtitle = subtitle
    self.xLabel = xLabel
    self.yLabel = yLabel
    self.xLog = xLog
    self.series = series
    self.yRange = yRange
  }

  /// Okabe–Ito colours (distinguishable with colour-vision deficiencies); black is the plain
  /// SGD baseline.
  static let palette = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7F3C8D", "#999999",
    "#000000",
  ]
  /// Palette index of black.
  static let black = 8

  /// The SVG document.
  public func svg() -> String {
    let fontFamily = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"
    let legendChars = series.map(\.label.count).max() ?? 0
    let legendWidth = series.isEmpty ? 0 : min(300, 56 + legendChars * 7)
    let plotLeft = 84.0
    let plotWidth = 560.0
    let plotHeight = 340.0
    let width = Int(plotLeft + plotWidth) + 24 + legendWidth + 16
    // Long titles shrink to fit (about 0.6 em per character in DejaVu Sans); a long subtitle
    // is split into two lines at its " · " separators before it is shrunk.
    let available = Double(width) - plotLeft - 12
    let titleSize = min(17, max(10, available / (Double(title.count) * 0.6)))
    var subtitleLines = [subtitle]
    if Double(subtitle.count) * 0.58 * 12 > available {
      let parts = subtitle.components(separatedBy: " · ")
      var first = ""
      var rest: [String] = []
      for p in parts {
        let candidate = first.isEmpty ? p : first + " · " + p
        if rest.isEmpty && (first.isEmpty || Double(candidate.count) * 0.58 * 12 <= available) {
          first = candidate
        } else {
          rest.append(p)
        }
      }
      subtitleLines = rest.isEmpty ? [first] : [first, rest.joined(separator: " · ")]
    }
    let longest = Double(subtitleLines.map(\.count).max() ?? 1)
    let subtitleSize = min(12, max(8, available / (longest * 0.58)))
    let plotTop = subtitleLines.count > 1 ? 86.0 : 70.0
    let legendHeight = 24 + series.count * 20
    let height = max(Int(plotTop + plotHeight) + 64, Int(plotTop) + legendHeight + 10)
    let plotRight = plotLeft + plotWidth
    let plotBottom = plotTop + plotHeight

    // Ranges.
    let xs = series.filter { !$0.isReference }.flatMap { $0.points.map(\.x) }
      .filter { !xLog || $0 > 0 }
    var ys: [Double] = []
    for s in series {
      for p in s.points {
        ys.append(p.y)
        if let l = p.low { ys.append(l) }
        if let h = p.high { ys.append(h) }
      }
    }
    ys = ys.filter(\.isFinite)
    // Error bars may widen the range to at most twice the spread of the means around them, so
    // one wild interval (two seeds) does not flatten every line.
    let means = series.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
    if yLog {
      if let lo = means.filter({ $0 > 0 }).min(), let hi = means.max(), hi > 0 {
        let ratio = max(hi / lo, 2)
        ys = ys.map { min(max($0, lo / ratio), hi * ratio) }
      }
    } else if let lo = means.min(), let hi = means.max() {
      let spread = max(hi - lo, abs(hi) * 0.2, 1e-9)
      ys = ys.map { min(max($0, lo - spread), hi + spread) }
    }
    if let (a, b) = yLimits { ys = ys.map { min(max($0, a), b) } }
    let xAxis = Axis(values: xs, log: xLog)
    let yAxis: Axis
    if let r = yRange {
      yAxis = Axis(fixed: r)
    } else {
      yAxis = Axis(values: yLog ? ys.filter { $0 > 0 } : ys, log: yLog)
    }
    func px(_ x: Double) -> Double { plotLeft + xAxis.fraction(x) * plotWidth }
    func py(_ y: Double) -> Double {
      if yLog && y <= 0 { return plotBottom }
      return plotBottom - yAxis.fraction(y) * plotHeight
    }
    func f(_ v: Double) -> String { String(format: "%.1f", v) }

    var o = """
      <?xml version="1.0" encoding="UTF-8"?>
      <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" \
      viewBox="0 0 \(width) \(height)" font-family="\(fontFamily)">
      <title>\(htmlEscape(title))</title>
      <rect x="0" y="0" width="\(width)" height="\(height)" fill="#ffffff"/>
      <text class="title" x="\(f(plotLeft))" y="26" font-size="\(f(titleSize))" font-weight="bold" \
      fill="#111">\(htmlEscape(title))</text>

      """
    for (i, line) in subtitleLines.enumerated() {
      o += "<text class=\"subtitle\" x=\"\(f(plotLeft))\" y=\"\(48 + 16 * i)\" "
      o += "font-size=\"\(f(subtitleSize))\" fill=\"#444\">\(htmlEscape(line))</text>\n"
    }
    // Grid and ticks.
    o += "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">\n"
    let xTicks = xAxis.ticks(pixels: plotWidth, dataValues: Array(Set(xs)).sorted())
    let yTicks = yAxis.ticks(pixels: plotHeight, dataValues: [])
    for t in xTicks {
      o +=
        "<line x1=\"\(f(px(t)))\" y1=\"\(f(plotTop))\" x2=\"\(f(px(t)))\" y2=\"\(f(plotBottom))\"/>\n"
    }
    for t in yTicks {
      o +=
        "<line x1=\"\(f(plotLeft))\" y1=\"\(f(py(t)))\" x2=\"\(f(plotRight))\" y2=\"\(f(py(t)))\"/>\n"
    }
    o += "</g>\n"
    o += """
      <rect x="\(f(plotLeft))" y="\(f(plotTop))" width="\(f(plotWidth))" height="\(f(plotHeight))" \
      fill="none" stroke="#333" stroke-width="1"/>

      """
    o += "<g class=\"x-ticks\" font-size=\"12\" fill=\"#222\" text-anchor=\"middle\">\n"
    for t in xTicks {
      o +=
        "<line x1=\"\(f(px(t)))\" y1=\"\(f(plotBottom))\" x2=\"\(f(px(t)))\" y2=\"\(f(plotBottom + 5))\" stroke=\"#333\"/>"
      o +=
        "<text x=\"\(f(px(t)))\" y=\"\(f(plotBottom + 19))\">\(htmlEscape(tickLabel(t, step: xAxis.step)))</text>\n"
    }
    o += "</g>\n<g class=\"y-ticks\" font-size=\"12\" fill=\"#222\" text-anchor=\"end\">\n"
    for t in yTicks {
      o +=
        "<line x1=\"\(f(plotLeft - 5))\" y1=\"\(f(py(t)))\" x2=\"\(f(plotLeft))\" y2=\"\(f(py(t)))\" stroke=\"#333\"/>"
      o +=
        "<text x=\"\(f(plotLeft - 8))\" y=\"\(f(py(t) + 4))\">\(htmlEscape(tickLabel(t, step: yAxis.step)))</text>\n"
    }
    o += "</g>\n"
    o += """
      <text class="x-label" x="\(f(plotLeft + plotWidth / 2))" y="\(f(plotBottom + 44))" \
      font-size="14" text-anchor="middle" fill="#111">\(htmlEscape(xLabel))</text>
      <text class="y-label" x="0" y="0" font-size="14" text-anchor="middle" fill="#111" \
      transform="translate(22,\(f(plotTop + plotHeight / 2))) rotate(-90)">\(htmlEscape(yLabel))</text>

      """
    if series.allSatisfy({ $0.points.isEmpty }) {
      o += """
        <text x="\(f(plotLeft + plotWidth / 2))" y="\(f(plotTop + plotHeight / 2))" font-size="14" \
        text-anchor="middle" fill="#777">no finished trials to show</text>

        """
    }
    // Series.
    o += "<g class=\"data\" clip-path=\"none\">\n"
    let k = series.count
    for (i, s) in series.enumerated() {
      let colour = Self.palette[s.color % Self.palette.count]
      let shift = dodge && k > 1 ? (Double(i) - Double(k - 1) / 2) * min(3, 14 / Double(k)) : 0
      o += "<g class=\"series\" data-label=\"\(htmlEscape(s.label))\">\n"
      if s.isReference, let p = s.points.first(where: { $0.y.isFinite }) {
        if let lo = p.low, let hi = p.high, lo.isFinite, hi.isFinite {
          let top = min(max(py(hi), plotTop), plotBottom)
          let bottom = min(max(py(lo), plotTop), plotBottom)
          o +=
            "<rect class=\"band\" x=\"\(f(plotLeft))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(bottom - top))\" fill=\"\(colour)\" fill-opacity=\"0.10\"/>\n"
        }
        let dash = s.dashed ? "7,4" : "2,3"
        o +=
          "<polyline class=\"line\" points=\"\(f(plotLeft)),\(f(py(p.y))) \(f(plotRight)),\(f(py(p.y)))\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" stroke-dasharray=\"\(dash)\"/>\n"
        o += "</g>\n"
        continue
      }
      let pts = s.points.filter { $0.y.isFinite && (!xLog || $0.x > 0) && (!yLog || $0.y > 0) }
      if s.band {
        // The interval as one shaded polygon: upper ends left to right, lower ends back.
        let withCI = pts.filter {
          ($0.low?.isFinite ?? false) && ($0.high?.isFinite ?? false)
        }
        if withCI.count >= 2 {
          func clamp(_ y: Double) -> Double { min(max(py(y), plotTop), plotBottom) }
          let upper = withCI.map { "\(f(px($0.x))),\(f(clamp($0.high ?? $0.y)))" }
          let lower = withCI.reversed().map { "\(f(px($0.x))),\(f(clamp($0.low ?? $0.y)))" }
          o +=
            "<polygon class=\"band\" points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(colour)\" fill-opacity=\"0.15\" stroke=\"none\"/>\n"
        }
      }
      for p in pts where !s.band {
        if let lo = p.low, let hi = p.high, lo.isFinite, hi.isFinite {
          let x = px(p.x) + shift
          let bottom = min(max(py(lo), plotTop), plotBottom)
          let top = min(max(py(hi), plotTop), plotBottom)
          var d = "M\(f(x)),\(f(bottom))V\(f(top))"
          if bottom < plotBottom { d += "M\(f(x - 4)),\(f(bottom))H\(f(x + 4))" }
          if top > plotTop { d += "M\(f(x - 4)),\(f(top))H\(f(x + 4))" }
          o +=
            "<path class=\"errorbar\" d=\"\(d)\" stroke=\"\(colour)\" stroke-width=\"1.2\" fill=\"none\"/>\n"
        }
      }
      let coords = pts.map { "\(f(px($0.x) + shift)),\(f(py($0.y)))" }.joined(separator: " ")
      let dash = s.dashed ? " stroke-dasharray=\"7,4\"" : ""
      o +=
        "<polyline class=\"line\" points=\"\(coords)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash)/>\n"
      if pts.count <= 40 {
        for p in pts {
          o +=
            "<circle cx=\"\(f(px(p.x) + shift))\" cy=\"\(f(py(p.y)))\" r=\"3.2\" fill=\"\(s.dashed ? "#fff" : colour)\" stroke=\"\(colour)\" stroke-width=\"1.5\"/>\n"
        }
      }
      o += "</g>\n"
    }
    o += "</g>\n"
    // Legend.
    if !series.isEmpty {
      let lx = plotRight + 24
      let ly = plotTop
      o += "<g class=\"legend\" font-size=\"12\" fill=\"#222\">\n"
      o +=
        "<rect x=\"\(f(lx - 8))\" y=\"\(f(ly - 6))\" width=\"\(legendWidth)\" height=\"\(legendHeight - 4)\" fill=\"#fafafa\" stroke=\"#ccc\"/>\n"
      for (i, s) in series.enumerated() {
        let colour = Self.palette[s.color % Self.palette.count]
        let y = ly + 12 + Double(i) * 20
        let dash =
          s.isReference ? " stroke-dasharray=\"2,3\"" : s.dashed ? " stroke-dasharray=\"7,4\"" : ""
        o +=
          "<line x1=\"\(f(lx))\" y1=\"\(f(y))\" x2=\"\(f(lx + 30))\" y2=\"\(f(y))\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash)/>"
        if !s.isReference {
          o +=
            "<circle cx=\"\(f(lx + 15))\" cy=\"\(f(y))\" r=\"3.2\" fill=\"\(s.dashed ? "#fff" : colour)\" stroke=\"\(colour)\" stroke-width=\"1.5\"/>"
        }
        o +=
          "<text class=\"legend-label\" x=\"\(f(lx + 38))\" y=\"\(f(y + 4))\">\(htmlEscape(s.label))</text>\n"
      }
      o += "</g>\n"
    }
    o += "</svg>\n"
    return o
  }
}

/// A plotting axis: maps data values to [0, 1] and proposes readable ticks.
struct Axis {
  var low: Double
  var high: Double
  var log: Bool
  /// Tick step (linear axes), used to choose decimals of labels.
  var step: Double = 0

  init(fixed r: (Double, Double)) {
    low = r.0
    high = r.1
    log = false
    step = Axis.niceStep((high - low) / 5)
  }

  init(values: [Double], log: Bool) {
    self.log = log
    let v = values.filter { $0.isFinite && (!log || $0 > 0) }
    guard var lo = v.min(), var hi = v.max() else {
      low = log ? 1 : 0
      high = log ? 10 : 1
      step = log ? 0 : 0.2
      return
    }
    if log {
      if lo == hi {
        lo /= 2
        hi *= 2
      }
      let pad = Foundation.pow(hi / lo, 0.06)
      low = lo / pad
      high = hi * pad
    } else {
      if lo == hi {
        let d = lo == 0 ? 1 : abs(lo) * 0.1
        lo -= d
        hi += d
      }
      let s = Axis.niceStep((hi - lo) / 5)
      step = s
      low = (lo / s).rounded(.down) * s
      high = (hi / s).rounded(.up) * s
      if low == lo { low -= s * 0.25 }
      if high == hi { high += s * 0.25 }
    }
  }

  /// 1, 2 or 5 times a power of ten, close to `raw`.
  static func niceStep(_ raw: Double) -> Double {
    guard raw > 0, raw.isFinite else { return 1 }
    let e = Foundation.pow(10, (Foundation.log10(raw)).rounded(.down))
    let m = raw / e
    if m < 1.5 { return e }
    if m < 3.5 { return 2 * e }
    if m < 7.5 { return 5 * e }
    return 10 * e
  }

  func fraction(_ x: Double) -> Double {
    if log {
      return (Foundation.log(x) - Foundation.log(low))
        / (Foundation.log(high) - Foundation.log(low))
    }
    return (x - low) / (high - low)
  }

  /// Ticks: the data values themselves when there are few and they are far enough apart
  /// (widths of a grid, σ values), else 1-2-5 steps (log: powers of ten, with 2 and 5 when the
  /// range is short).
  func ticks(pixels: Double, dataValues: [Double]) -> [Double] {
    if !dataValues.isEmpty && dataValues.count <= 10 {
      let pos = dataValues.map { fraction($0) * pixels }
      let gaps = zip(pos.dropFirst(), pos).map { $0 - $1 }
      let labelWidth = dataValues.map { Double(tickLabel($0, step: 0).count) * 7.5 + 8 }.max() ?? 0
      if gaps.allSatisfy({ $0 >= max(36, labelWidth) }) { return dataValues }
    }
    if log {
      let lo = Foundation.log10(low).rounded(.down)
      let hi = Foundation.log10(high).rounded(.up)
      let decades = hi - lo
      let mults: [Double] = decades <= 2 ? [1, 2, 5] : decades <= 4 ? [1, 3] : [1]
      var t: [Double] = []
      var e = lo
      while e <= hi {
        for m in mults {
          let v = m * Foundation.pow(10, e)
          if v >= low && v <= high { t.append(v) }
        }
        e += 1
      }
      return t
    }
    var t: [Double] = []
    guard step > 0 else { return [low, high] }
    var v = (low / step).rounded(.up) * step
    while v <= high + step * 1e-9 {
      t.append(abs(v) < step * 1e-9 ? 0 : v)
      v += step
    }
    return t
  }
}

/// A tick label: integers plainly (with thousands as `10k` when long), others with the decimals
/// the step needs.
func tickLabel(_ v: Double, step: Double) -> String {
  if v == v.rounded() && abs(v) < 1e7 {
    let i = Int(v)
    if abs(i) >= 100_000 && i % 1000 == 0 { return "\(i / 1000)k" }
    return String(i)
  }
  if step > 0 {
    let d = max(0, min(6, Int((-Foundation.log10(step)).rounded(.up))))
    return String(format: "%.\(d)f", v)
  }
  // Log axes and data-value ticks: 6 significant digits, no binary noise (0.30000000000000004).
  return String(format: "%g", v)
}
