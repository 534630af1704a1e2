import SweepRuntime
import Testing
import ZeroMQ

// Issue 10, item 14: under CURVE one allowed key must not take over another worker's routing
// id. Bound to the first key seen, an id could be squatted: a peer presenting a worker's id to
// a freshly started coordinator before that worker kept it (found by `tailsweep chaos`'s flood
// after a coordinator restart). Now the id carries its key's tag, whoever comes first.

@Test func aWorkersRoutingIDIsTiedToItsKeyWhoeverComesFirst() throws {
  let honest = try CurveKeyPair.generate()
  let squatter = try CurveKeyPair.generate()
  let honestTag = try #require(curveRoutingTag(publicKey: honest.publicKey))
  let squatterTag = try #require(curveRoutingTag(publicKey: squatter.publicKey))
  #expect(honestTag.count == 17 && honestTag.hasPrefix("~") && honestTag != squatterTag)
  #expect(curveRoutingTag(publicKey: honest.publicKey) == honestTag)  // deterministic
  #expect(curveRoutingTag(publicKey: "not a key") == nil)

  let zap = try ZAPAllowList(
    context: try ZMQContext(), allowed: [honest.publicKey, squatter.publicKey])
  zap.routingIDSuffix = { curveRoutingTag(publicKey: $0) }
  var refused: [IdentityRefusal] = []
  zap.onIdentityRefused = { refused.append($0) }
  let worker = Array("w1\(honestTag)".utf8)
  // The squatter comes first, under the honest worker's tagged id and under the bare id: both
  // refused, and neither binds anything.
  #expect(!zap.admit(routingID: worker, userID: squatter.publicKey))
  #expect(!zap.admit(routingID: Array("w1".utf8), userID: squatter.publicKey))
  #expect(!zap.admit(routingID: Array(honestTag.utf8), userID: honest.publicKey))  // no id part
  #expect(zap.admit(routingID: worker, userID: honest.publicKey))
  #expect(!zap.admit(routingID: worker, userID: squatter.publicKey))
  #expect(zap.admit(routingID: Array("w2\(squatterTag)".utf8), userID: squatter.publicKey))
  #expect(zap.boundKeys.isEmpty)
  #expect(refused.count == 4)
  #expect(refused.allSatisfy { $0.reason.hasPrefix("routing id does not end with its key's tag") })
}
