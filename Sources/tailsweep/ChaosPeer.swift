import ArgumentParser
import Foundation
import SweepRuntime
import SweepSpec
import SweepStore
import SweepWire
import ZeroMQ

#if canImport(Glibc)
  import Glibc
#endif

/// `tailsweep chaos-peer` (hidden; `tailsweep chaos` runs it): a hostile peer. It connects to a
/// coordinator as a ZeroMQ DEALER with its own routing id (and, with `--impersonate`, more
/// DEALERs presenting other workers' routing ids), sends `--frames` messages of the seeded
/// `HostileFrames` stream, paced over `--seconds`, then listens for the coordinator's answers.
/// It prints one line `chaos-peer: {JSON}` with what it sent and what came back.
struct ChaosPeer: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "chaos-peer",
    abstract: "A hostile peer that floods a coordinator (used by tailsweep chaos).",
    shouldDisplay: false)

  @Option(help: "The coordinator's endpoint.") var connect: String
  @Option(help: "A store holding results of the sweep's trials (mutated into the flood).")
  var store: String
  @Option(help: "Messages to send.") var frames: Int = 5000
  @Option(help: "Seconds to spread them over.") var seconds: Double = 1
  @Option(help: "Seconds to listen for answers afterwards.") var listen: Double = 1.5
  @Option(help: "Seed of the message stream.") var seed: UInt64 = 1
  @Option(help: "One in this many messages is oversized (0: none).") var oversizedEvery = 1000
  @Option(help: "The coordinator's public key (CURVE).") var serverKey: String?
  @Option(help: "This peer's key folder (an allowed key: an insider).") var keys: String?
  @Option(help: "Also send one message in ten under this routing id (repeatable).")
  var impersonate: [String] = []

  struct Report: Codable {
    var sent = 0
    var sentAs: [String: Int] = [:]
    var sentByKind: [String: Int] = [:]
    var sendFailures = 0
    var answers: [String: Int] = [:]
    var seconds = 0.0
    var routingID = ""
  }

  func run() throws {
    let source = try SweepStore(readOnlyPath: store)
    let rows = try source.rows(sweepID: nil)
    try? source.close()
    let trials = rows.compactMap { row in
      row.result.map { HostileFrames.Trial(id: row.id, result: $0) }
    }
    guard !trials.isEmpty else { throw RuntimeFailure("no results in \(store) to mutate") }
    var curve: (server: String, keys: CurveKeyPair)?
    if let s = serverKey, let k = keys {
      curve = (try KeyFiles.keyArgument(s), try KeyFiles.load(from: URL(fileURLWithPath: k)))
    }
    let context = try ZMQContext()
    // Its own routing id carries its own key's tag, as a worker's does: an insider whose
    // messages reach the scheduler's checks. Those under `--impersonate` ids (honest workers'
    // tagged ids) are refused before, by the tag check.
    let own =
      "hostile-\(getpid())"
      + (curve.flatMap { curveRoutingTag(publicKey: $0.keys.publicKey) } ?? "")
    func dealer(_ id: String) throws -> ZMQSocket {
      let s = try ZMQSocket(context: context, type: .dealer, linger: 0)
      try s.setRoutingID(Array(id.utf8))
      try s.setSendHighWaterMark(100_000)
      try s.setReceiveHighWaterMark(100_000)
      if let curve { try s.makeCurveClient(serverKey: curve.server, keys: curve.keys) }
      try s.connect(connect)
      return s
    }
    let sockets = try ([own] + impersonate).map { ($0, try dealer($0)) }
    defer {
      for (_, s) in sockets { s.close() }
      context.shutdown()
    }
    var report = Report()
    report.routingID = own
    func drain() {
      for (_, s) in sockets {
        while let m = try? s.receive(dontWait: true, maxFrames: 8) {
          let key: String
          switch try? WireCodec.decode(m) {
          case .reject(let b)?: key = "reject \(b.code.rawValue)"
          case let other?: key = "\(other.kind)"
          case nil: key = "undecodable"
          }
          report.answers[key, default: 0] += 1
        }
      }
    }
    // Made before the clock starts, so that the pace is the wire's, not the generator's.
    var flood = HostileFrames(seed: seed, trials: trials, oversizedEvery: oversizedEvery)
    let messages = (0..<frames).map { _ in flood.next() }
    let start = monotonicSeconds()
    for (i, (kind, message)) in messages.enumerated() {
      // Paced: message i leaves at start + i/frames × seconds.
      let due = start + seconds * Double(i) / Double(max(1, frames))
      let wait = due - monotonicSeconds()
      if wait > 0 { usleep(UInt32(wait * 1e6)) }
      let (id, socket) =
        !impersonate.isEmpty && i % 10 == 9
        ? sockets[1 + (i / 10) % impersonate.count] : sockets[0]
      do {
        try socket.send(message)
        report.sent += 1
        report.sentAs[id == own ? "own routing id" : id, default: 0] += 1
        report.sentByKind[kind.rawValue, default: 0] += 1
      } catch {
        report.sendFailures += 1
      }
      if i % 64 == 0 { drain() }
    }
    report.seconds = monotonicSeconds() - start
    let until = monotonicSeconds() + listen
    while monotonicSeconds() < until {
      _ = try? poll(sockets.map { ($0.1, PollEvents.readable) }, timeoutMs: 50)
      drain()
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let json = String(decoding: try encoder.encode(report), as: UTF8.self)
    print("chaos-peer: \(json)")
  }
}
