internal import CCrypto

/// SHA-256 (FIPS 180-4) from the system's OpenSSL libcrypto, through its EVP digest API.
///
/// One-shot helpers; `SHA256Hasher` hashes data that arrives in pieces. Digests are 32 bytes;
/// `hex` gives them as 64 lowercase hex digits (the `sha256sum` spelling).
public enum SHA256Digest {
  /// The length of a digest in bytes.
  public static let byteCount = 32

  /// The digest of the bytes in `buffer`.
  public static func bytes(_ buffer: UnsafeRawBufferPointer) -> [UInt8] {
    var hasher = SHA256Hasher()
    hasher.update(buffer)
    return hasher.finalize()
  }

  /// The digest of `data` (an array, `Data`, a string's `utf8` view, ...).
  public static func bytes(_ data: some Collection<UInt8>) -> [UInt8] {
    var hasher = SHA256Hasher()
    hasher.update(data)
    return hasher.finalize()
  }

  /// The digest of the bytes in `buffer` as 64 lowercase hex digits.
  public static func hex(_ buffer: UnsafeRawBufferPointer) -> String {
    hexString(bytes(buffer))
  }

  /// The digest of `data` as 64 lowercase hex digits.
  public static func hex(_ data: some Collection<UInt8>) -> String {
    hexString(bytes(data))
  }

  /// `bytes` as lowercase hex, two digits per byte, most significant nibble first.
  public static func hexString(_ bytes: some Collection<UInt8>) -> String {
    let count = bytes.count * 2
    guard count > 0 else { return "" }
    return String(unsafeUninitializedCapacity: count) { out in
      var i = 0
      for byte in bytes {
        out[i] = hexDigits[Int(byte >> 4)]
        out[i + 1] = hexDigits[Int(byte & 0x0f)]
        i += 2
      }
      return count
    }
  }

  /// ASCII `0123456789abcdef`.
  private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}

/// An incremental SHA-256: `update` with the pieces in order, then `finalize` once.
///
/// Owns an OpenSSL digest context, freed when the hasher ends; it cannot be copied. Allocation
/// or initialisation failures inside OpenSSL (out of memory, SHA-256 unavailable) stop the
/// process: no result could be trusted after them.
public struct SHA256Hasher: ~Copyable {
  private let context: OpaquePointer

  /// A hasher over no bytes yet.
  public init() {
    guard let ctx = EVP_MD_CTX_new() else {
      fatalError("OpenSSL: EVP_MD_CTX_new failed")
    }
    guard EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1 else {
      EVP_MD_CTX_free(ctx)
      fatalError("OpenSSL: EVP_DigestInit_ex(SHA-256) failed")
    }
    context = ctx
  }

  deinit {
    EVP_MD_CTX_free(context)
  }

  /// Appends the bytes in `buffer`.
  public mutating func update(_ buffer: UnsafeRawBufferPointer) {
    guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
    guard EVP_DigestUpdate(context, base, buffer.count) == 1 else {
      fatalError("OpenSSL: EVP_DigestUpdate failed")
    }
  }

  /// Appends `data` (contiguous collections are hashed in place, others copied first).
  public mutating func update(_ data: some Collection<UInt8>) {
    let done: Void? = data.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
    if done == nil {
      Array(data).withUnsafeBytes { update($0) }
    }
  }

  /// The digest of everything appended (32 bytes); ends the hasher.
  public consuming func finalize() -> [UInt8] {
    var digest = [UInt8](repeating: 0, count: SHA256Digest.byteCount)
    var length: UInt32 = 0
    let ok = digest.withUnsafeMutableBufferPointer {
      EVP_DigestFinal_ex(context, $0.baseAddress, &length)
    }
    guard ok == 1, length == UInt32(SHA256Digest.byteCount) else {
      fatalError("OpenSSL: EVP_DigestFinal_ex failed")
    }
    return digest
  }

  /// The digest of everything appended as 64 lowercase hex digits; ends the hasher.
  public consuming func finalizeHex() -> String {
    SHA256Digest.hexString(finalize())
  }
}
