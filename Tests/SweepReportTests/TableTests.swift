import Foundation
import SweepStore
import TailNet
import TailSweepTestSupport
import Testing

@testable import SweepReport

@Test func terminalTablesFitInOneHundredColumns() throws {
  let text = try SweepReport.renderTable(
    rows: Fixture.sweep, format: .table, maxWidth: 100, detail: true)
  for line in text.split(separator: "\n") {
    #expect(line.count <= 100, "too wide: \(line)")
  }
  // Counts and a value in mean ± half-width form (pruning 30.0 ± 24.8 % at n = 64).
  #expect(text.contains("30.0 ± 24.8"))
  #expect(text.contains("25% (1/4)"))
}

@Test func wideTableIsWrappedIntoBlocksRepeatingKeyColumns() {
  let t = Table(
    name: "t", title: "T",
    columns: [Table.Column("key", right: false, key: true)]
      + (0..<6).map { Table.Column("value\($0)") },
    rows: [["a"] + (0..<6).map { _ in String(repeating: "9", count: 12) }])
  let text = t.renderText(maxWidth: 40)
  let headers = text.split(separator: "\n").filter { $0.hasPrefix("key") }
  #expect(headers.count == 3)  // 2 values per block fit in 40 columns
  #expect(text.split(separator: "\n").allSatisfy { $0.count <= 40 })
}

@Test func csvHasRawNumbersAndEveryStatistic() throws {
  let agg = try SweepReport.aggregate(Fixture.sweep, by: ["width", "sigma"])
  let csv = SweepReport.summaryCSVTable(agg).renderCSV()
  let lines = csv.split(separator: "\n").map(String.init)
  let header = lines[0].split(separator: ",").map(String.init)
  #expect(
    header.prefix(7) == [
      "width", "sigma", "s", "okCount", "divergedCount", "failedCount", "pendingCount",
    ])
  #expect(header.contains("pruningRatioCiLow") && header.contains("divergedShareMean"))
  let row = try #require(lines.first { $0.hasPrefix("64,0.5,") }).split(
    separator: ",", omittingEmptySubsequences: false)
  #expect(row.count == header.count)
  let col = { (name: String) in String(row[header.firstIndex(of: name) ?? 0]) }
  #expect(
    col("okCount") == "3" && col("divergedCount") == "1" && col("failedCount") == "1"
      && col("pendingCount") == "1")
  // s = σ·η^(1/α) = 0.5 · 0.1^(1/1.75) = 0.134135… (raw); plain SGD rows leave it empty.
  #expect(abs((Double(col("s")) ?? 0) - 0.134_135) < 1e-6)
  let plain = try #require(lines.first { $0.hasPrefix("64,0,") }).split(
    separator: ",", omittingEmptySubsequences: false)
  #expect(plain[2].isEmpty)
  #expect(abs((Double(col("pruningRatioMean")) ?? 0) - 0.3) < 1e-12)
  #expect(abs((Double(col("pruningRatioStd")) ?? 0) - 0.1) < 1e-12)
}

@Test func csvQuotesFieldsWithCommas() {
  let t = Table(
    name: "t", title: "T", columns: [Table.Column("a")], rows: [["x,y"], ["say \"hi\""]])
  #expect(t.renderCSV() == "a\n\"x,y\"\n\"say \"\"hi\"\"\"\n")
}

@Test func markdownAndJSONFormats() throws {
  let md = try SweepReport.renderTable(rows: Fixture.sweep, format: .markdown)
  #expect(md.contains("## Measurements over seeds"))
  #expect(md.contains("| n | type | α | σ | s | ok | div | fail | pend |"))
  let json = try SweepReport.renderTable(rows: Fixture.sweep, format: .json)
  let object = try #require(
    try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
  #expect(object["aggregation"] != nil && object["paired"] != nil)
}

@Test func writeProducesTablesFiguresAndIndex() throws {
  let dir = try TestFiles.temporaryDirectory("report")
  defer { try? FileManager.default.removeItem(at: dir) }
  let s = try SweepReport.write(rows: Fixture.sweep, to: dir, by: nil)
  #expect(s.groups == 4 && s.totals.total == 15)
  for name in ["report.md", "summary.csv", "paired.csv", "report.json", "index.html"] {
    #expect(
      FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path), "\(name)")
  }
  let html = try String(contentsOf: dir.appendingPathComponent("index.html"), encoding: .utf8)
  for f in SweepReport.figures(Fixture.sweep) {
    #expect(
      FileManager.default.fileExists(
        atPath: dir.appendingPathComponent("figures/\(f.name).svg").path))
    #expect(html.contains("src=\"figures/\(f.name).svg\""))
  }
  #expect(html.contains("<table>") && !html.contains("http"))
}
