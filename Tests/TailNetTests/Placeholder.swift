import Testing

@Test func placeholderTailNetTests() { #expect(Bool(true)) }
