import CZeroMQ

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A failed libzmq call: which call, its `errno` and libzmq's text for it.
public struct ZMQError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The libzmq function (and option, if any) that failed, e.g. `zmq_bind(tcp://*:5555)`.
  public var call: String
  /// The `errno` value libzmq reported (`zmq_errno()`).
  public var code: Int32
  /// Creates an error value; normally made by the wrapper itself.
  public init(call: String, code: Int32) {
    self.call = call
    self.code = code
  }
  /// libzmq's message for `code`.
  public var message: String { String(cString: zmq_strerror(code)) }
  /// `call: message (errno N)`.
  public var description: String { "\(call): \(message) (errno \(code))" }
  /// True for `EAGAIN` (nothing to receive / cannot send now without blocking).
  public var isWouldBlock: Bool { code == EAGAIN }
  /// True for `EHOSTUNREACH` (ROUTER_MANDATORY: the peer is not connected).
  public var isHostUnreachable: Bool { code == EHOSTUNREACH }
  /// True for `EINTR` (a signal interrupted the call).
  public var isInterrupted: Bool { code == EINTR }
}

/// The one place where libzmq return codes are checked: -1 becomes a `ZMQError`.
@discardableResult
@inline(__always)
func check(_ rc: Int32, _ call: @autoclosure () -> String) throws(ZMQError) -> Int32 {
  if rc == -1 { throw ZMQError(call: call(), code: zmq_errno()) }
  return rc
}

/// The libzmq version linked at run time, e.g. (4, 3, 4).
public func zmqVersion() -> (major: Int, minor: Int, patch: Int) {
  var a: Int32 = 0
  var b: Int32 = 0
  var c: Int32 = 0
  zmq_version(&a, &b, &c)
  return (Int(a), Int(b), Int(c))
}

/// Whether libzmq was built with `capability` (e.g. "curve", "ipc").
public func zmqHas(_ capability: String) -> Bool { zmq_has(capability) == 1 }

/// A ZeroMQ context. Contexts are thread-safe, so this class is `Sendable`; sockets are not.
public final class ZMQContext: @unchecked Sendable {
  let handle: UnsafeMutableRawPointer

  /// Creates a context with libzmq's default I/O threads.
  public init() throws(ZMQError) {
    guard let h = zmq_ctx_new() else { throw ZMQError(call: "zmq_ctx_new", code: zmq_errno()) }
    handle = h
  }

  /// Creates a context that may hold up to `maxSockets` sockets (libzmq's default is 1023;
  /// benchmarks that play a thousand workers in one process need more).
  public convenience init(maxSockets: Int32) throws(ZMQError) {
    try self.init()
    _ = try check(zmq_ctx_set(handle, ZMQ_MAX_SOCKETS, maxSockets), "zmq_ctx_set(MAX_SOCKETS)")
  }

  /// Makes every blocking call on this context's sockets return `ETERM`; sockets must still be
  /// closed by their owning threads before the context is released.
  public func shutdown() {
    _ = zmq_ctx_shutdown(handle)
  }

  deinit {
    // zmq_ctx_term blocks until every socket is closed; EINTR means try again.
    while zmq_ctx_term(handle) == -1 && zmq_errno() == EINTR {}
  }
}

