import Testing

@testable import TailMath

struct StatisticsTests {
  @Test func knownSample() {
    // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, Σ(x − 5)² = 32, sample variance 32/7,
    // std = √(32/7) = 2.138089935; t₀.₉₇₅,₇ = 2.364624; half-width = 2.364624·2.138090/√8
    // = 1.787488 (by hand / calculator).
    let s = Statistics.summarize([2, 4, 4, 4, 5, 5, 7, 9])
    #expect(s.count == 8)
    #expect(abs(s.mean - 5) < 1e-12)
    #expect(abs(s.std - 2.138089935) < 1e-8)
    #expect(abs(s.ciLow - (5 - 1.787488)) < 1e-5)
    #expect(abs(s.ciHigh - (5 + 1.787488)) < 1e-5)
    #expect(abs(s.halfWidth - 1.787488) < 1e-5)
  }

  @Test func twoValues() {
    // 1, 3: mean 2, std √2, t₀.₉₇₅,₁ = 12.706205, half-width = 12.706205·√2/√2 = 12.706205.
    let s = Statistics.summarize([1, 3])
    #expect(abs(s.std - 2.0.squareRoot()) < 1e-12)
    #expect(abs(s.ciLow - (2 - 12.706205)) < 1e-9)
    #expect(abs(s.ciHigh - (2 + 12.706205)) < 1e-9)
  }

  @Test func degenerateCounts() {
    let one = Statistics.summarize([0.7])
    #expect(one == Statistics.Summary(count: 1, mean: 0.7, std: 0, ciLow: 0.7, ciHigh: 0.7))
    let none = Statistics.summarize([])
    #expect(none == Statistics.Summary(count: 0, mean: 0, std: 0, ciLow: 0, ciHigh: 0))
    let constant = Statistics.summarize([3, 3, 3])
    #expect(constant.std == 0 && constant.ciLow == 3 && constant.ciHigh == 3)
  }

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
