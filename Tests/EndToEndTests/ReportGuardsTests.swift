import Foundation
import TailSweepTestSupport
import Testing

/// Statistics guards and filters of `report` and `export`, through the built binary.
@Suite(.serialized) struct ReportGuardsTests {
  @Test func twoSeedsGiveNoIntervalAndPoolingIsNamed() throws {
    let dir = try TestFiles.temporaryDirectory("report-guards")
    defer { try? FileManager.default.removeItem(at: dir) }
    try CommandLineTests.writeTinySweep(dir)
    let run = try Binary.run(["run", "tiny.yaml", "--workers", "1", "--quiet"], in: dir)
    #expect(run.status == 0, "\(run.stderr)")

    // Two seeds per configuration: means marked (n=2), no ± and no interval anywhere.
    let plain = try Binary.run(["report", "--no-files", "--columns", "200"], in: dir)
    #expect(plain.status == 0, "\(plain.stderr)")
    let summary = plain.stdout.components(separatedBy: "Noisy vs plain").first ?? ""
    let dataRows = summary.split(separator: "\n").filter {
      $0.hasPrefix("   0") || $0.hasPrefix("   1")
    }
    #expect(dataRows.count == 2, "\(summary)")
    for row in dataRows {
      #expect(row.contains("(n=2)") && !row.contains("±"), "\(row)")
    }
    #expect(plain.stdout.contains("too few (2)"), "paired CI: \(plain.stdout)")
    #expect(!plain.stderr.contains("pools"), "the default grouping pools nothing")

    // --by over fewer keys than vary: a warning naming the pooled keys, and a note.
    let pooled = try Binary.run(["report", "--no-files", "--by", "width"], in: dir)
    #expect(pooled.status == 0, "\(pooled.stderr)")
    #expect(
      pooled.stderr.contains("warning: --by width pools trials that differ in noiseType, sigma"),
      "\(pooled.stderr)")
    #expect(pooled.stdout.contains("Pooled: each row mixes trials that differ in noiseType, sigma"))

    // --where in report and export.
    let noisy = try Binary.run(["report", "--no-files", "--where", "sigma=0.01"], in: dir)
    #expect(noisy.stdout.contains("Measurements over seeds (2 trials)"), "\(noisy.stdout)")
    let export = try Binary.run(["export", "--where", "sigma=0.01,seed=2"], in: dir)
    #expect(export.stdout.split(separator: "\n").count == 2, "\(export.stdout)")
    let bad = try Binary.run(["export", "--where", "lr=0.1"], in: dir)
    #expect(bad.status == 2 && bad.stderr.contains("unknown key 'lr'"), "\(bad.stderr)")
  }

  @Test func twoDefinitionsOrTwoFoldersInOneReport() throws {
    let dir = try TestFiles.temporaryDirectory("report-compare")
    defer { try? FileManager.default.removeItem(at: dir) }
    for (eta, results) in [(0.1, "a"), (0.2, "b"), (0.2, "a")] {
      try CommandLineTests.writeTinySweep(dir, eta: eta)
      let r = try Binary.run(
        ["run", "tiny.yaml", "--workers", "1", "--quiet", "--results", results], in: dir)
      #expect(r.status == 0, "\(r.stderr)")
    }
    // Two definitions of one store: tiny (η 0.1) and tiny@2 (η 0.2).
    let both = try Binary.run(["report", "a", "--sweep", "tiny,tiny@2", "--no-files"], in: dir)
    #expect(both.status == 0, "\(both.stderr)")
    #expect(both.stdout.contains("Measurements over seeds (8 trials)"), "\(both.stdout)")
    #expect(both.stdout.contains("  η  "), "η tells them apart: \(both.stdout)")
    // Two folders: a (current: η 0.2) and b (η 0.2): the same trials count once.
    let same = try Binary.run(["report", "b", "--compare", "a", "--no-files"], in: dir)
    #expect(same.stdout.contains("Measurements over seeds (4 trials)"), "\(same.stdout)")
    let older = try Binary.run(
      ["report", "b", "--compare", "a/tiny/sweep.sqlite", "--where", "eta=0.2", "--no-files"],
      in: dir)
    #expect(older.status == 0, "\(older.stderr)")
    let files = try Binary.run(["report", "b", "--compare", "a"], in: dir)
    #expect(files.status == 0, "\(files.stderr)")
    let md = try String(
      contentsOf: dir.appendingPathComponent("b/tiny/report.md"), encoding: .utf8)
    #expect(md.hasPrefix("# TailSweep report: tiny + a"), "\(md.prefix(80))")
  }
}