/// Socket monitor event numbers (`ZMQSocket.monitor`).
public enum ZMQEvent {
  /// Every event.
  public static let all = Int32(ZMQ_EVENT_ALL)
  /// A connection was established.
  public static let connected = Int32(ZMQ_EVENT_CONNECTED)
  /// A connection was closed (by either side).
  public static let disconnected = Int32(ZMQ_EVENT_DISCONNECTED)
  /// The security handshake succeeded.
  public static let handshakeSucceeded = Int32(ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
}

/// The socket types this project uses (and a few more for tests).
public enum ZMQSocketType: Sendable {
  /// `ZMQ_PAIR`, `ZMQ_REQ`, `ZMQ_REP`, `ZMQ_DEALER`, `ZMQ_ROUTER`, `ZMQ_PUSH`, `ZMQ_PULL`,
  /// `ZMQ_PUB`, `ZMQ_SUB`.
  case pair, req, rep, dealer, router, push, pull, pub, sub
  var raw: Int32 {
    switch self {
    case .pair: ZMQ_PAIR
    case .req: ZMQ_REQ
    case .rep: ZMQ_REP
    case .dealer: ZMQ_DEALER
    case .router: ZMQ_ROUTER
    case .push: ZMQ_PUSH
    case .pull: ZMQ_PULL
    case .pub: ZMQ_PUB
    case .sub: ZMQ_SUB
    }
  }
}

/// One ZeroMQ socket. Not `Sendable`: one thread owns it, creates it, uses it and closes it.
/// Closing happens in `close()` or `deinit`, after `linger` (set explicitly; default here 0).
public final class ZMQSocket {
  private(set) var handle: UnsafeMutableRawPointer?
  /// The socket type given at creation.
  public let type: ZMQSocketType
  // Keep the context alive as long as the socket.
  private let context: ZMQContext

  /// Creates a socket of `type` in `context` with `ZMQ_LINGER` = `linger` milliseconds.
  public init(context: ZMQContext, type: ZMQSocketType, linger: Int32 = 0) throws(ZMQError) {
    guard let h = zmq_socket(context.handle, type.raw) else {
      throw ZMQError(call: "zmq_socket", code: zmq_errno())
    }
    self.handle = h
    self.type = type
    self.context = context
    try setInt(ZMQ_LINGER, linger, name: "ZMQ_LINGER")
  }

  deinit { close() }

  /// Closes the socket (idempotent).
  public func close() {
    if let h = handle {
      _ = zmq_close(h)
      handle = nil
    }
  }

  private func live(_ call: String) throws(ZMQError) -> UnsafeMutableRawPointer {
    guard let h = handle else { throw ZMQError(call: call, code: ENOTSOCK) }
    return h
  }

  // MARK: Endpoints

  /// `zmq_bind`.
  public func bind(_ endpoint: String) throws(ZMQError) {
    try check(zmq_bind(try live("zmq_bind"), endpoint), "zmq_bind(\(endpoint))")
  }
  /// `zmq_connect`.
  public func connect(_ endpoint: String) throws(ZMQError) {
    try check(zmq_connect(try live("zmq_connect"), endpoint), "zmq_connect(\(endpoint))")
  }
  /// `zmq_disconnect`.
  public func disconnect(_ endpoint: String) throws(ZMQError) {
    try check(zmq_disconnect(try live("zmq_disconnect"), endpoint), "zmq_disconnect(\(endpoint))")
  }
  /// `zmq_unbind`.
  public func unbind(_ endpoint: String) throws(ZMQError) {
    try check(zmq_unbind(try live("zmq_unbind"), endpoint), "zmq_unbind(\(endpoint))")
  }

  // MARK: Options

  func setInt(_ option: Int32, _ value: Int32, name: String) throws(ZMQError) {
    var v = value
    try check(
      zmq_setsockopt(try live("zmq_setsockopt"), option, &v, MemoryLayout<Int32>.size),
      "zmq_setsockopt(\(name))")
  }
  func setInt64(_ option: Int32, _ value: Int64, name: String) throws(ZMQError) {
    var v = value
    try check(
      zmq_setsockopt(try live("zmq_setsockopt"), option, &v, MemoryLayout<Int64>.size),
      "zmq_setsockopt(\(name))")
  }
  func setBytes(_ option: Int32, _ value: [UInt8], name: String) throws(ZMQError) {
    let h = try live("zmq_setsockopt")
    let rc = value.withUnsafeBytes { zmq_setsockopt(h, option, $0.baseAddress, $0.count) }
    try check(rc, "zmq_setsockopt(\(name))")
  }
  func getInt(_ option: Int32, name: String) throws(ZMQError) -> Int32 {
    var v: Int32 = 0
    var size = MemoryLayout<Int32>.size
    try check(
      zmq_getsockopt(try live("zmq_getsockopt"), option, &v, &size), "zmq_getsockopt(\(name))")
    return v
  }
  func getBytes(_ option: Int32, capacity: Int, name: String) throws(ZMQError) -> [UInt8] {
    let h = try live("zmq_getsockopt")
    var buffer = [UInt8](repeating: 0, count: capacity)
    var size = capacity
    let rc = buffer.withUnsafeMutableBytes { zmq_getsockopt(h, option, $0.baseAddress, &size) }
    try check(rc, "zmq_getsockopt(\(name))")
    return Array(buffer.prefix(size))
  }

