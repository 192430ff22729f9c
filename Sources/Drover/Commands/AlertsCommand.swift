import ArgumentParser
import DroverCore
import DroverStore

#if canImport(Glibc)
  import Glibc
#endif

/// `drover alerts …`: the alert history.
struct AlertsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "alerts",
    abstract: "List the alerts that fired, and acknowledge them.",
    subcommands: [List.self, Ack.self])
}

extension AlertsCommand {
  /// `alerts list [--open] [--json] [--limit N]`.
  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List the alert history, newest first.",
      discussion: """
        Each alert: id, state (firing or resolved), severity, kind, subject, when it fired, \
        whether it was acknowledged and by whom, and its message. --open lists only the \
        alerts still firing (a dead job's alert stays open until acknowledged). --json prints \
        an array of objects shaped as `GET /alerts`.
        """)

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Only the alerts still firing.")
    var open = false

    @Option(help: "At most this many alerts.")
    var limit: Int = 100

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
      let context = try CommandContext(options)
      let limit = try CLIArguments.limit(limit)
      let open = self.open
      let records = try context.run { store throws(StoreError) in
        try store.alerts(open: open, limit: limit)
      }
      if json {
        Output.out(JSONValue.array(records.map(\.json)).render())
        return
      }
      if records.isEmpty {
        Output.note(open ? "no alert is firing" : "no alert has fired")
        return
      }
      for r in records {
        let state = r.resolvedAt == nil ? "firing" : "resolved"
        let ack = r.ackedAt.map { "acked \($0.rfc3339) by \(r.ackedBy ?? "?")" } ?? "not acked"
        Output.out(
          "\(r.id)  \(state)  \(r.severity)  \(r.kind)\(r.subject.map { "[\($0)]" } ?? "")  "
            + "fired \(r.firedAt.rfc3339)  \(ack)  \(r.message)")
      }
    }
  }

  /// `alerts ack ID [--by NAME]`.
  struct Ack: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Acknowledge an alert: it is not sent again until it resolves and fires anew.",
      discussion: """
        A dead job's alert, which never clears by itself, is resolved by its acknowledgement. \
        Acknowledging twice keeps the first. Prints the alert as `alerts list --json` does.
        """)

    @OptionGroup var options: ConfigOptions

    @Argument(help: "The alert's id (`drover alerts list`).")
    var id: Int64

    @Option(help: "Who acknowledges it (default: the user running the command).")
    var by: String?

    func run() throws {
      let context = try CommandContext(options)
      let who = by ?? Self.userName()
      let id = self.id
      let r = try context.run { store throws(StoreError) in
        try store.ackAlert(id, by: who, at: .now())
      }
      Output.note("alert \(id) acknowledged by \(r.ackedBy ?? who)")
      Output.out(r.json.render())
    }

    static func userName() -> String {
      if let u = getenv("USER"), let name = String(validatingCString: u), !name.isEmpty {
        return name
      }
      if let pw = getpwuid(getuid()), let name = String(validatingCString: pw.pointee.pw_name) {
        return name
      }
      return "uid \(getuid())"
    }
  }
}
