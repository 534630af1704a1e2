import Foundation
import Testing

/// Statistics guards and filters of `report` and `export`, through the built binary.
@Suite(.serialized) struct ReportGuardsTests {
  @Test func twoSeedsGiveNoIntervalAndPoolingIsNamed() throws {
    let dir = try Binary.temporaryDirectory("report-guards")
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
}
