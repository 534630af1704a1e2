import Testing

@Test func placeholderSweepReportTests() { #expect(Bool(true)) }
