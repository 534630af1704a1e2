import Foundation
import SweepSpec
import TailNet

/// How a worker behaves on the wire.
public struct WorkerSettings: Hashable, Sendable {
  /// Seconds between heartbeats.
  public var heartbeatInterval: Double
  /// The coordinator is presumed gone after `liveness × heartbeatInterval` seconds without a
  /// decodable message: the worker reconnects with backoff.
  public var liveness: Int
  /// The worker exits when the coordinator stayed silent this many seconds.
  public var coordinatorTimeout: Double
  /// Trials run at once.
  public var slots = 1
  /// Whether this worker runs null trials (must match the coordinator).
  public var nullTrials = false
  /// Host name and process id, reported when registering.
  public var host: String
  /// Process id reported when registering.
  public var pid: Int32
  /// The largest result body sent; larger results are replaced by an error result.
  public var maxResultBytes = wireMaxResultBody

  /// Creates settings.
  public init(
    heartbeatInterval: Double, liveness: Int, coordinatorTimeout: Double, host: String,
    pid: Int32
  ) {
    self.heartbeatInterval = heartbeatInterval
    self.liveness = max(1, liveness)
    self.coordinatorTimeout = coordinatorTimeout
    self.host = host
    self.pid = pid
  }

  /// Seconds without a decodable message after which the worker reconnects.
  public var deadline: Double { heartbeatInterval * Double(liveness) }
}

/// Why a worker stops.
public enum WorkerStop: Hashable, Sendable {
  /// The coordinator sent `shutdown`.
  case shutdown
  /// The coordinator was silent longer than the coordinator timeout.
  case coordinatorGone
  /// The coordinator refused this worker for good (another protocol version, other data,
  /// another null-trial mode): the message says why.
  case refused(String)
}

/// What the worker's runtime must do, in order.
public enum WorkerAction: Hashable, Sendable {
  /// Send this message to the coordinator.
  case send(WireMessage)
  /// Start computing this assignment.
  case run(AssignBody)
  /// Stop computing this lease (its result comes back as `cancelled`).
  case cancel(Lease)
  /// Close the connection and connect again (a fresh registration follows).
  case reconnect
  /// Something worth a log line (level, text).
  case log(WorkerLogLevel, String)
  /// Stop the worker.
  case exit(WorkerStop)
}

/// Log levels the machine asks for.
public enum WorkerLogLevel: String, Hashable, Sendable {
  /// Every result acknowledged (what the chaos runner checks against the store).
  case debug
  /// Routine.
  case info
  /// Unexpected but handled.
  case warning
  /// A refusal or a loss.
  case error
}

/// The worker's pure state machine: frames and trial completions in, actions out, time a
/// parameter. Rules (docs/protocol.md):
/// - only decodable messages count as contact with the coordinator;
/// - a refusal for another protocol version, in any version, stops the worker with both
///   versions named; so do refusals for other data or another null-trial mode;
/// - every `ready` and `heartbeat` carries the worker's state: free slots, leases held, and
///   the last assignment sequence number seen;
/// - a result is followed by a heartbeat with the state (its slot is free again);
/// - a result is kept until acknowledged (or refused) and resent on every registration;
///   results are checked against the wire limit before sending (history capped first);
/// - an assignment already known is ignored (the coordinator resends unseen assignments);
/// - a `cancel` of an unknown lease is answered with the worker's state.
public struct WorkerMachine: Sendable {
  /// The rules in force.
  public let settings: WorkerSettings
  var running: [Lease: AssignBody] = [:]
  var queued: [AssignBody] = []
  var unacked: [Lease: ResultBody] = [:]
  var unackedOrder: [Lease] = []
  var known: Set<Lease> = []
  var knownOrder: [Lease] = []
  var epoch: UInt64 = 0
  var seen = 0
  var lastHeard = 0.0
  var lastSent = -Double.infinity
  var lastRegistered = -Double.infinity
  var lastProgress = -Double.infinity
  var lastResend = -Double.infinity
  var backoff = 0.0
  var nextReconnect = 0.0
  var held = false

  /// A worker machine; call `start(now:)` once connected.
  public init(settings: WorkerSettings) { self.settings = settings }

  // MARK: Queries

  /// Leases being computed now.
  public var runningLeases: [Lease] { running.keys.sorted { $0.trial < $1.trial } }
  /// Results sent and not yet acknowledged.
  public var unacknowledged: [Lease] { unackedOrder }
  /// The state reported to the coordinator.
  public var state: WorkerState {
    let held = running.keys.sorted { $0.trial < $1.trial } + queued.map(\.lease)
    return WorkerState(
      credits: max(0, settings.slots - held.count), running: held, epoch: epoch, seen: seen)
  }

