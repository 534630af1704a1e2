import Foundation
import Testing

@testable import TailNet

/// SHA-256 from OpenSSL libcrypto against the FIPS 180-2 / NIST example vectors, one-shot and
/// streamed.
@Suite struct SHA256Tests {
  static let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
  static let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
  static let twoBlocks = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
  static let twoBlocksText = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
  static let millionA = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

  @Test func emptyInput() {
    #expect(SHA256Digest.hex([UInt8]()) == Self.empty)
    #expect(SHA256Digest.hex("".utf8) == Self.empty)
    #expect(SHA256Digest.hex(UnsafeRawBufferPointer(start: nil, count: 0)) == Self.empty)
    #expect(SHA256Hasher().finalizeHex() == Self.empty)
  }

  @Test func abc() {
    #expect(SHA256Digest.hex(Array("abc".utf8)) == Self.abc)
    #expect(SHA256Digest.hex("abc".utf8) == Self.abc)
    #expect(SHA256Digest.hex(Data("abc".utf8)) == Self.abc)
    #expect(Array("abc".utf8).withUnsafeBytes { SHA256Digest.hex($0) } == Self.abc)
    // A non-contiguous collection goes through the copying path.
    #expect(SHA256Digest.hex(Array("abc".utf8).lazy.map { $0 }) == Self.abc)
    #expect(SHA256Digest.bytes("abc".utf8).count == SHA256Digest.byteCount)
    #expect(SHA256Digest.hexString(SHA256Digest.bytes("abc".utf8)) == Self.abc)
  }

  @Test func fourHundredFortyEightBits() {
    #expect(Self.twoBlocksText.utf8.count * 8 == 448)
    #expect(SHA256Digest.hex(Self.twoBlocksText.utf8) == Self.twoBlocks)
    // Streamed one byte at a time across the block boundary and the padding.
    var hasher = SHA256Hasher()
    for byte in Self.twoBlocksText.utf8 { hasher.update(CollectionOfOne(byte)) }
    #expect(hasher.finalizeHex() == Self.twoBlocks)
  }

  @Test func oneMillionAStreamedInUnevenChunks() {
    let total = 1_000_000
    let a = [UInt8](repeating: UInt8(ascii: "a"), count: total)
    #expect(SHA256Digest.hex(a) == Self.millionA)
    // Chunk sizes 1, 2, ..., 200 bytes, cycling: none aligned to the 64-byte block.
    var hasher = SHA256Hasher()
    var offset = 0
    var size = 1
    var chunks = 0
    a.withUnsafeBytes { all in
      while offset < total {
        let end = min(offset + size, total)
        hasher.update(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
        offset = end
        size = size % 200 + 1
        chunks += 1
      }
    }
    #expect(chunks > 9_000)
    #expect(hasher.finalizeHex() == Self.millionA)
  }

  @Test func hexString() {
    #expect(SHA256Digest.hexString([UInt8]()) == "")
    #expect(SHA256Digest.hexString([0x00, 0x0f, 0xa0, 0xff, 0x5c]) == "000fa0ff5c")
    let all = SHA256Digest.hexString((0...255).map { UInt8($0) })
    #expect(all == (0...255).map { String(format: "%02x", $0) }.joined())
  }
}