  /// `ZMQ_LINGER`: milliseconds pending messages are kept after close (0: dropped at once).
  public func setLinger(_ ms: Int32) throws(ZMQError) {
    try setInt(ZMQ_LINGER, ms, name: "ZMQ_LINGER")
  }
  /// `ZMQ_ROUTER_MANDATORY`: sending to an unknown peer fails with `EHOSTUNREACH`, not silently.
  public func setRouterMandatory(_ on: Bool) throws(ZMQError) {
    try setInt(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, name: "ZMQ_ROUTER_MANDATORY")
  }
  /// `ZMQ_ROUTER_HANDOVER`: a new connection with a known identity takes over the old one
  /// (a worker that reconnects keeps its name).
  public func setRouterHandover(_ on: Bool) throws(ZMQError) {
    try setInt(ZMQ_ROUTER_HANDOVER, on ? 1 : 0, name: "ZMQ_ROUTER_HANDOVER")
  }
  /// `ZMQ_ROUTING_ID`: the identity a DEALER presents to a ROUTER (1–255 bytes).
  public func setRoutingID(_ id: [UInt8]) throws(ZMQError) {
    try setBytes(ZMQ_ROUTING_ID, id, name: "ZMQ_ROUTING_ID")
  }
  /// `ZMQ_MAXMSGSIZE`: peers sending a larger frame are disconnected (-1: no limit).
  public func setMaxMessageSize(_ bytes: Int64) throws(ZMQError) {
    try setInt64(ZMQ_MAXMSGSIZE, bytes, name: "ZMQ_MAXMSGSIZE")
  }
  /// `ZMQ_SNDHWM`: queued outgoing messages per peer before sends block or drop.
  public func setSendHighWaterMark(_ n: Int32) throws(ZMQError) {
    try setInt(ZMQ_SNDHWM, n, name: "ZMQ_SNDHWM")
  }
  /// `ZMQ_RCVHWM`.
  public func setReceiveHighWaterMark(_ n: Int32) throws(ZMQError) {
    try setInt(ZMQ_RCVHWM, n, name: "ZMQ_RCVHWM")
  }
  /// `ZMQ_SNDTIMEO` in milliseconds (-1: block forever).
  public func setSendTimeout(_ ms: Int32) throws(ZMQError) {
    try setInt(ZMQ_SNDTIMEO, ms, name: "ZMQ_SNDTIMEO")
  }
  /// `ZMQ_RCVTIMEO` in milliseconds (-1: block forever).
  public func setReceiveTimeout(_ ms: Int32) throws(ZMQError) {
    try setInt(ZMQ_RCVTIMEO, ms, name: "ZMQ_RCVTIMEO")
  }
  /// `ZMQ_RECONNECT_IVL` and `ZMQ_RECONNECT_IVL_MAX` (exponential backoff up to the maximum).
  public func setReconnect(intervalMs: Int32, maxMs: Int32) throws(ZMQError) {
    try setInt(ZMQ_RECONNECT_IVL, intervalMs, name: "ZMQ_RECONNECT_IVL")
    try setInt(ZMQ_RECONNECT_IVL_MAX, maxMs, name: "ZMQ_RECONNECT_IVL_MAX")
  }
  /// `ZMQ_IMMEDIATE`: queue messages only to completed connections.
  public func setImmediate(_ on: Bool) throws(ZMQError) {
    try setInt(ZMQ_IMMEDIATE, on ? 1 : 0, name: "ZMQ_IMMEDIATE")
  }
  /// `ZMQ_HANDSHAKE_IVL`: milliseconds allowed for the security handshake.
  public func setHandshakeInterval(_ ms: Int32) throws(ZMQError) {
    try setInt(ZMQ_HANDSHAKE_IVL, ms, name: "ZMQ_HANDSHAKE_IVL")
  }
  /// ZMTP heartbeats (`ZMQ_HEARTBEAT_IVL`, `_TIMEOUT`): detect dead TCP peers. They are answered
  /// by libzmq's I/O thread, so they do not prove the application is alive.
  /// Reports this socket's connection events (`ZMQ_EVENT_*` in `events`) on a PAIR socket
  /// bound at `endpoint` (`inproc://…`): connect a `.pair` socket there and read
  /// `ZMQSocket.monitorEvent(_:)` from its messages.
  public func monitor(_ endpoint: String, events: Int32 = ZMQEvent.all) throws(ZMQError) {
    try check(
      zmq_socket_monitor(try live("zmq_socket_monitor"), endpoint, events), "zmq_socket_monitor")
  }

