import Testing

@testable import SweepRuntime

/// Before any trial finished there is no rate: the line says how far the furthest trial is.
@Test func progressLineBeforeTheFirstResultNamesTheLeadingTrial() {
  let leading = ProgressDisplay.Leading(
    trial: "abc123def456", iteration: 1200, maxIterations: 3000, seconds: 12.4)
  let early = ProgressDisplay.line(
    done: 0, running: 2, failed: 0, diverged: 0, total: 12, workers: 2, elapsed: 20,
    leading: leading)
  #expect(
    early
      == "done 0/12 running 2 failed 0 diverged 0 workers 2 | first result pending: trial "
      + "abc123def456 at iteration 1200/3000 after 12 s")
  // Once a trial finished, rate and ETA as before.
  let later = ProgressDisplay.line(
    done: 1, running: 2, failed: 0, diverged: 0, total: 12, workers: 2, elapsed: 20,
    leading: leading)
  #expect(later.hasSuffix("| 0.05 trials/s | ETA 3m40s"), "\(later)")
}
