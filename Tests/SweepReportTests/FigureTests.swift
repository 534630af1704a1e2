import Foundation
import SweepStore
import TailNet
import TailSweepTestSupport
import Testing

@testable import SweepReport

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// What an SVG document contains, read with a real XML parser (fails on malformed XML).
final class SVGContents: NSObject, XMLParserDelegate {
  var root = ""
  /// Series label → number of points of its polyline.
  var series: [(label: String, points: Int)] = []
  var errorBars = 0
  var texts: [String: [String]] = [:]  // class → texts
  private var currentSeries: String?
  private var textClass: String?
  private var text = ""

  static func parse(_ svg: String) -> SVGContents? {
    let c = SVGContents()
    let p = XMLParser(data: Data(svg.utf8))
    p.delegate = c
    return p.parse() ? c : nil
  }

  func parser(
    _ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
    qualifiedName: String?, attributes: [String: String] = [:]
  ) {
    if root.isEmpty { root = name }
    switch name {
    case "g" where attributes["class"] == "series": currentSeries = attributes["data-label"]
    case "polyline":
      let pts = (attributes["points"] ?? "").split(separator: " ").count
      series.append((currentSeries ?? "?", pts))
    case "path" where attributes["class"] == "errorbar": errorBars += 1
    case "text":
      textClass = attributes["class"] ?? ""
      text = ""
    default: break
    }
  }

  func parser(_ parser: XMLParser, foundCharacters string: String) {
    if textClass != nil { text += string }
  }

  func parser(
    _ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?
  ) {
    if name == "text", let c = textClass {
      texts[c, default: []].append(text)
      textClass = nil
    }
    if name == "g" { currentSeries = nil }
  }
}

private func figure(_ name: String, _ rows: [TrialRow] = Fixture.sweep) throws -> (
  Figure, SVGContents
) {
  let f = try #require(SweepReport.figures(rows).first { $0.name == name })
  let c = try #require(SVGContents.parse(f.svg), "not well-formed XML: \(f.name)")
  #expect(c.root == "svg")
  #expect(!(c.texts["title"] ?? []).isEmpty)
  #expect(!(c.texts["x-label"] ?? []).isEmpty && !(c.texts["y-label"] ?? []).isEmpty)
  #expect(c.texts["legend-label"] == f.labels)
  // Standalone: the only URL is the SVG namespace.
  #expect(f.svg.components(separatedBy: "http").count == 2)
  return (f, c)
}

@Test func everyFigureIsWellFormedSVGWithTitleAxesAndLegend() throws {
  let names = SweepReport.figures(Fixture.sweep).map(\.name)
  #expect(
    names == [
      "pruning_ratio", "accuracy", "fixed_ratio", "error_curve", "training_curves", "tail_index",
    ])
  for n in names { _ = try figure(n) }
}

@Test func pruningFigureHasOneLinePerNoiseSettingAndThePlainBaseline() throws {
  let (f, c) = try figure("pruning_ratio")
  #expect(f.labels == ["α=1.75, σ=0.5, s=0.134", "plain SGD (σ=0)"])
  #expect(c.series.map(\.points) == [2, 2])  // widths 64 and 128
  #expect(c.errorBars == 4)  // 3 seeds at every point
  #expect(c.texts["x-label"] == ["width n (hidden neurons per layer, log scale)"])
  #expect(c.texts["y-label"] == ["hidden parameters pruned (%)"])
  #expect(c.texts["title"]?.first == "Pruning ratio at r = 0.1 vs width")
  // Log axis ticks at the grid's widths.
  #expect(c.texts[""]?.contains("64") == true && c.texts[""]?.contains("128") == true)
}

@Test func accuracyFigureHasUnprunedAndPrunedLinesPerSeries() throws {
  let (f, c) = try figure("accuracy")
  #expect(f.labels.count == 4)
  #expect(f.labels.filter { $0.hasSuffix("— pruned") }.count == 2)
  #expect(c.series.map(\.points) == [2, 2, 2, 2])
}

@Test func curvesAreDrawnAtTheLargestWidth() throws {
  let (_, fixed) = try figure("fixed_ratio")
  #expect(fixed.series.map(\.points) == [11, 11])  // q = 0, 0.1, …, 1
  #expect((fixed.texts["subtitle"] ?? []).joined(separator: " ").contains("at n = 128"))
  let (_, err) = try figure("error_curve")
  #expect(err.series.map(\.points) == [6, 6])  // κ ∈ {0.01, …, 0.5}
  let (f, training) = try figure("training_curves")
  // Mean over the seeds with a band (no error bars); s = 0.5·η^(1/1.75) beside σ.
  #expect(f.labels.first == "α=1.75, σ=0.5, s=0.134 (3 seeds) — train")
  #expect(f.svg.contains("<polygon class=\"band\""))
  #expect(!f.svg.contains("class=\"errorbar\""))
  #expect(training.series.map(\.points) == [2, 2, 2, 2])  // evaluations at 0 and 100
  let (_, tail) = try figure("tail_index")
  #expect(tail.series.map(\.points) == [2, 2])
}

