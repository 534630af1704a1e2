import Foundation
import TailNet
import Testing

@testable import SweepSpec

/// The `model` and `channels` keys (issue 17): a VGG-11 sweep over channel multipliers, checked
/// at load with file:line:key errors, and no change to fully connected trial ids.
@Suite struct ModelKeyTests {
  let fx: Fixtures
  init() throws { fx = try Fixtures() }

  @Test func vggSweepOverChannelMultipliers() throws {
    let s = try fx.load(
      "vgg.yaml",
      """
      description: vgg
      dataset: {name: fashion-mnist, trainLimit: 500}
      train: {model: vgg11, eta: 0.05, batchSize: 50}
      grid:
        channels: [0.0625, 0.125]
        sigma: [0, 0.003]
      seeds: 2
      """)
    #expect(s.trials.count == 8)
    #expect(s.values("model") == ["vgg11"])
    #expect(s.values("channels") == ["0.0625", "0.125"])
    // Width and depth do not apply: written as 1 in the canonical form.
    #expect(s.trials.allSatisfy { $0.config.width == 1 && $0.config.depth == 1 })
    // The wider network costs more: ≈ 4× the multiply-adds at twice the channels.
    let narrow = try #require(s.trials.first { $0.config.channels == 0.0625 })
    let wide = try #require(s.trials.first { $0.config.channels == 0.125 })
    #expect(wide.relativeCost / narrow.relativeCost > 3)
    #expect(s.planText().contains("channels"))
    #expect(!s.planText().contains("width"))
  }

  @Test func modelIsPartOfTheIdentityOnlyWhenNotFCN() throws {
    let plain = try fx.load("a.yaml", head + "train: {width: 8, eta: 0.1, batchSize: 10}\n")
    let explicit = try fx.load(
      "b.yaml", head + "train: {model: fcn, width: 8, eta: 0.1, batchSize: 10}\n")
    #expect(plain.trials.map(\.id) == explicit.trials.map(\.id))
    let text = TrialID.canonicalText(explicit.trials[0].config, semanticsVersion: 1)
    #expect(!text.contains("model") && !text.contains("channels"))
    let vgg = try fx.load(
      "c.yaml", head + "train: {model: vgg11, channels: 0.25, eta: 0.1, batchSize: 10}\n")
    let vggText = TrialID.canonicalText(vgg.trials[0].config, semanticsVersion: 1)
    #expect(vggText.contains(#""channels":0.25"#) && vggText.contains(#""model":"vgg11""#))
    #expect(vgg.trials[0].id != plain.trials[0].id)
  }

  @Test func unknownModel() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train:
        eta: 0.1
        batchSize: 10
        model: resnet
      """, line: 6, key: "model", message: "unknown model 'resnet' (expected one of: fcn, vgg11)")
  }

  @Test func widthDoesNotApplyToVGG() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train:
        model: vgg11
        channels: 0.125
        width: 64
        eta: 0.1
        batchSize: 10
      """, line: 6, key: "width", message: "width does not apply to model vgg11")
  }

  @Test func channelsDoNotApplyToFCN() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train: {width: 64, eta: 0.1, batchSize: 10}
      grid:
        channels: [0.25, 0.5]
      """, line: 5, key: "channels", message: "channels applies only to model vgg11")
  }

  @Test func vggNeedsImageData() throws {
    try fx.expectError(
      """
      description: d
      dataset: synthetic
      train:
        model: vgg11
        channels: 0.125
        eta: 0.1
        batchSize: 10
      """, line: 2, key: "dataset", message: "model vgg11 needs image data")
  }

  @Test func vggNeedsChannels() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train:
        model: vgg11
        eta: 0.1
        batchSize: 10
      """, line: 4, key: "channels", message: "model vgg11 needs channels")
  }

  @Test func channelsOutOfRange() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train: {model: vgg11, eta: 0.1, batchSize: 10}
      grid:
        channels: [0.25, 0]
      """, line: 5, key: "channels", message: "channels must be a multiplier in (0, 4]")
  }

  @Test func fcnStillNeedsAWidth() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train: {model: fcn, eta: 0.1, batchSize: 10}
      """, line: 1, key: "width", message: "missing required key")
  }
}
