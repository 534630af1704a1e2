import Foundation
import ZeroMQ

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// CURVE key files: `DIR/public.key` and `DIR/secret.key`, Z85 text (40 characters) each.
///
/// The secret key file is created with mode 0600 and never exists under its name with wider
/// permissions, not even briefly; `load` refuses a secret key file that group or others may
/// access at all (like ssh does with private keys).
public enum KeyFiles {
  /// Writes a fresh keypair into `directory` (created if missing) as `secret.key` (mode 0600)
  /// and `public.key` (mode 0644); returns it. Refuses to overwrite either file.
  ///
  /// Each file is written to a temporary name in the same folder, opened with
  /// `O_CREAT|O_EXCL` and its final mode, synced, then hard-linked to its name (`link` fails
  /// rather than replace an existing file) and the temporary name removed.
  public static func generate(into directory: URL) throws -> CurveKeyPair {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let secret = directory.appendingPathComponent("secret.key")
    let pub = directory.appendingPathComponent("public.key")
    for file in [secret, pub] where entryExists(file.path) {
      throw RuntimeError.badKeys("\(file.path) exists; refusing to overwrite a key")
    }
    let keys = try CurveKeyPair.generate()
    try createExclusive(secret, contents: keys.secretKey + "\n", mode: 0o600)
    do {
      try createExclusive(pub, contents: keys.publicKey + "\n", mode: 0o644)
    } catch {
      // Do not leave half a keypair behind.
      unlink(secret.path)
      throw error
    }
    syncDirectory(directory.path)
    return keys
  }

  /// Reads the keypair of `directory`. The secret key file must not be accessible to group or
  /// others (mode 0600 or stricter), else this throws naming the file, its mode and the fix.
  public static func load(from directory: URL) throws -> CurveKeyPair {
    let pub = try readKey(directory.appendingPathComponent("public.key"))
    let sec = try readSecretKey(directory.appendingPathComponent("secret.key"))
    do { return try CurveKeyPair(publicKey: pub, secretKey: sec) } catch {
      throw RuntimeError.badKeys("\(directory.path): \(error)")
    }
  }

  /// A key given on the command line: 40 Z85 characters, or a file holding them.
  public static func keyArgument(_ text: String) throws -> String {
    if text.utf8.count == 40, (try? Z85.decodeKey(text)) != nil { return text }
    return try readKey(URL(fileURLWithPath: text))
  }

  /// Reads one key from a file (first non-comment line).
  static func readKey(_ url: URL) throws -> String {
    guard let text = try? String(contentsOf: url, encoding: .utf8) else {
      throw RuntimeError.badKeys("cannot read \(url.path)")
    }
    return try firstKey(text, source: url.path)
  }

