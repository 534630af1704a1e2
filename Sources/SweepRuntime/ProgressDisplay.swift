import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// How live progress is shown.
public enum ProgressStyle: String, Sendable, CaseIterable {
  /// A rewritten status line on a terminal, plain lines otherwise.
  case auto
  /// Plain lines every few seconds (logs, CI).
  case plain
  /// Nothing.
  case none
}

/// Live progress: done/running/failed/diverged, rate and ETA, on standard output.
struct ProgressDisplay {
  let total: Int
  let tty: Bool
  let enabled: Bool
  let interval: Double
  var started: Double?
  var lastShown = -1e9
  var lastLine = ""
  var drewLine = false

  init(style: ProgressStyle, total: Int) {
    self.total = total
    tty = style == .auto && isatty(STDOUT_FILENO) == 1
    enabled = style != .none
    interval = tty ? 0.5 : 5
  }

  /// The trial furthest along, for the line before any trial finished: its id, iteration, cap
  /// and seconds since it was handed out.
  struct Leading: Equatable {
    var trial: String
    var iteration: Int
    var maxIterations: Int
    var seconds: Double
  }

  static func line(
    done: Int, running: Int, failed: Int, diverged: Int, total: Int, workers: Int, elapsed: Double,
    leading: Leading? = nil
  ) -> String {
    let finished = done + failed
    if finished == 0, let l = leading {
      // No rate yet: say how far the furthest trial is instead of "0.00 trials/s | ETA ?".
      return "done \(done)/\(total) running \(running) failed \(failed) diverged \(diverged) "
        + "workers \(workers) | first result pending: trial \(l.trial) at iteration "
        + "\(l.iteration)/\(l.maxIterations) after \(Int(l.seconds.rounded())) s"
    }
    let rate = elapsed > 0 ? Double(finished) / elapsed : 0
    var eta = "?"
    if rate > 0 {
      let s = Int((Double(total - finished) / rate).rounded())
      eta =
        s >= 3600 ? "\(s / 3600)h\((s % 3600) / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
    let rateText = rate >= 10 ? String(Int(rate.rounded())) : String(format: "%.2f", rate)
    return "done \(done)/\(total) running \(running) failed \(failed) diverged \(diverged) "
      + "workers \(workers) | \(rateText) trials/s | ETA \(eta)"
  }

  mutating func update(
    done: Int, running: Int, failed: Int, diverged: Int, workers: Int, now: Double,
    force: Bool = false, leading: Leading? = nil
  ) {
    guard enabled else { return }
    if started == nil { started = now }
    guard force || now - lastShown >= interval else { return }
    lastShown = now
    let text = Self.line(
      done: done, running: running, failed: failed, diverged: diverged, total: total,
      workers: workers, elapsed: now - (started ?? now), leading: leading)
    if text == lastLine && !tty { return }
    lastLine = text
    if tty {
      FileHandle.standardOutput.write(Data(("\r\u{1b}[K" + text).utf8))
      drewLine = true
    } else {
      FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
  }

  mutating func finish() {
    if tty && drewLine { FileHandle.standardOutput.write(Data("\n".utf8)) }
  }
}