  // MARK: Inputs

  /// Connected for the first time: register.
  public mutating func start(now: Double) -> [WorkerAction] {
    lastHeard = now
    var out: [WorkerAction] = []
    register(now: now, into: &out)
    return out
  }

  /// Frames arrived from the coordinator at `now`.
  public mutating func receive(_ frames: [[UInt8]], now: Double) -> [WorkerAction] {
    var out: [WorkerAction] = []
    let message: WireMessage
    do {
      message = try WireCodec.decode(frames)
    } catch {
      if let (version, body) = WireCodec.foreignReject(frames),
        body.code == .unsupportedVersion || version != wireProtocolVersion
      {
        out.append(
          .exit(
            .refused(
              "the coordinator speaks protocol version \(version) and refused this worker, "
                + "which speaks version \(wireProtocolVersion) (\(body.message)); "
                + "run the same tailsweep version on coordinator and workers")))
        return out
      }
      // Not contact: a peer we cannot understand does not keep the connection alive.
      out.append(.log(.warning, "dropped undecodable frame: \(error)"))
      return out
    }
    lastHeard = now
    backoff = 0
    handle(message, now: now, into: &out)
    return out
  }

  /// A trial finished (result, error or cancelled run).
  public mutating func finished(_ body: ResultBody, now: Double) -> [WorkerAction] {
    var out: [WorkerAction] = []
    guard running.removeValue(forKey: body.lease) != nil else { return out }
    let checked = fitted(body)
    if checked.error != nil && body.error == nil {
      out.append(.log(.error, "result of \(body.lease) too large: \(checked.error ?? "")"))
    }
    if unacked[checked.lease] == nil { unackedOrder.append(checked.lease) }
    unacked[checked.lease] = checked
    if unackedOrder.count == 1 { lastResend = now }
    send(.result(checked), now: now, into: &out)
    startQueued(into: &out)
    // The freed slot goes back with the state, in a heartbeat: binary, where a `ready` is JSON
    // (the coordinator handles both alike for a registered worker).
    send(.heartbeat(state), now: now, into: &out)
    return out
  }

  /// Training progress of a running lease (sent at most once per interval).
  public mutating func progress(_ body: ProgressBody, now: Double) -> [WorkerAction] {
    var out: [WorkerAction] = []
    guard running[body.lease] != nil, now - lastProgress >= settings.heartbeatInterval else {
      return out
    }
    lastProgress = now
    send(.progress(body), now: now, into: &out)
    return out
  }

  /// Time passed: heartbeats, reconnects, the coordinator timeout.
  public mutating func tick(now: Double) -> [WorkerAction] {
    var out: [WorkerAction] = []
    let silent = now - lastHeard
    if silent > settings.coordinatorTimeout {
      out.append(.log(.error, "coordinator gone for \(Int(silent)) s; exiting"))
      out.append(.exit(.coordinatorGone))
      return out
    }
    if silent > settings.deadline && now >= nextReconnect {
      backoff = backoff == 0 ? settings.heartbeatInterval : min(backoff * 2, 30)
      nextReconnect = now + backoff
      out.append(.log(.warning, "coordinator silent for \(Int(silent)) s; reconnecting"))
      out.append(.reconnect)
      register(now: now, into: &out)
      return out
    }
    if !unackedOrder.isEmpty && now - lastResend >= settings.deadline {
      // An acknowledgement (or the result itself) may have been lost on a live connection:
      // resend what is still unacknowledged once per deadline (the coordinator only
      // acknowledges a result it already has).
      lastResend = now
      for l in unackedOrder {
        if let body = unacked[l] { send(.result(body), now: now, into: &out) }
      }
    }
    if now - lastSent >= settings.heartbeatInterval {
      send(.heartbeat(state), now: now, into: &out)
    }
    return out
  }

  // MARK: Rules

  /// The body to send for a finished lease: the evaluation history capped, and an error in
  /// place of a result still over the wire limit.
  func fitted(_ body: ResultBody) -> ResultBody {
    guard var result = body.result else {
      // Error texts are limited on the wire (16 KiB): keep the start, say it was cut.
      guard let e = body.error, e.utf8.count > 16_000 else { return body }
      let cut = String(decoding: Array(e.utf8.prefix(15_900)), as: UTF8.self)
      return ResultBody(lease: body.lease, result: nil, error: cut + " … (error text cut)")
    }
    result.capHistory()
    var capped = ResultBody(lease: body.lease, result: result, error: nil)
    let size = WireCodec.encode(.result(capped))[2].count
    if size > settings.maxResultBytes {
      capped = ResultBody(
        lease: body.lease, result: nil,
        error:
          "result of \(size) bytes exceeds the wire limit of \(settings.maxResultBytes) bytes "
          + "(evaluation history capped at \(TrialResult.maxHistoryPoints) points)")
    }
    return capped
  }

