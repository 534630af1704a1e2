import Testing

@Test func placeholderSweepWireTests() { #expect(Bool(true)) }