  /// Reads the secret key file, checking its permissions on the open file (no race between
  /// the check and the read).
  static func readSecretKey(_ url: URL) throws -> String {
    let path = url.path
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw RuntimeError.badKeys("cannot read \(path): \(String(cString: strerror(errno)))")
    }
    let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      throw RuntimeError.badKeys("cannot stat \(path): \(String(cString: strerror(errno)))")
    }
    guard info.st_mode & S_IFMT == S_IFREG else {
      throw RuntimeError.badKeys("\(path) is not a regular file")
    }
    let permissions = Int(info.st_mode & 0o777)
    if let problem = secretModeProblem(permissions) {
      throw RuntimeError.badKeys(
        "\(path) has mode \(octal(permissions)): \(problem); "
          + "a secret key must be private to its owner: run chmod 600 \(path)")
    }
    let data: Data
    do { data = try handle.readToEnd() ?? Data() } catch {
      throw RuntimeError.badKeys("cannot read \(path): \(error)")
    }
    return try firstKey(String(decoding: data, as: UTF8.self), source: path)
  }

  /// What is wrong with a secret key file's permission bits, or nil when group and others have
  /// no access at all.
  static func secretModeProblem(_ permissions: Int) -> String? {
    let group = (permissions >> 3) & 0o7
    let other = permissions & 0o7
    if group == 0 && other == 0 { return nil }
    var who: [String] = []
    if group != 0 { who.append("its group") }
    if other != 0 { who.append("other users") }
    var what: [String] = []
    if (group | other) & 0o4 != 0 { what.append("read") }
    if (group | other) & 0o2 != 0 { what.append("write") }
    if (group | other) & 0o1 != 0 { what.append("execute") }
    return "\(who.joined(separator: " and ")) can \(what.joined(separator: " and ")) it"
  }

  /// `0644`-style text of permission bits.
  static func octal(_ permissions: Int) -> String {
    let digits = String(permissions, radix: 8)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
  }

  static func firstKey(_ text: String, source: String) throws -> String {
    let keys = try parseKeyList(text, source: source)
    guard let first = keys.first else { throw RuntimeError.badKeys("\(source): no key") }
    return first
  }

  /// An allow-list: one Z85 public key per line (optionally followed by blanks and a comment);
  /// other lines starting with `#` are comments.
  public static func loadAllowList(_ url: URL) throws -> Set<String> {
    guard let text = try? String(contentsOf: url, encoding: .utf8) else {
      throw RuntimeError.badKeys("cannot read allow-list \(url.path)")
    }
    return Set(try parseKeyList(text, source: url.path))
  }

  static func parseKeyList(_ text: String, source: String) throws -> [String] {
    // '#' is a Z85 character (a key may even start with it): a line whose first word is a
    // valid key is a key (a comment may follow after blanks); otherwise a line starting with
    // '#' is a comment.
    var keys: [String] = []
    for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = raw.trimmingCharacters(in: .whitespaces)
      if line.isEmpty { continue }
      let word = String(line.prefix { $0 != " " && $0 != "\t" })
      if word.utf8.count == 40, (try? Z85.decodeKey(word)) != nil {
        keys.append(word)
      } else if !line.hasPrefix("#") {
        throw RuntimeError.badKeys("\(source):\(n + 1): not a 40-character Z85 key")
      }
    }
    return keys
  }

  // MARK: Files

  /// Whether anything (even a dangling symbolic link) has this name.
  static func entryExists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
  }

  /// Creates `url` holding `contents` with permission bits exactly `mode`, never overwriting:
  /// temporary file (`O_CREAT|O_EXCL`, `mode`), write, `fsync`, `link` to the final name.
  static func createExclusive(_ url: URL, contents: String, mode: mode_t) throws {
    let path = url.path
    let temporary =
      url.deletingLastPathComponent().appendingPathComponent(
        ".\(url.lastPathComponent).\(getpid()).\(String(UInt32.random(in: 0...UInt32.max), radix: 16)).tmp"
      ).path
    func failure(_ what: String, _ code: Int32) -> RuntimeError {
      RuntimeError.badKeys("\(what): \(String(cString: strerror(code)))")
    }
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
    guard fd >= 0 else { throw failure("cannot create \(temporary)", errno) }
    // The temporary name goes in every case; after `link` the final name holds the file.
    defer { unlink(temporary) }
    do {
      // open() applied the umask, which can only remove bits; make the mode exactly `mode`.
      guard fchmod(fd, mode) == 0 else { throw failure("cannot chmod \(temporary)", errno) }
      let bytes = Array(contents.utf8)
      var written = 0
      while written < bytes.count {
        let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 {
          if errno == EINTR { continue }
          throw failure("cannot write \(temporary)", errno)
        }
        written += n
      }
      guard fsync(fd) == 0 else { throw failure("cannot sync \(temporary)", errno) }
    } catch {
      close(fd)
      throw error
    }
    guard close(fd) == 0 else { throw failure("cannot write \(temporary)", errno) }
    guard link(temporary, path) == 0 else {
      let code = errno
      if code == EEXIST {
        throw RuntimeError.badKeys("\(path) exists; refusing to overwrite a key")
      }
      throw failure("cannot create \(path)", code)
    }
  }

  /// Best effort: makes the new directory entries durable.
  static func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd >= 0 {
      _ = fsync(fd)
      close(fd)
    }
  }
}
