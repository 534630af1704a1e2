import Foundation
import Testing

@testable import SweepSpec

@Suite struct PlanFormatTests {
  let fx: Fixtures
  init() throws { fx = try Fixtures() }

  @Test func textShowsCountMergesFixedKeysAndOneRowPerTrial() throws {
    let s = try fx.load(
      "p.yaml",
      header + """
        grid:
          width: [8, 16]
          sigma: [0, 0.1]
          alpha: [1.5, 2]
        overrides:
          - when: {sigma: 0}
            set: {alpha: 2}
        """)
    let text = s.planText()
    #expect(text.contains("6 trials, merged 2 identical points made by overrides"))
    #expect(text.contains("fixed: dataset mnist, depth 1, eta 0.1, batchSize 100"))
    let lines = text.split(separator: "\n")
    let headerLine = try #require(lines.first { $0.hasPrefix("id ") })
    #expect(headerLine.contains("width"))
    #expect(headerLine.contains("relative cost"))
    #expect(!headerLine.contains("depth"))
    let rows = lines.filter { $0.range(of: #"^[0-9a-f]{12} "#, options: .regularExpression) != nil }
    #expect(rows.count == 6)
    #expect(rows.last?.hasSuffix(" 1") == true)
  }

  @Test func jsonHasCountAndTrials() throws {
    let s = try fx.load("j.yaml", header + "grid:\n  width: [8, 16, 32]\nseeds: 2\n")
    let object = try JSONSerialization.jsonObject(with: Data(try s.planJSON().utf8))
    let plan = try #require(object as? [String: Any])
    #expect(plan["count"] as? Int == 6)
    #expect((plan["trials"] as? [Any])?.count == 6)
    #expect(plan["mergedDuplicates"] as? Int == 0)
  }
}