  /// The event number of a monitor message (its first frame: 16-bit event, 32-bit value).
  public static func monitorEvent(_ frames: [[UInt8]]) -> Int32? {
    guard let f = frames.first, f.count >= 2 else { return nil }
    return Int32(UInt16(f[0]) | UInt16(f[1]) << 8)
  }

  public func setTransportHeartbeat(intervalMs: Int32, timeoutMs: Int32) throws(ZMQError) {
    try setInt(ZMQ_HEARTBEAT_IVL, intervalMs, name: "ZMQ_HEARTBEAT_IVL")
    try setInt(ZMQ_HEARTBEAT_TIMEOUT, timeoutMs, name: "ZMQ_HEARTBEAT_TIMEOUT")
  }
  /// `ZMQ_SUBSCRIBE` (SUB sockets).
  public func subscribe(_ prefix: [UInt8]) throws(ZMQError) {
    try setBytes(ZMQ_SUBSCRIBE, prefix, name: "ZMQ_SUBSCRIBE")
  }
  /// `ZMQ_ZAP_DOMAIN`: the domain passed to the ZAP handler.
  public func setZAPDomain(_ domain: String) throws(ZMQError) {
    try setBytes(ZMQ_ZAP_DOMAIN, Array(domain.utf8), name: "ZMQ_ZAP_DOMAIN")
  }
  /// Makes this socket a CURVE server with `secretKey` (40-character Z85).
  public func makeCurveServer(secretKey: String) throws(ZMQError) {
    try setInt(ZMQ_CURVE_SERVER, 1, name: "ZMQ_CURVE_SERVER")
    try setBytes(ZMQ_CURVE_SECRETKEY, try Z85.decodeKey(secretKey), name: "ZMQ_CURVE_SECRETKEY")
  }
  /// Makes this socket a CURVE client of the server with public key `serverKey`, using its own
  /// keypair `keys` (all 40-character Z85).
  public func makeCurveClient(serverKey: String, keys: CurveKeyPair) throws(ZMQError) {
    try setBytes(ZMQ_CURVE_SERVERKEY, try Z85.decodeKey(serverKey), name: "ZMQ_CURVE_SERVERKEY")
    try setBytes(
      ZMQ_CURVE_PUBLICKEY, try Z85.decodeKey(keys.publicKey), name: "ZMQ_CURVE_PUBLICKEY")
    try setBytes(
      ZMQ_CURVE_SECRETKEY, try Z85.decodeKey(keys.secretKey), name: "ZMQ_CURVE_SECRETKEY")
  }
  /// `ZMQ_LAST_ENDPOINT`: the resolved endpoint of the last bind (e.g. the port chosen for `:*`).
  public func lastEndpoint() throws(ZMQError) -> String {
    let bytes = try getBytes(ZMQ_LAST_ENDPOINT, capacity: 512, name: "ZMQ_LAST_ENDPOINT")
    return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
  }
  /// `ZMQ_RCVMORE`: whether more frames of the current message follow.
  public func hasMoreFrames() throws(ZMQError) -> Bool {
    try getInt(ZMQ_RCVMORE, name: "ZMQ_RCVMORE") != 0
  }

  // MARK: Messages

