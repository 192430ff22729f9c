extension ConfigLoader {
  /// A value read from the config with the line it came from.
  struct Located<Value> {
    var value: Value
    var line: Int
  }

  /// One table of the config (`[store]`, `[pools.email]`, a `backoff = { … }`) and typed,
  /// checked reads of its keys. Every error names the dotted key and its line.
  struct Section {
    /// Labels errors.
    let file: String?
    /// The table's own dotted path, e.g. `["pools", "email"]`; empty for the root.
    let path: [String]
    let table: TOMLTable
    /// The table's line (its header), when it is in the file at all.
    let line: Int?

    /// The dotted key of `key` in this table: `pools.email.max`.
    func dotted(_ key: String) -> String { TOMLKey.path(path + [key]) }

    /// An error about `key` (nil: about the table itself) at `line`.
    func error(_ key: String?, line: Int?, _ message: String) -> ConfigError {
      ConfigError(
        file: file, line: line, key: key.map(dotted) ?? (path.isEmpty ? nil : TOMLKey.path(path)),
        message: message)
    }

    /// Throws for the keys that are not in `allowed`: the first, with the others in its
    /// `others`; each suggests the allowed key it is closest to (`mxa_attempts` → did you mean
    /// `max_attempts`?).
    func rejectUnknownKeys(_ allowed: [String]) throws(ConfigError) {
      var found: [ConfigError] = []
      for entry in table.entries where !allowed.contains(entry.key) {
        var message = "unknown key"
        if let near = ConfigLoader.nearest(entry.key, among: allowed) {
          message += " (did you mean \(TOMLKey.basicString(near))?)"
        }
        found.append(error(entry.key, line: entry.line, message))
      }
      guard var first = found.first else { return }
      first.others = Array(found.dropFirst())
      throw first
    }

    /// A nested table, or nil when `key` is absent.
    func section(_ key: String, example: String) throws(ConfigError) -> Section? {
      guard let entry = table.entry(key) else { return nil }
      guard let t = entry.value.table else {
        throw error(
          key, line: entry.line, "must be a table like \(example), got \(describe(entry.value))")
      }
      return Section(file: file, path: path + [key], table: t, line: entry.value.line)
    }

    func string(_ key: String) throws(ConfigError) -> Located<String>? {
      guard let entry = table.entry(key) else { return nil }
      guard let s = entry.value.string else {
        throw error(key, line: entry.line, "must be a string, got \(describe(entry.value))")
      }
      return Located(value: s, line: entry.line)
    }

    /// A string that is not empty and holds no NUL (it becomes a path, argument or name).
    func nonEmptyString(_ key: String) throws(ConfigError) -> Located<String>? {
      guard let s = try string(key) else { return nil }
      try checkText(s.value, key: key, line: s.line)
      return s
    }

    /// Throws when `text` is empty or holds a NUL (which no path or argv entry can).
    func checkText(_ text: String, key: String, line: Int, what: String = "")
      throws(ConfigError)
    {
      if text.isEmpty { throw error(key, line: line, "\(what)must not be empty") }
      if text.utf8.contains(0) {
        throw error(key, line: line, "\(what)must not contain a NUL character")
      }
    }

    /// A duration string (`"30s"`); when `positive`, zero is refused too.
    func duration(_ key: String, positive: Bool = false) throws(ConfigError)
      -> Located<Duration>?
    {
      guard let entry = table.entry(key) else { return nil }
      guard let s = entry.value.string else {
        throw error(
          key, line: entry.line,
          "must be a duration string like \"30s\", got \(describe(entry.value))")
      }
      guard let d = DurationText.parse(s) else {
        throw error(
          key, line: entry.line,
          "invalid duration \(TOMLKey.basicString(s)) (use e.g. \"250ms\", \"30s\", \"5m\", "
            + "\"1h\", \"7d\")")
      }
      if positive, d <= .zero {
        throw error(
          key, line: entry.line, "must be longer than zero, got \(TOMLKey.basicString(s))")
      }
      return Located(value: d, line: entry.line)
    }

    /// A byte size: a string like `"512MiB"`, or an integer count of bytes.
    func size(_ key: String) throws(ConfigError) -> Located<UInt64>? {
      guard let entry = table.entry(key) else { return nil }
      switch entry.value.kind {
      case .integer(let n):
        guard n >= 0 else {
          throw error(key, line: entry.line, "must be at least 0, got \(n)")
        }
        return Located(value: UInt64(n), line: entry.line)
      case .string(let s):
        guard let n = DurationText.parseSize(s) else {
          throw error(
            key, line: entry.line,
            "invalid size \(TOMLKey.basicString(s)) (use e.g. \"512MiB\", \"2GiB\" or bytes)")
        }
        return Located(value: n, line: entry.line)
      default:
        throw error(
          key, line: entry.line,
          "must be a size like \"512MiB\" or a byte count, got \(describe(entry.value))")
      }
    }

    /// An array whose items are all strings (it may be empty: callers decide).
    func stringArray(_ key: String) throws(ConfigError) -> Located<[String]>? {
      guard let entry = table.entry(key) else { return nil }
      guard let items = entry.value.array else {
        throw error(
          key, line: entry.line, "must be an array of strings, got \(describe(entry.value))")
      }
      var strings: [String] = []
      for item in items {
        guard let s = item.string else {
          throw error(
            key, line: item.line, "must be an array of strings, got \(describe(item)) in it")
        }
        strings.append(s)
      }
      return Located(value: strings, line: entry.line)
    }
  }

  /// A value for an error message: strings quoted (and cut short), numbers as written.
  static func describe(_ value: TOMLValue) -> String {
    switch value.kind {
    case .string(let s):
      return TOMLKey.basicString(s.count > 40 ? String(s.prefix(40)) + "…" : s)
    case .integer(let n): return String(n)
    case .float(let d): return String(d)
    case .boolean(let b): return String(b)
    case .array: return "an array"
    case .table: return "a table"
    }
  }
}
