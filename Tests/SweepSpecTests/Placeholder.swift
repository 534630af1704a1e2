import Testing

@Test func placeholderSweepSpecTests() { #expect(Bool(true)) }