  /// Sends `frames` as one multipart message. With `dontWait`, a full queue throws `EAGAIN`.
  public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws(ZMQError) {
    let h = try live("zmq_send")
    if frames.isEmpty { return }
    for (i, frame) in frames.enumerated() {
      var flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
      if i < frames.count - 1 { flags |= ZMQ_SNDMORE }
      let rc = frame.withUnsafeBytes { zmq_send(h, $0.baseAddress, $0.count, flags) }
      try check(rc, "zmq_send")
    }
  }

  /// Receives one multipart message. With `dontWait`, returns nil when nothing is queued.
  /// At most `maxFrames` frames are kept; extra frames are read and dropped (throws nothing: the
  /// caller's decoder rejects the truncated message).
  public func receive(dontWait: Bool = false, maxFrames: Int = 64) throws(ZMQError) -> [[UInt8]]? {
    try receiveMessage(dontWait: dontWait, maxFrames: maxFrames, properties: false)?.frames
  }

  /// Like `receive`, and also reads the connection properties libzmq attaches to the message:
  /// the ZAP user id (`User-Id`; with `ZAPAllowList`, the sender's CURVE public key) and the
  /// peer's address (`Peer-Address`).
  public func receiveMessage(dontWait: Bool = false, maxFrames: Int = 64) throws(ZMQError)
    -> ZMQMessage?
  {
    try receiveMessage(dontWait: dontWait, maxFrames: maxFrames, properties: true)
  }

