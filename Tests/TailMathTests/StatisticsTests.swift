import Testing

@testable import TailMath

struct StatisticsTests {
  @Test func tQuantiles() {
    // Textbook table values (3 decimals) and the normal limit.
    let known: [(Int, Double)] = [
      (1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571), (9, 2.262), (10, 2.228),
      (20, 2.086), (29, 2.045), (30, 2.042), (40, 2.021), (60, 2.000), (120, 1.980),
    ]
    for (df, t) in known {
      #expect(abs(Statistics.studentT975(degreesOfFreedom: df) - t) < 0.0005, "df=\(df)")
    }
    // scipy.stats.t.ppf(0.975, 31) = 2.039513446, (0.975, 100) = 1.983971519.
    #expect(abs(Statistics.studentT975(degreesOfFreedom: 31) - 2.039513446) < 1e-7)
    #expect(abs(Statistics.studentT975(degreesOfFreedom: 100) - 1.983971519) < 1e-7)
    #expect(abs(Statistics.studentT975(degreesOfFreedom: 1_000_000) - 1.959964) < 1e-5)
    #expect(Statistics.studentT975(degreesOfFreedom: 0) == .infinity)
    // Decreasing in ν.
    let ts = (1...200).map { Statistics.studentT975(degreesOfFreedom: $0) }
    #expect(zip(ts, ts.dropFirst()).allSatisfy { $0 > $1 })
  }
}
