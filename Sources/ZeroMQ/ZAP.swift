/// A ZAP (ZeroMQ Authentication Protocol, RFC 27) handler that admits CURVE clients whose
/// public key is in an allow-list. It binds a REP socket on `inproc://zeromq.zap.01` in the
/// given context; every CURVE server socket of that context then asks it before accepting a
/// peer. Owned by one thread: poll `socket` and call `handlePending()` when it is readable.
public final class ZAPAllowList {
  /// The REP socket bound to `inproc://zeromq.zap.01`; poll it for `.readable`.
  public let socket: ZMQSocket
  /// Allowed public keys, Z85 text.
  public private(set) var allowed: Set<String>
  /// Called for every decision: (client public key in Z85, peer address, accepted).
  public var onDecision: ((String, String, Bool) -> Void)?

  /// Binds the handler; do this before binding any CURVE server socket of `context`.
  public init(context: ZMQContext, allowed: Set<String>) throws(ZMQError) {
    socket = try ZMQSocket(context: context, type: .rep, linger: 0)
    try socket.bind("inproc://zeromq.zap.01")
    self.allowed = allowed
  }

  /// Answers every queued ZAP request without blocking; returns how many were answered.
  @discardableResult
  public func handlePending() throws(ZMQError) -> Int {
    var n = 0
    while let request = try socket.receive(dontWait: true, maxFrames: 16) {
      try socket.send(reply(to: request))
      n += 1
    }
    return n
  }

  /// The reply frames for one request (exposed for tests).
  func reply(to f: [[UInt8]]) -> [[UInt8]] {
    // Request: version, request id, domain, address, identity, mechanism, credentials...
    let requestID = f.count > 1 ? f[1] : []
    func answer(_ code: String, _ text: String) -> [[UInt8]] {
      [Array("1.0".utf8), requestID, Array(code.utf8), Array(text.utf8), [], []]
    }
    guard f.count >= 6, f[0] == Array("1.0".utf8) else { return answer("500", "bad ZAP request") }
    let address = String(decoding: f[3], as: UTF8.self)
    guard f[5] == Array("CURVE".utf8), f.count >= 7, f[6].count == 32,
      let key = try? Z85.encode(f[6])
    else {
      onDecision?("", address, false)
      return answer("400", "CURVE required")
    }
    let ok = allowed.contains(key)
    onDecision?(key, address, ok)
    return ok ? answer("200", "OK") : answer("400", "public key not allowed")
  }
}
