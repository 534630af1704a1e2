import Foundation
import TailSweepTestSupport

// ChaosTests.swift, being changed on another branch, still uses `Binary` without importing
// TailSweepTestSupport, and `Binary.temporaryDirectory` (now `TestFiles.temporaryDirectory`).
// Once it imports TailSweepTestSupport and calls `TestFiles.temporaryDirectory`, delete this
// file.
typealias Binary = TailSweepTestSupport.Binary

extension TailSweepTestSupport.Binary {
  static func temporaryDirectory(_ prefix: String = "tailsweep-test") throws -> URL {
    try TestFiles.temporaryDirectory(prefix)
  }
}
