import Foundation
import ZeroMQ

/// The ceiling for dispatch: bare ZeroMQ round trips, ROUTER on the calling thread and
/// `dealers` DEALERs on threads of their own, each keeping `depth` requests in flight. Every
/// message has the protocol's three frames (version, kind, a body of `bodyBytes`); the ROUTER
/// echoes each one back to its sender and does nothing else. Returns round trips per second.
///
/// A dispatched trial costs at least one round trip (assign out, result back) plus an ack, so
/// trials/s ÷ this figure says how much of the wire's speed the coordinator's work leaves.
public func zeroMQRoundTripsPerSecond(
  endpoint: String = "tcp://127.0.0.1:*", dealers: Int, depth: Int, roundTrips: Int,
  bodyBytes: Int = 200
) throws -> Double {
  let context = try ZMQContext()
  let router = try ZMQSocket(context: context, type: .router, linger: 0)
  try router.setSendHighWaterMark(100_000)
  try router.setReceiveHighWaterMark(100_000)
  try router.bind(endpoint)
  let bound = try router.lastEndpoint()
  let perDealer = max(1, roundTrips / max(1, dealers))
  let body = [UInt8](repeating: 0x61, count: bodyBytes)
  let done = DispatchGroup()
  for d in 0..<dealers {
    done.enter()
    let thread = Thread {
      defer { done.leave() }
      guard let s = try? ZMQSocket(context: context, type: .dealer, linger: 0) else { return }
      defer { s.close() }
      do {
        try s.setRoutingID(Array("ceiling-\(d)".utf8))
        try s.connect(bound)
        var sent = 0
        var received = 0
        while sent < min(depth, perDealer) {
          try s.send([[2], [3], body])
          sent += 1
        }
        while received < perDealer {
          guard try s.receive() != nil else { break }
          received += 1
          if sent < perDealer {
            try s.send([[2], [3], body])
            sent += 1
          }
        }
      } catch {}
    }
    thread.start()
  }
  let total = perDealer * dealers
  var echoed = 0
  var start: Double?
  while echoed < total {
    let ev = try poll([(router, .readable)], timeoutMs: 5000)
    guard ev[0].contains(.readable) else { break }  // a dealer failed: stop
    while echoed < total, let frames = try router.receive(dontWait: true, maxFrames: 8) {
      if start == nil { start = monotonicSeconds() }
      try router.send(frames)
      echoed += 1
    }
  }
  let seconds = monotonicSeconds() - (start ?? monotonicSeconds())
  done.wait()
  router.close()
  return seconds > 0 ? Double(echoed) / seconds : 0
}
