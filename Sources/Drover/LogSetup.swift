import DroverCore
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// One line per log event on stderr, as `[log] format` says: logfmt (`time=… level=… msg="…"
/// key=value …`, values quoted and escaped when they need it) or JSON (one object per line).
/// When stderr is the journal (`JOURNAL_STREAM` names stderr's device and inode, as systemd
/// sets it for a service), each line starts with its syslog priority (`<4>` for a warning …), so
/// `journalctl -p warning` selects by level.
enum LogSetup {
  static func bootstrap(level: Logger.Level, format: LogConfig.Format = .logfmt) {
    let journal = stderrIsJournal()
    LoggingSystem.bootstrap { label in
      var h = LineLogHandler(label: label, format: format, journal: journal)
      h.logLevel = level
      return h
    }
  }

  /// Whether `JOURNAL_STREAM` (`DEVICE:INODE`) is standard error's own device and inode.
  static func stderrIsJournal() -> Bool {
    guard let raw = getenv("JOURNAL_STREAM") else { return false }
    let parts = String(cString: raw).split(separator: ":")
    guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else {
      return false
    }
    var st = stat()
    guard fstat(2, &st) == 0 else { return false }
    return UInt64(st.st_dev) == dev && UInt64(st.st_ino) == ino
  }
}

struct LineLogHandler: LogHandler {
  let label: String
  let format: LogConfig.Format
  let journal: Bool
  var logLevel: Logger.Level = .info
  var metadata: Logger.Metadata = [:]

  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  /// syslog priorities (sd-daemon(3)): what journald files each line under.
  static func priority(_ level: Logger.Level) -> Int {
    switch level {
    case .trace, .debug: 7
    case .info: 6
    case .notice: 5
    case .warning: 4
    case .error: 3
    case .critical: 2
    }
  }

  func log(event: LogEvent) {
    let all = metadata.merging(event.metadata ?? [:]) { $1 }
    var line = journal ? "<\(Self.priority(event.level))>" : ""
    let time = Timestamp.now().rfc3339
    switch format {
    case .logfmt:
      line += "time=\(time) level=\(event.level.rawValue) msg="
      Self.logfmtValue("\(event.message)", into: &line)
      for k in all.keys.sorted() {
        line += " \(k)="
        Self.logfmtValue("\(all[k]!)", into: &line)
      }
    case .json:
      var fields = [
        JSONField("time", .string(time)), JSONField("level", .string(event.level.rawValue)),
        JSONField("msg", .string("\(event.message)")),
      ]
      for k in all.keys.sorted() where !["time", "level", "msg"].contains(k) {
        fields.append(JSONField(k, .string("\(all[k]!)")))
      }
      line += JSONValue.object(fields).render()
    }
    line += "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
  }

  /// A logfmt value: bare when it is a plain word, else quoted with `"` and `\` escaped and
  /// control characters as `\n`, `\t` or `\u00XX`, so one event is always one line.
  static func logfmtValue(_ value: String, into out: inout String) {
    let plain =
      !value.isEmpty
      && value.unicodeScalars.allSatisfy { c in
        c.value > 0x20 && c != "\"" && c != "=" && c != "\\" && c.value != 0x7F
      }
    guard !plain else {
      out += value
      return
    }
    out += "\""
    for c in value.unicodeScalars {
      switch c {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      default:
        if c.value < 0x20 || c.value == 0x7F {
          let hex = String(c.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(c)
        }
      }
    }
    out += "\""
  }
}
