import Foundation

/// A table of text cells that renders as aligned terminal text, Markdown, CSV or HTML.
public struct Table: Sendable, Hashable {
  /// A column: header, alignment, and whether it identifies the row (repeated when a wide table
  /// is wrapped into blocks for the terminal).
  public struct Column: Sendable, Hashable {
    /// Header text.
    public var name: String
    /// Right-aligned (numbers) or left-aligned (labels).
    public var rightAligned: Bool
    /// Part of the row's identity.
    public var isKey: Bool
    /// Creates a column.
    public init(_ name: String, right: Bool = true, key: Bool = false) {
      self.name = name
      self.rightAligned = right
      self.isKey = key
    }
  }

  /// Short name, also the file stem (`summary` → `summary.csv`).
  public var name: String
  /// Title printed above the table.
  public var title: String
  /// The columns.
  public var columns: [Column]
  /// The rows, each with one cell per column.
  public var rows: [[String]]
  /// Lines printed below the table (what ± means, what was excluded).
  public var notes: [String]

  /// Creates a table.
  public init(
    name: String, title: String, columns: [Column], rows: [[String]], notes: [String] = []
  ) {
    self.name = name
    self.title = title
    self.columns = columns
    self.rows = rows
    self.notes = notes
  }

  /// Aligned text for a terminal. When the table is wider than `maxWidth` characters its value
  /// columns are split into several blocks, each repeating the key columns.
  public func renderText(maxWidth: Int = 100) -> String {
    let widths = columns.indices.map { c in
      rows.reduce(columns[c].name.count) { max($0, $1[c].count) }
    }
    let keyCols = columns.indices.filter { columns[$0].isKey }
    let valueCols = columns.indices.filter { !columns[$0].isKey }
    let sep = "  "
    let keyWidth = keyCols.reduce(0) { $0 + widths[$1] + sep.count }
    var blocks: [[Int]] = []
    var current: [Int] = []
    var used = keyWidth
    for c in valueCols {
      let w = widths[c] + sep.count
      if !current.isEmpty && used + w - sep.count > maxWidth {
        blocks.append(current)
        current = []
        used = keyWidth
      }
      current.append(c)
      used += w
    }
    if !current.isEmpty || blocks.isEmpty { blocks.append(current) }

    func pad(_ s: String, _ w: Int, right: Bool) -> String {
      let fill = String(repeating: " ", count: max(0, w - s.count))
      return right ? fill + s : s + fill
    }
    var out = title + "\n"
    for (b, block) in blocks.enumerated() {
      let cols = keyCols + block
      if b > 0 { out += "\n" }
      let header = cols.map { pad(columns[$0].name, widths[$0], right: columns[$0].rightAligned) }
      out += trimRight(header.joined(separator: sep)) + "\n"
      out += cols.map { String(repeating: "─", count: widths[$0]) }.joined(separator: sep) + "\n"
      for row in rows {
        let cells = cols.map { pad(row[$0], widths[$0], right: columns[$0].rightAligned) }
        out += trimRight(cells.joined(separator: sep)) + "\n"
      }
    }
    if rows.isEmpty { out += "(no rows)\n" }
    for n in notes { out += wrap(n, width: maxWidth) }
    return out
  }

  /// A GitHub-flavoured Markdown table with the title as a heading and the notes below.
  public func renderMarkdown() -> String {
    func esc(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }
    var out = "## \(title)\n\n"
    out += "| " + columns.map { esc($0.name) }.joined(separator: " | ") + " |\n"
    out += "|" + columns.map { $0.rightAligned ? " ---: |" : " :--- |" }.joined() + "\n"
    for row in rows { out += "| " + row.map(esc).joined(separator: " | ") + " |\n" }
    if !notes.isEmpty { out += "\n" + notes.joined(separator: "\n") + "\n" }
    return out
  }

  /// RFC 4180 CSV: a header line, then one line per row (fields quoted when needed).
  public func renderCSV() -> String {
    func field(_ s: String) -> String {
      if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
      }
      return s
    }
    var out = columns.map { field($0.name) }.joined(separator: ",") + "\n"
    for row in rows { out += row.map(field).joined(separator: ",") + "\n" }
    return out
  }

  /// An HTML `<table>` with a caption and the notes in a paragraph below.
  public func renderHTML() -> String {
    var out = "<table>\n<caption>\(htmlEscape(title))</caption>\n<thead><tr>"
    for c in columns {
      out += "<th class=\"\(c.rightAligned ? "num" : "txt")\">\(htmlEscape(c.name))</th>"
    }
    out += "</tr></thead>\n<tbody>\n"
    for row in rows {
      out += "<tr>"
      for (i, cell) in row.enumerated() {
        out += "<td class=\"\(columns[i].rightAligned ? "num" : "txt")\">\(htmlEscape(cell))</td>"
      }
      out += "</tr>\n"
    }
    out += "</tbody>\n</table>\n"
    if !notes.isEmpty {
      out += "<p class=\"notes\">" + notes.map(htmlEscape).joined(separator: "<br>\n") + "</p>\n"
    }
    return out
  }
}

/// Word-wraps `text` to lines of at most `width` characters (continuation lines indented).
private func wrap(_ text: String, width: Int) -> String {
  var out = ""
  var line = ""
  for word in text.split(separator: " ") {
    if !line.isEmpty && line.count + 1 + word.count > width {
      out += line + "\n"
      line = "  "
    }
    line += (line.isEmpty || line == "  " ? "" : " ") + word
  }
  if !line.isEmpty { out += line + "\n" }
  return out
}

private func trimRight(_ s: String) -> String {
  var s = s
  while s.last == " " { s.removeLast() }
  return s
}

/// Escapes text for HTML and XML (element content and attribute values).
public func htmlEscape(_ s: String) -> String {
  var out = ""
  out.reserveCapacity(s.count)
  for ch in s {
    switch ch {
    case "&": out += "&amp;"
    case "<": out += "&lt;"
    case ">": out += "&gt;"
    case "\"": out += "&quot;"
    case "'": out += "&#39;"
    default: out.append(ch)
    }
  }
  return out
}

/// Fixed-point formatting without locale surprises: `fixed(0.5567, 3)` is `0.557`.
func fixed(_ x: Double, _ decimals: Int) -> String {
  let s = String(format: "%.\(decimals)f", x)
  // No "-0.0": a value that rounds to zero is shown without a sign.
  if s.hasPrefix("-") && s.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) {
    return String(s.dropFirst())
  }
  return s
}

/// Shortest round-trip spelling for CSV and JSON-like raw fields; empty for nil.
func raw(_ x: Double?) -> String {
  guard let x else { return "" }
  return "\(x)"
}
