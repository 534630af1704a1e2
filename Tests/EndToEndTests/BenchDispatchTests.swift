import Foundation
import TailSweepTestSupport
import Testing

/// `tailsweep bench dispatch` through the built binary: null trials through a real coordinator,
/// two local worker processes and the durable store, and its output is the table alone.
@Test func benchDispatchPrintsOnlyItsTable() throws {
  let out = try Binary.run(
    ["bench", "dispatch", "--workers", "2", "--trials", "40,60", "--no-ceiling"])
  #expect(out.status == 0, "\(out.stderr)")
  let lines = out.stdout.split(separator: "\n").map(String.init)
  // The mode line, the column header, one row per size, the targets (a heading and two
  // lines), the command that reproduces it: nothing of each run's closing summary
  // ("sweep dispatch: …", "results: …") in between.
  #expect(lines.count == 8, "\(lines)")
  #expect(lines.count == 8 && lines[4] == "targets (issue 12):", "\(lines)")
  #expect(lines.count == 8 && lines[5].contains("trials/s (best)") && lines[5].contains("≥ 5000"))
  #expect(lines.count == 8 && lines[6].contains("T = 40 → 60: rate change"))
  #expect(!out.stdout.contains("results:") && !out.stdout.contains("sweep dispatch"))
  #expect(lines.count > 1 && lines[1].contains("CPU µs/trial") && lines[1].contains("peak RSS"))
  for (row, trials) in zip(lines.dropFirst(2).prefix(2), [40, 60]) {
    let cells = row.split(separator: " ").compactMap { Double($0) }
    // trials, plan, store, workers, dispatch, trials/s, loop rate, loop CPU, µs/trial, MiB.
    #expect(cells.count == 10, "\(row)")
    guard cells.count == 10 else { continue }
    #expect(cells[0] == Double(trials))
    #expect(cells[5] > 0 && cells[6] > 0, "every trial committed at a positive rate: \(row)")
    #expect(cells[9] > 0, "peak resident memory read: \(row)")
  }
  #expect(lines.last?.hasPrefix("reproduce:") == true)
}
