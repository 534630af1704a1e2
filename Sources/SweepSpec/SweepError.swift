/// A problem with a sweep file, located in the file that contains it.
///
/// Printed as `file:line: key 'k': message` (or `file:line: message` when no key is involved,
/// or `file: message` when no line is known), e.g.
/// `sweeps/a.yaml:12: key 'lr': unknown key (did you mean 'eta'?)`.
public struct SweepError: Error, CustomStringConvertible, Hashable, Sendable {
  /// The file that holds the problem, as it was named (an included file names itself).
  public var file: String
  /// 1-based line of the offending key or value; 0 when the problem has no line (e.g. an
  /// unreadable file).
  public var line: Int
  /// The key concerned (the innermost key, e.g. `eta`, `trainLimit`), or nil.
  public var key: String?
  /// What is wrong, and where it helps, what to do about it.
  public var message: String

  /// Creates an error; see the properties.
  public init(file: String, line: Int, key: String?, message: String) {
    self.file = file
    self.line = line
    self.key = key
    self.message = message
  }

  /// `file:line: key 'k': message`.
  public var description: String {
    var s = file
    if line > 0 { s += ":\(line)" }
    s += ": "
    if let key { s += "key '\(key)': " }
    return s + message
  }
}

/// Where a value came from: the file and 1-based line.
struct Origin: Hashable, Sendable {
  var file: String
  var line: Int
  /// Precedence of the file: a higher rank wins over a lower one (the including file wins
  /// over what it includes; a later include wins over an earlier one).
  var rank: Int

  func error(_ key: String?, _ message: String) -> SweepError {
    SweepError(file: file, line: line, key: key, message: message)
  }
}
