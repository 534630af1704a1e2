import Foundation
import SweepSpec
import SweepWire
import TailNet
import ZeroMQ

/// Many workers in one process, for load tests of a real coordinator: one DEALER socket and
/// one `WorkerMachine` (the real worker rules: registration, heartbeats, held results,
/// reconnects) per worker, all on the calling thread. Trials are null trials that take
/// `trialSeconds` of wall time (nothing is computed). What a large cluster does to the
/// coordinator's socket, minus the training.
public final class Fleet {
  /// What the fleet saw, cumulative.
  public struct Counts: Sendable, Equatable {
    /// Assignments received.
    public var assigned = 0
    /// Results sent (first sends; resends after reconnects not counted).
    public var resultsSent = 0
    /// Acknowledgements received for results sent.
    public var acked = 0
    /// Registrations after the first one of a worker (the machine presumed the coordinator
    /// gone, or the coordinator had forgotten the worker).
    public var reRegistrations = 0
    /// Rejects received.
    public var rejects = 0
    /// Workers that stopped (shutdown or refusal).
    public var stopped = 0
  }

  struct Member {
    var machine: WorkerMachine
    var socket: ZMQSocket
    let identity: [UInt8]
    var computing: [Lease: (until: Double, config: TrialConfig)] = [:]
    var sentAt: [Lease: Double] = [:]
    var registrations = 0
    var stopped = false
  }

  let context: ZMQContext
  let endpoint: String
  let trialSeconds: Double
  let heartbeatInterval: Double
  let liveness: Int
  var members: [Member] = []
  /// Counts so far.
  public private(set) var counts = Counts()
  /// Seconds from each first result send to its ack, in order of arrival.
  public private(set) var ackLatencies: [Double] = []

  /// Prepares `workers` members that will connect to `endpoint`.
  public init(
    workers: Int, endpoint: String, trialSeconds: Double, heartbeatInterval: Double = 1,
    liveness: Int = 3
  ) throws {
    // Reconnects replace sockets; closed ones hold their slot until libzmq reaps them.
    context = try ZMQContext(maxSockets: Int32(4 * workers + 64))
    self.endpoint = endpoint
    self.trialSeconds = trialSeconds
    self.heartbeatInterval = heartbeatInterval
    self.liveness = liveness
    let host = hostName()
    let pid = getpid()
    for i in 0..<workers {
      var s = WorkerSettings(
        heartbeatInterval: heartbeatInterval, liveness: liveness, coordinatorTimeout: 600,
        host: host, pid: pid)
      s.nullTrials = true
      let id = Array("fleet-\(pid)-\(i)".utf8)
      members.append(
        Member(
          machine: WorkerMachine(settings: s), socket: try Self.socket(context, id, endpoint),
          identity: id))
    }
  }

  static func socket(_ context: ZMQContext, _ id: [UInt8], _ endpoint: String) throws
    -> ZMQSocket
  {
    let s = try ZMQSocket(context: context, type: .dealer, linger: 0)
    try s.setRoutingID(id)
    try s.setReconnect(intervalMs: 100, maxMs: 1000)
    try s.connect(endpoint)
    return s
  }

  /// Whether every member has stopped.
  public var allStopped: Bool { members.allSatisfy(\.stopped) }

  /// Registers every member.
  public func start() throws {
    let now = monotonicSeconds()
    for i in members.indices { try perform(i, members[i].machine.start(now: now), now: now) }
  }

  /// Runs the fleet until `until` (monotonic seconds) or until every member stopped.
  public func run(until: Double) throws {
    var lastTick = 0.0
    while monotonicSeconds() < until && !allStopped {
      let live = members.indices.filter { !members[$0].stopped }
      let ev = try poll(live.map { (members[$0].socket, PollEvents.readable) }, timeoutMs: 10)
      var now = monotonicSeconds()
      for (k, i) in live.enumerated() where ev[k].contains(.readable) {
        while !members[i].stopped, let frames = try members[i].socket.receive(dontWait: true) {
          note(frames, member: i, now: now)
          try perform(i, members[i].machine.receive(frames, now: now), now: now)
        }
      }
      now = monotonicSeconds()
      for i in live where !members[i].stopped {
        for (lease, c) in members[i].computing where c.until <= now {
          members[i].computing[lease] = nil
          let body = ResultBody(lease: lease, result: nullTrialResult(c.config), error: nil)
          counts.resultsSent += 1
          members[i].sentAt[lease] = now
          try perform(i, members[i].machine.finished(body, now: now), now: now)
        }
      }
      if now - lastTick >= 0.05 {
        lastTick = now
        for i in live where !members[i].stopped {
          try perform(i, members[i].machine.tick(now: now), now: now)
        }
      }
    }
  }

  func note(_ frames: [[UInt8]], member i: Int, now: Double) {
    guard let message = try? WireCodec.decode(frames) else { return }
    switch message {
    case .ack(let lease):
      if let sent = members[i].sentAt.removeValue(forKey: lease) {
        counts.acked += 1
        ackLatencies.append(now - sent)
      }
    case .reject: counts.rejects += 1
    default: break
    }
  }

  func perform(_ i: Int, _ actions: [WorkerAction], now: Double) throws {
    for action in actions {
      switch action {
      case .send(let m):
        // `ready` with `fresh` registers; without it, it only reports free slots.
        if case .ready(let b) = m, b.fresh {
          members[i].registrations += 1
          if members[i].registrations > 1 { counts.reRegistrations += 1 }
        }
        _ = try? members[i].socket.send(WireCodec.encode(m), dontWait: true)
      case .run(let body):
        counts.assigned += 1
        members[i].computing[body.lease] = (now + trialSeconds, body.config)
      case .cancel(let lease):
        members[i].computing[lease] = nil
      case .reconnect:
        members[i].socket.close()
        members[i].socket = try Self.socket(context, members[i].identity, endpoint)
      case .log:
        break
      case .exit:
        members[i].stopped = true
        counts.stopped += 1
      }
    }
  }

  /// Closes every socket.
  public func close() {
    for m in members { m.socket.close() }
  }
}