@Test func sigmaIsTheXAxisWhenWidthIsFixed() throws {
  var rows: [TrialRow] = []
  for (i, sigma) in [0.0, 0.5, 1.0].enumerated() {
    for seed: UInt64 in 1...2 {
      let c =
        sigma == 0
        ? Fixture.plain(seed: seed) : Fixture.config(alpha: 1.75, sigma: sigma, seed: seed)
      rows.append(Fixture.ok(c, pruning: 0.1 + 0.2 * Double(i) + 0.01 * Double(seed)))
    }
  }
  let (f, c) = try figure("pruning_ratio", rows)
  #expect(c.texts["x-label"] == ["noise scale σ"])
  #expect(f.labels == ["α=1.75", "plain SGD (σ=0)"])
  #expect(c.series.map(\.points) == [2, 1])
}

@Test func emptySweepStillGivesValidFigures() throws {
  let rows = [Fixture.pending(Fixture.config(seed: 1))]
  for f in SweepReport.figures(rows) {
    let c = try #require(SVGContents.parse(f.svg))
    #expect(c.root == "svg")
  }
}

@Test func logSigmaAxisDrawsPlainSGDAsALevelLine() throws {
  var rows: [TrialRow] = []
  for sigma in [0.0, 0.001, 0.01, 0.1] {
    for seed: UInt64 in 1...3 {
      let c = sigma == 0 ? Fixture.plain(seed: seed) : Fixture.config(sigma: sigma, seed: seed)
      rows.append(Fixture.ok(c, pruning: 0.1 + sigma + 0.01 * Double(seed)))
    }
  }
  let (f, c) = try figure("pruning_ratio", rows)
  #expect(c.texts["x-label"]?.first?.hasPrefix("noise scale σ (log scale") == true)
  #expect(f.labels == ["α=1.75", "plain SGD (σ=0)"])
  // Noisy line: 3 σ values; the plain level line spans the plot (2 points) with its CI band.
  #expect(c.series.map(\.points) == [3, 2])
  #expect(f.svg.contains("class=\"band\""))
  // Fixed-ratio curves: noisy at σ = 0.1, plain at σ = 0.
  let (_, fixed) = try figure("fixed_ratio", rows)
  #expect(fixed.series.map(\.points) == [11, 11])
}

@Test func tailIndexUsesALogAxisWhenPlainEstimatesAreLarge() throws {
  let rows = [
    Fixture.ok(Fixture.config(seed: 1), pruning: 0.3, hill: 1.6),
    Fixture.ok(Fixture.config(seed: 2), pruning: 0.3, hill: 1.8),
    Fixture.ok(Fixture.plain(seed: 1), pruning: 0.1, hill: 40),
    Fixture.ok(Fixture.plain(seed: 2), pruning: 0.1, hill: 60),
  ]
  let (_, c) = try figure("tail_index", rows)
  #expect(c.texts["y-label"]?.first?.contains("log scale") == true)
  #expect(c.series.map(\.points) == [1, 1])
}

@Test func tickLabelsHaveNoBinaryNoise() {
  #expect(tickLabel(3 * pow(10, -1), step: 0) == "0.3")
  #expect(tickLabel(2048, step: 0) == "2048")
  #expect(tickLabel(0.25, step: 0.05) == "0.25")
}

/// A VGG sweep over channel multipliers: the figures answer the CNN question like the width one.
@Test func vggSweepDrawsPruningAgainstTheChannelMultiplier() throws {
  var rows: [TrialRow] = []
  for (m, p) in [(0.0625, 0.1), (0.125, 0.2)] {
    for seed: UInt64 in 1...2 {
      for sigma in [0.0, 0.001] {
        var c =
          sigma == 0 ? Fixture.plain(width: 1, seed: seed) : Fixture.config(width: 1, seed: seed)
        c.sigma = sigma
        c.dataset = DatasetSpec(name: "fashion-mnist")
        c.model = .vgg11
        c.channels = m
        rows.append(Fixture.ok(c, pruning: sigma == 0 ? 0.1 : p))
      }
    }
  }
  let (f, c) = try figure("pruning_ratio", rows)
  // s = σ·η^(1/α) = 0.001 · 0.1^(1/1.75) beside σ (the fixture's η is 0.1).
  #expect(f.labels == ["α=1.75, σ=0.001, s=0.000268", "plain SGD (σ=0)"])
  #expect(c.series.map(\.points) == [2, 2])  // m = 1/16 and 1/8
  #expect(c.texts["title"]?.first == "Pruning ratio at r = 0.1 vs channel multiplier")
  #expect(c.texts["x-label"] == ["channel multiplier m (VGG-11-wide, log scale)"])
  #expect(c.texts["y-label"] == ["prunable parameters pruned (%, whole filters)"])
}
