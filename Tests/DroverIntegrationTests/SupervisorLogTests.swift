import DroverCore
import DroverTestSupport
import Foundation
import Testing

extension SupervisorTests {
  /// The supervisor's log lines, as journald and log shippers read them.
  @Suite("logs")
  struct Logs {
    static let pools =
      poolTable("ok", #"handler = "noop""#, "min = 1", "max = 1")
      + poolTable("bad", #"handler = "fail""#, "min = 1", "max = 1", "max_attempts = 1")

    /// The fields of one logfmt line (quoted values unescaped), or nil when it is not one.
    static func logfmt(_ line: Substring) -> [String: String]? {
      var fields: [String: String] = [:]
      var i = line.startIndex
      while i < line.endIndex {
        guard let eq = line[i...].firstIndex(of: "=") else { return nil }
        let key = String(line[i..<eq])
        guard !key.isEmpty, !key.contains(" ") else { return nil }
        var j = line.index(after: eq)
        var value = ""
        if j < line.endIndex, line[j] == "\"" {
          j = line.index(after: j)
          while j < line.endIndex, line[j] != "\"" {
            if line[j] == "\\" {
              j = line.index(after: j)
              guard j < line.endIndex else { return nil }
              value.append(line[j] == "n" ? "\n" : line[j])
            } else {
              value.append(line[j])
            }
            j = line.index(after: j)
          }
          guard j < line.endIndex else { return nil }
          j = line.index(after: j)
        } else {
          while j < line.endIndex, line[j] != " " {
            value.append(line[j])
            j = line.index(after: j)
          }
        }
        fields[key] = value
        if j < line.endIndex, line[j] == " " { j = line.index(after: j) }
        i = j
      }
      return fields
    }

    /// logfmt by default: every line parses, a dead job's line carries its id, type, attempt,
    /// worker pid and the error text (quotes escaped); no syslog prefix when stderr is no
    /// journal.
    @Test func logfmtLinesParseAndCarryTheJobsFields() throws {
      let h = try SupervisorHarness(pools: Self.pools)
      try h.start()
      let id = try h.enqueue("bad", #"{"message": "the \"disk\" is on fire"}"#)
      try h.waitUntil("the job is dead") { try h.jobState(id) == "dead" }
      _ = try h.stop()
      let lines = h.log().split(separator: "\n")
      #expect(!lines.isEmpty)
      for line in lines {
        #expect(Self.logfmt(line) != nil, "not logfmt: \(line)")
        #expect(!line.hasPrefix("<"), "\(line)")
      }
      let dead = lines.compactMap(Self.logfmt).first {
        $0["job_id"] == "\(id)" && $0["level"] == "warning"
      }
      let f = try #require(dead, "\(h.logTail())")
      #expect(f["type"] == "bad" && f["attempt"] == "1" && f["worker_pid"] != nil, "\(f)")
      #expect(f["msg"]?.contains(#"the "disk" is on fire"#) == true, "\(f)")
    }

    /// `[log] format = "json"`: one object per line; with JOURNAL_STREAM naming stderr, each
    /// line starts with its syslog priority.
    @Test func jsonLinesAndJournalPriorities() throws {
      let h = try SupervisorHarness(pools: Self.pools)
      try h.writeConfig(
        SupervisorHarness.configText(pools: Self.pools) + "\n[log]\nformat = \"json\"\n")
      // JOURNAL_STREAM is stderr's own device:inode, as systemd sets it for a service.
      try h.start(shellPrefix: "export JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2)")
      let id = try h.enqueue("bad", #"{"message": "boom"}"#)
      try h.waitUntil("the job is dead") { try h.jobState(id) == "dead" }
      _ = try h.stop()
      var priorities: [String: Set<String>] = [:]
      for line in h.log().split(separator: "\n") {
        let m = line.firstMatch(of: /^<(\d)>(.*)$/)
        let match = try #require(m, "no priority prefix: \(line)")
        let object = try JSONValue.parse(String(match.2))
        let level = try #require(object["level"]?.stringValue)
        priorities[level, default: []].insert(String(match.1))
        #expect(object["time"] != nil && object["msg"] != nil)
      }
      #expect(priorities["notice"] == ["5"] && priorities["warning"] == ["4"], "\(priorities)")
      #expect(priorities["info"] == ["6"], "\(priorities)")
    }

    /// A bad `[log] format` is named.
    @Test func aBadFormatIsNamed() throws {
      let h = try SupervisorHarness(pools: Self.pools)
      try h.writeConfig(
        SupervisorHarness.configText(pools: Self.pools) + "\n[log]\nformat = \"xml\"\n")
      let r = try h.drover(["config", "check"])
      #expect(r.exitCode == 1)
      #expect(r.stderrText.contains(#"log.format: must be "logfmt" or "json", got "xml""#))
    }
  }
}
