/// A ZAP (ZeroMQ Authentication Protocol, RFC 27) handler that admits CURVE clients whose
/// public key is in an allow-list. It binds a REP socket on `inproc://zeromq.zap.01` in the
/// given context; every CURVE server socket of that context then asks it before accepting a
/// peer. Owned by one thread: poll `socket` and call `handlePending()` when it is readable.
///
/// An accepted handshake is answered with the client's public key (Z85) as ZAP user id, so
/// every message from that connection carries it (`ZMQMessage.userID`, libzmq's `User-Id`).
///
/// Routing ids and keys: a DEALER chooses its own routing id, and a ROUTER with
/// `ZMQ_ROUTER_HANDOVER` gives that id to the newest connection presenting it. To stop one
/// allowed key from acting under another worker's routing id, `admit(routingID:userID:)`
/// accepts a message only under a routing id derived from the sender's key
/// (`routingIDSuffix`, what the coordinator uses); without that rule it binds each routing id
/// to the first key seen with it, for the life of this handler, and refuses messages under that
/// id from any other key. This check cannot happen during the
/// handshake: libzmq (4.3.x and master, issue zeromq/libzmq#4161) fills the ZAP request's
/// "identity" frame with the *server* socket's own routing id, never the client's, so the
/// handler does not know which routing id a client will present. Consequently a ROUTER with
/// handover still hands the route over to the impostor's connection (it then receives what is
/// sent to that id until the rightful peer reconnects); `admit` only guarantees that nothing
/// it sends is taken for the rightful peer's.
public final class ZAPAllowList {
  /// The REP socket bound to `inproc://zeromq.zap.01`; poll it for `.readable`.
  public let socket: ZMQSocket
  /// Allowed public keys, Z85 text.
  public private(set) var allowed: Set<String>
  /// Called for every decision: (client public key in Z85, peer address, accepted).
  public var onDecision: ((String, String, Bool) -> Void)?
  /// Called for every message `admit` refuses.
  public var onIdentityRefused: ((IdentityRefusal) -> Void)?
  /// Routing id → the public key (Z85) it is bound to, from `admit`.
  public private(set) var boundKeys: [[UInt8]: String] = [:]
  /// Most routing ids remembered; beyond that, messages under new routing ids are refused.
  public static let maxBindings = 65_536
  /// The suffix a routing id must end with to speak for a key (Z85), or nil to bind each
  /// routing id to the first key seen with it instead. With a rule, the binding does not depend
  /// on who comes first: a peer can only act under routing ids derived from its own key (a
  /// worker's is `<id>~<tag of its public key>`, `curveRoutingTag` in SweepRuntime), so an
  /// allowed key presenting another worker's routing id, even to a freshly started coordinator
  /// before that worker, is refused.
  public var routingIDSuffix: ((String) -> String?)?
  /// `routingIDSuffix`'s answer per key, as bytes.
  var suffixes: [String: [UInt8]?] = [:]

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
    // Reply: version, request id, status code, status text, user id, metadata.
    let requestID = f.count > 1 ? f[1] : []
    func answer(_ code: String, _ text: String, userID: String = "") -> [[UInt8]] {
      [Array("1.0".utf8), requestID, Array(code.utf8), Array(text.utf8), Array(userID.utf8), []]
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
    return ok ? answer("200", "OK", userID: key) : answer("400", "public key not allowed")
  }

  /// Whether a message received on a CURVE ROUTER of this handler's context may be taken as
  /// coming from `routingID`: `userID` is the message's ZAP user id (`ZMQMessage.userID`, the
  /// sender's public key). The first key seen with a routing id binds it for the life of this
  /// handler; a message under that id from another key, or without a user id, is refused
  /// (and reported to `onIdentityRefused`). Call it for every received message and drop the
  /// refused ones.
  public func admit(routingID: [UInt8], userID: String?) -> Bool {
    func refuse(_ reason: String, bound: String? = nil) -> Bool {
      onIdentityRefused?(
        IdentityRefusal(
          routingID: routingID, presentedKey: userID, boundKey: bound, reason: reason))
      return false
    }
    guard let key = userID, !key.isEmpty else {
      return refuse("no CURVE user id on the message")
    }
    if let rule = routingIDSuffix {
      // Keys are allowed ones (the handshake checked them): a few, so each rule result is kept.
      let suffix: [UInt8]?
      if let known = suffixes[key] {
        suffix = known
      } else {
        suffix = rule(key).map { Array($0.utf8) }
        suffixes[key] = suffix
      }
      guard let suffix, routingID.count > suffix.count,
        Array(routingID.suffix(suffix.count)) == suffix
      else {
        return refuse(
          "routing id does not end with its key's tag \(rule(key) ?? "(none)")")
      }
      return true
    }
    if let bound = boundKeys[routingID] {
      if bound == key { return true }
      return refuse("routing id is bound to another public key", bound: bound)
    }
    guard boundKeys.count < Self.maxBindings else {
      return refuse("too many routing ids (\(Self.maxBindings)) bound already")
    }
    boundKeys[routingID] = key
    return true
  }
}

/// A message `ZAPAllowList.admit` refused.
public struct IdentityRefusal: Equatable, Sendable, CustomStringConvertible {
  /// The routing id the message came under.
  public var routingID: [UInt8]
  /// The sender's public key (Z85), nil when the message carried no user id.
  public var presentedKey: String?
  /// The key the routing id is bound to, when that is why it was refused.
  public var boundKey: String?
  /// Why, in words.
  public var reason: String

  /// Creates a refusal value; normally made by `ZAPAllowList.admit`.
  public init(routingID: [UInt8], presentedKey: String?, boundKey: String?, reason: String) {
    self.routingID = routingID
    self.presentedKey = presentedKey
    self.boundKey = boundKey
    self.reason = reason
  }

  /// The routing id as text when it is printable ASCII, else as hex.
  public var routingIDText: String {
    if !routingID.isEmpty, routingID.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) {
      return String(decoding: routingID, as: UTF8.self)
    }
    return "0x" + routingID.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
  }

  /// `routing id 'w1' from key K refused: reason (bound to key B)`.
  public var description: String {
    var s = "routing id '\(routingIDText)' from key \(presentedKey ?? "(none)") refused: \(reason)"
    if let b = boundKey { s += " (bound to key \(b))" }
    return s
  }
}
