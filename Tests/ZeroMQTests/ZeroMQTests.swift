import Testing

@testable import ZeroMQ

/// Receives one message within `timeoutMs`, or nil.
func receive(_ s: ZMQSocket, within timeoutMs: Int) throws -> [[UInt8]]? {
  let events = try poll([(s, .readable)], timeoutMs: timeoutMs)
  guard events[0].contains(.readable) else { return nil }
  return try s.receive(dontWait: true)
}

@Test func inprocRoundTripKeepsFrames() throws {
  let ctx = try ZMQContext()
  let router = try ZMQSocket(context: ctx, type: .router)
  try router.setRouterMandatory(true)
  try router.bind("inproc://roundtrip")
  let dealer = try ZMQSocket(context: ctx, type: .dealer)
  try dealer.setRoutingID(Array("w1".utf8))
  try dealer.connect("inproc://roundtrip")
  try dealer.send([[1], [], Array("hello".utf8)])
  let got = try #require(try receive(router, within: 2000))
  #expect(got == [Array("w1".utf8), [1], [], Array("hello".utf8)])
  try router.send([Array("w1".utf8), Array("back".utf8)])
  let back = try #require(try receive(dealer, within: 2000))
  #expect(back == [Array("back".utf8)])
}

@Test func tcpLoopbackRoundTrip() throws {
  let ctx = try ZMQContext()
  let router = try ZMQSocket(context: ctx, type: .router)
  try router.bind("tcp://127.0.0.1:*")
  let endpoint = try router.lastEndpoint()
  #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
  let dealer = try ZMQSocket(context: ctx, type: .dealer)
  try dealer.connect(endpoint)
  try dealer.send([Array("ping".utf8)])
  let got = try #require(try receive(router, within: 3000))
  #expect(got.count == 2)
  #expect(got[1] == Array("ping".utf8))
  try router.send([got[0], Array("pong".utf8)])
  #expect(try receive(dealer, within: 3000) == [Array("pong".utf8)])
}

@Test func routerMandatoryReportsUnknownPeer() throws {
  let ctx = try ZMQContext()
  let router = try ZMQSocket(context: ctx, type: .router)
  try router.setRouterMandatory(true)
  try router.bind("inproc://mandatory")
  do {
    try router.send([Array("nobody".utf8), [1]], dontWait: true)
    Issue.record("send to an unknown peer should fail")
  } catch {
    #expect(error.isHostUnreachable)
    #expect(error.call == "zmq_send")
  }
}

@Test func errorsNameTheCallAndErrno() throws {
  let ctx = try ZMQContext()
  let s = try ZMQSocket(context: ctx, type: .dealer)
  do {
    try s.bind("nonsense://x")
    Issue.record("bind should fail")
  } catch {
    #expect(error.call == "zmq_bind(nonsense://x)")
    #expect(error.code != 0)
    #expect(error.description.contains("errno"))
  }
}

@Test func pollTimesOutWithNoEvents() throws {
  let ctx = try ZMQContext()
  let s = try ZMQSocket(context: ctx, type: .dealer)
  try s.bind("inproc://quiet")
  let events = try poll([(s, .readable)], timeoutMs: 20)
  #expect(events == [[]])
  #expect(try s.receive(dontWait: true) == nil)
}

@Test func z85RoundTripsKeys() throws {
  let keys = try CurveKeyPair.generate()
  #expect(keys.publicKey.count == 40)
  let raw = try Z85.decodeKey(keys.publicKey)
  #expect(raw.count == 32)
  #expect(try Z85.encode(raw) == keys.publicKey)
  #expect(throws: ZMQError.self) { try Z85.decodeKey("short") }
}

/// A CURVE server (with a ZAP allow-list) and one client; returns what the server received.
private func curveExchange(
  serverKnownBy clientServerKey: (CurveKeyPair) -> String, clientKeys: CurveKeyPair,
  allowed: (CurveKeyPair) -> Set<String>
) throws -> (serverGot: [[UInt8]]?, clientGot: [[UInt8]]?) {
  let ctx = try ZMQContext()
  let server = try CurveKeyPair.generate()
  let zap = try ZAPAllowList(context: ctx, allowed: allowed(clientKeys))
  let router = try ZMQSocket(context: ctx, type: .router)
  try router.makeCurveServer(secretKey: server.secretKey)
  try router.setZAPDomain("test")
  try router.bind("tcp://127.0.0.1:*")
  let endpoint = try router.lastEndpoint()
  let dealer = try ZMQSocket(context: ctx, type: .dealer)
  try dealer.makeCurveClient(serverKey: clientServerKey(server), keys: clientKeys)
  try dealer.connect(endpoint)
  try dealer.send([Array("secret".utf8)])
  var serverGot: [[UInt8]]?
  var clientGot: [[UInt8]]?
  // Serve ZAP and the router for up to 1.5 s.
  for _ in 0..<30 {
    let ev = try poll(
      [(zap.socket, .readable), (router, .readable), (dealer, .readable)], timeoutMs: 50)
    if ev[0].contains(.readable) { try zap.handlePending() }
    if ev[1].contains(.readable), let m = try router.receive(dontWait: true) {
      serverGot = m
      try router.send([m[0], Array("reply".utf8)])
    }
    if ev[2].contains(.readable) { clientGot = try dealer.receive(dontWait: true) }
    if clientGot != nil { break }
  }
  return (serverGot, clientGot)
}

@Test func curveHandshakeWithAllowedKeyWorks() throws {
  let client = try CurveKeyPair.generate()
  let r = try curveExchange(
    serverKnownBy: { $0.publicKey }, clientKeys: client, allowed: { [$0.publicKey] })
  #expect(r.serverGot?.last == Array("secret".utf8))
  #expect(r.clientGot == [Array("reply".utf8)])
}

@Test func curveClientWithWrongServerKeyReceivesNothing() throws {
  let client = try CurveKeyPair.generate()
  let wrong = try CurveKeyPair.generate()
  let r = try curveExchange(
    serverKnownBy: { _ in wrong.publicKey }, clientKeys: client, allowed: { [$0.publicKey] })
  #expect(r.serverGot == nil)
  #expect(r.clientGot == nil)
}

@Test func curveClientNotInAllowListReceivesNothing() throws {
  let client = try CurveKeyPair.generate()
  let other = try CurveKeyPair.generate()
  let r = try curveExchange(
    serverKnownBy: { $0.publicKey }, clientKeys: client, allowed: { _ in [other.publicKey] })
  #expect(r.serverGot == nil)
  #expect(r.clientGot == nil)
}
