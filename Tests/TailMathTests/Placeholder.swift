import Testing

@Test func placeholderTailMathTests() { #expect(Bool(true)) }
