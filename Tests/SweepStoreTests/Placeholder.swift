import Testing

@Test func placeholderSweepStoreTests() { #expect(Bool(true)) }