  private func receiveMessage(dontWait: Bool, maxFrames: Int, properties: Bool) throws(ZMQError)
    -> ZMQMessage?
  {
    let h = try live("zmq_msg_recv")
    var frames: [[UInt8]] = []
    var userID: String?
    var peerAddress: String?
    var msg = zmq_msg_t()
    try check(zmq_msg_init(&msg), "zmq_msg_init")
    defer { zmq_msg_close(&msg) }
    var first = true
    while true {
      let flags: Int32 = (first && dontWait) ? ZMQ_DONTWAIT : 0
      let rc = zmq_msg_recv(&msg, h, flags)
      if rc == -1 {
        let e = zmq_errno()
        if first && dontWait && e == EAGAIN { return nil }
        throw ZMQError(call: "zmq_msg_recv", code: e)
      }
      first = false
      // A ROUTER's routing-id frame carries no properties in libzmq 4.3; the data frames do.
      if properties && userID == nil, let p = zmq_msg_gets(&msg, "User-Id"), p.pointee != 0 {
        userID = String(cString: p)
      }
      if properties && peerAddress == nil, let p = zmq_msg_gets(&msg, "Peer-Address"),
        p.pointee != 0
      {
        peerAddress = String(cString: p)
      }
      if frames.count < maxFrames {
        let size = zmq_msg_size(&msg)
        if size == 0 {
          frames.append([])
        } else if let data = zmq_msg_data(&msg) {
          frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
        } else {
          frames.append([])
        }
      }
      if zmq_msg_more(&msg) == 0 { break }
    }
    return ZMQMessage(frames: frames, userID: userID, peerAddress: peerAddress)
  }
}

/// One received multipart message with the properties of the connection it came on.
public struct ZMQMessage: Equatable, Sendable {
  /// The frames (on a ROUTER, the first is the sender's routing id).
  public var frames: [[UInt8]]
  /// The ZAP user id of the sender's connection (`User-Id`): with CURVE and `ZAPAllowList`, the
  /// sender's public key in Z85. Nil when no ZAP handler authenticated the connection.
  public var userID: String?
  /// The sender's address (`Peer-Address`, TCP and IPC only), or nil.
  public var peerAddress: String?
  /// Creates a message value; normally made by `ZMQSocket.receiveMessage`.
  public init(frames: [[UInt8]], userID: String? = nil, peerAddress: String? = nil) {
    self.frames = frames
    self.userID = userID
    self.peerAddress = peerAddress
  }
}

/// What to wait for on one socket in `poll`.
public struct PollEvents: OptionSet, Sendable {
  /// Raw `ZMQ_POLLIN`/`ZMQ_POLLOUT` bits.
  public let rawValue: Int16
  /// Creates events from raw bits.
  public init(rawValue: Int16) { self.rawValue = rawValue }
  /// A message can be received.
  public static let readable = PollEvents(rawValue: Int16(ZMQ_POLLIN))
  /// A message can be sent.
  public static let writable = PollEvents(rawValue: Int16(ZMQ_POLLOUT))
}

/// Waits up to `timeoutMs` milliseconds (-1: forever) until one of `sockets` has its events.
/// Returns the events that fired, one entry per socket. A signal (EINTR) returns no events.
public func poll(_ sockets: [(ZMQSocket, PollEvents)], timeoutMs: Int) throws(ZMQError)
  -> [PollEvents]
{
  var items: [zmq_pollitem_t] = []
  for (socket, events) in sockets {
    guard let h = socket.handle else { throw ZMQError(call: "zmq_poll", code: ENOTSOCK) }
    items.append(zmq_pollitem_t(socket: h, fd: 0, events: events.rawValue, revents: 0))
  }
  let rc = items.withUnsafeMutableBufferPointer {
    zmq_poll($0.baseAddress, Int32($0.count), timeoutMs)
  }
  if rc == -1 {
    let e = zmq_errno()
    if e == EINTR { return Array(repeating: [], count: sockets.count) }
    throw ZMQError(call: "zmq_poll", code: e)
  }
  return items.map { PollEvents(rawValue: $0.revents) }
}

/// A CURVE keypair in Z85 text (40 characters each).
public struct CurveKeyPair: Hashable, Sendable {
  /// The public key, shared with peers.
  public var publicKey: String
  /// The secret key, kept private.
  public var secretKey: String
  /// Wraps existing keys (validated: 40 Z85 characters each).
  public init(publicKey: String, secretKey: String) throws(ZMQError) {
    _ = try Z85.decodeKey(publicKey)
    _ = try Z85.decodeKey(secretKey)
    self.publicKey = publicKey
    self.secretKey = secretKey
  }
  /// A fresh keypair from `zmq_curve_keypair` (needs libzmq built with CURVE).
  public static func generate() throws(ZMQError) -> CurveKeyPair {
    var pub = [CChar](repeating: 0, count: 41)
    var sec = [CChar](repeating: 0, count: 41)
    try check(zmq_curve_keypair(&pub, &sec), "zmq_curve_keypair")
    return try CurveKeyPair(
      publicKey: String(decoding: pub.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self),
      secretKey: String(decoding: sec.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self))
  }
}

/// Z85 text encoding of binary keys (libzmq's `zmq_z85_encode`/`_decode`).
public enum Z85 {
  /// Encodes bytes (length a multiple of 4) as Z85 text.
  public static func encode(_ bytes: [UInt8]) throws(ZMQError) -> String {
    guard bytes.count % 4 == 0 else { throw ZMQError(call: "zmq_z85_encode", code: EINVAL) }
    var out = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
    let ok = bytes.withUnsafeBufferPointer { zmq_z85_encode(&out, $0.baseAddress, $0.count) }
    guard ok != nil else { throw ZMQError(call: "zmq_z85_encode", code: EINVAL) }
    return String(
      decoding: out.prefix(bytes.count * 5 / 4).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
  /// Decodes Z85 text (length a multiple of 5).
  public static func decode(_ text: String) throws(ZMQError) -> [UInt8] {
    let chars = Array(text.utf8)
    guard chars.count % 5 == 0 else { throw ZMQError(call: "zmq_z85_decode", code: EINVAL) }
    var out = [UInt8](repeating: 0, count: chars.count * 4 / 5)
    let cstr = chars.map { CChar(bitPattern: $0) } + [0]
    let ok = cstr.withUnsafeBufferPointer { zmq_z85_decode(&out, $0.baseAddress) }
    guard ok != nil else { throw ZMQError(call: "zmq_z85_decode", code: EINVAL) }
    return out
  }
  /// Decodes a 40-character key to its 32 bytes.
  public static func decodeKey(_ text: String) throws(ZMQError) -> [UInt8] {
    guard text.utf8.count == 40 else {
      throw ZMQError(call: "z85 key (need 40 characters)", code: EINVAL)
    }
    return try decode(text)
  }
}