  /// `ready` with this worker's registration details and state.
  func ready(fresh: Bool) -> WireMessage {
    .ready(
      ReadyBody(
        fresh: fresh, host: settings.host, pid: settings.pid, slots: settings.slots,
        nullTrials: settings.nullTrials, state: state))
  }

  mutating func send(_ m: WireMessage, now: Double, into out: inout [WorkerAction]) {
    lastSent = now
    out.append(.send(m))
  }

  mutating func register(now: Double, into out: inout [WorkerAction]) {
    lastRegistered = now
    send(
      ready(fresh: true), now: now, into: &out)
    for l in unackedOrder {
      if let body = unacked[l] { send(.result(body), now: now, into: &out) }
    }
  }

  mutating func remember(_ l: Lease) {
    guard known.insert(l).inserted else { return }
    knownOrder.append(l)
    if knownOrder.count > 4096 {
      known.remove(knownOrder.removeFirst())
    }
  }

  mutating func startQueued(into out: inout [WorkerAction]) {
    while running.count < settings.slots, !queued.isEmpty, !held {
      let next = queued.removeFirst()
      running[next.lease] = next
      out.append(.run(next))
    }
  }

  mutating func forget(_ l: Lease) {
    if unacked.removeValue(forKey: l) != nil { unackedOrder.removeAll { $0 == l } }
  }

  mutating func handle(_ message: WireMessage, now: Double, into out: inout [WorkerAction]) {
    switch message {
    case .assign(let body):
      if body.epoch != epoch {
        epoch = body.epoch
        seen = 0
      }
      seen = max(seen, body.seq)
      held = false
      let l = body.lease
      if known.contains(l) || running[l] != nil || unacked[l] != nil {
        return  // a resent assignment we already have
      }
      remember(l)
      queued.append(body)
      startQueued(into: &out)
    case .heartbeat: break
    case .ack(let l):
      if unacked[l] != nil {
        out.append(.log(.debug, "result acknowledged: trial \(l.trial.hex) attempt \(l.attempt)"))
      }
      forget(l)
    case .cancel(let l):
      if running[l] != nil {
        out.append(.log(.info, "trial \(l) cancelled by the coordinator"))
        out.append(.cancel(l))
      } else if queued.contains(where: { $0.lease == l }) {
        queued.removeAll { $0.lease == l }
        send(
          ready(fresh: false), now: now, into: &out)
      } else {
        // Not ours (any more): say what we hold, so the coordinator can reconcile.
        send(.heartbeat(state), now: now, into: &out)
      }
    case .reject(let body):
      if body.code.isFatal {
        out.append(.log(.error, "coordinator refused this worker: \(body.message)"))
        out.append(.exit(.refused(body.message)))
        return
      }
      switch body.code {
      case .unknownWorker:
        // Several rejects may be in flight: register once per heartbeat interval.
        if now - lastRegistered > settings.heartbeatInterval {
          out.append(.log(.info, "registering again: \(body.message)"))
          register(now: now, into: &out)
        }
      case .invalidResult, .wrongWork, .tooLarge:
        if let l = body.lease { forget(l) }
        out.append(.log(.error, "result refused: \(body.message)"))
      default:
        out.append(.log(.warning, "coordinator rejected a message: \(body.message)"))
      }
    case .shutdown(let body):
      if body.hold {
        // The coordinator cannot store results: stop computing, keep what is unacknowledged,
        // and wait (reconnecting) for a coordinator to give it to.
        held = true
        for l in running.keys.sorted(by: { $0.trial < $1.trial }) { out.append(.cancel(l)) }
        queued = []
        out.append(
          .log(
            .error,
            "coordinator stopped (\(body.reason)); keeping \(unacked.count) unacknowledged "
              + "result(s) until a coordinator is back"))
        return
      }
      out.append(.log(.info, "shutdown requested: \(body.reason)"))
      out.append(.exit(.shutdown))
    case .ready, .progress, .result:
      out.append(.log(.warning, "dropped message meant for a coordinator (\(message.kind))"))
    }
  }
}
