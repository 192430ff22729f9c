import DroverCore
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// One-line logs on stderr: `TIME LEVEL message key=value …`, what journald wants.
enum LogSetup {
  static func bootstrap(level: Logger.Level) {
    LoggingSystem.bootstrap { label in
      var h = LineLogHandler(label: label)
      h.logLevel = level
      return h
    }
  }
}

struct LineLogHandler: LogHandler {
  let label: String
  var logLevel: Logger.Level = .info
  var metadata: Logger.Metadata = [:]

  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  func log(event: LogEvent) {
    var line = Timestamp.now().rfc3339 + " " + event.level.rawValue.uppercased() + " "
    line += "\(event.message)"
    let all = metadata.merging(event.metadata ?? [:]) { $1 }
    for k in all.keys.sorted() { line += " \(k)=\(all[k]!)" }
    line += "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
  }
}
