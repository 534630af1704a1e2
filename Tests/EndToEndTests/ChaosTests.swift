import Foundation
import TailSweepTestSupport
import Testing

/// `tailsweep chaos`, the quick profile: the built-in sweep of 60 real (synthetic, bit-
/// reproducible) trials, once undisturbed and once under a seeded schedule of faults on real
/// processes (as root, on network-namespace hosts with partitions), with a hostile peer's
/// flood of 5,000 messages in one second and an audit of the leases in flight at each
/// coordinator kill. About 1.5 minutes with a debug build on 2 cores.
@Suite(.serialized) struct ChaosTests {
  /// The number in the table row that starts with `label`.
  static func value(_ table: String, _ label: String) -> Int? {
    for line in table.split(separator: "\n") where line.hasPrefix("| \(label) |") {
      let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
      return cells.count >= 2 ? Int(cells[1].split(separator: " ").first ?? "") : nil
    }
    return nil
  }

  @Test func quickProfileLosesNothing() throws {
    let dir = try TestFiles.temporaryDirectory("chaos")
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try Binary.run(["chaos", "--seed", "1", "--keep", dir.path])
    #expect(r.status == 0, "exit \(r.status)\n\(r.stdout)\n\(r.stderr)")
    let t = r.stdout
    #expect(Self.value(t, "trials") == 60, "\(t)")
    #expect(Self.value(t, "lost") == 0)
    #expect(
      Self.value(t, "duplicated (result rows or committed attempts beyond one per trial)") == 0)
    #expect(Self.value(t, "mismatched (field for field, timing aside)") == 0)
    #expect(Self.value(t, "acknowledged to a worker but not stored") == 0)
    #expect(Self.value(t, "store verify() problems") == 0)
    // The checks had something to check: acknowledged results were logged, and the faults of
    // the quick profile were injected.
    #expect((Self.value(t, "results workers logged as acknowledged") ?? 0) > 0)
    #expect((Self.value(t, "worker SIGKILL") ?? 0) >= 20)
    let coordinatorKills =
      (Self.value(t, "coordinator SIGKILL, restart") ?? 0)
      + (Self.value(t, "coordinator SIGKILL between commit and ack, restart") ?? 0)
    #expect(coordinatorKills >= 3)
    #expect((Self.value(t, "worker SIGSTOP beyond the deadline, then SIGCONT") ?? 0) >= 1)
    #expect(Self.value(t, "store locked by another process beyond the busy timeout") == 1)
    // The hostile peer's 5,000 messages all left; the coordinator logged dropping or refusing
    // them, stayed up (no exit that no fault explains) and committed none (the checks above:
    // nothing mismatched, nothing duplicated).
    #expect(Self.value(t, "hostile peer flood") == 1)
    #expect(Self.value(t, "hostile messages sent / configured") == 5000, "\(t)")
    #expect(
      (Self.value(t, "hostile messages the coordinator logged as dropped or refused") ?? 0) > 0)
    #expect((Self.value(t, "answers the hostile peer received") ?? 0) > 0)
    #expect(Self.value(t, "coordinator exits no fault explains") == 0)
    // Leases in flight at the coordinator kills: none rerun while its worker stayed alive,
    // and every one accounted for.
    let inFlight = Self.value(t, "trials in flight at coordinator kills") ?? 0
    #expect(inFlight >= 1)
    #expect(
      Self.value(t, "in flight at a kill: rerun although its worker stayed alive (must be 0)") == 0)
    #expect(Self.value(t, "in flight at a kill: no result at the end") == 0)
    if getuid() == 0 {
      // As root the round runs on namespace hosts: partitions and a full tmpfs are injected.
      #expect(Self.value(t, "worker host cut off for less than the deadline, then healed") == 2)
      #expect(Self.value(t, "worker host cut off beyond the deadline, then healed") == 2)
      #expect(Self.value(t, "results tmpfs full, then enlarged") == 1)
    }
  }

  /// Only coordinator kills (2 by the runner, 2 by the coordinator itself between commit and
  /// ack), so that the workers holding leases at a kill stay alive: their trials are kept (the
  /// restarted coordinator holds them until the worker is back), never rerun. About 40 s.
  @Test func coordinatorKillsKeepTheLeasesInFlight() throws {
    let r = try Binary.run([
      "chaos", "--seed", "1", "--only", "coordinator-kill", "--only",
      "coordinator-kill-after-commit",
    ])
    #expect(r.status == 0, "exit \(r.status)\n\(r.stdout)\n\(r.stderr)")
    let t = r.stdout
    #expect(Self.value(t, "trials") == 60, "\(t)")
    #expect(Self.value(t, "lost") == 0)
    #expect(Self.value(t, "mismatched (field for field, timing aside)") == 0)
    #expect(Self.value(t, "worker SIGKILL") == 0)
    #expect((Self.value(t, "trials in flight at coordinator kills") ?? 0) >= 1)
    #expect(
      (Self.value(t, "in flight at a kill: kept (committed from the lease running at the kill)")
        ?? 0) >= 1, "\(t)")
    #expect(
      Self.value(t, "in flight at a kill: rerun although its worker stayed alive (must be 0)") == 0)
  }
}
