import DroverCore

/// The CLI's text views of jobs: aligned tables and details (the `--json` shapes are
/// `JobJSON`, shared with the supervisor).
enum JobRendering {
  /// The table of `jobs list` and `dead list`: one job per row, newest first.
  static func table(_ jobs: [Job]) -> String {
    var rows = [["ID", "STATE", "TYPE", "PRI", "ATTEMPTS", "PROGRESS", "RUN_AT", "LAST_ERROR"]]
    for j in jobs {
      rows.append([
        String(j.id), j.state.name, j.type, String(j.priority), "\(j.attempts)/\(j.maxAttempts)",
        "\(j.progress)%", short(j.runAt), oneLine(summary(j.errors.last?.message ?? ""), limit: 80),
      ])
    }
    return align(rows, rightAligned: [0, 3])
  }

  /// For a running job: which attempt, on which worker (` attempt 2 of 5 on worker 4121`).
  static func running(_ job: Job) -> String {
    guard job.state == .running else { return "" }
    return " attempt \(job.attempts + 1) of \(job.maxAttempts)"
      + (job.workerPID.map { " on worker \($0)" } ?? "")
  }

  /// The `key: value` view of `jobs show`, then the errors, oldest first.
  /// `why`: the `drover why` line (default: what holds a waiting job, else nothing).
  static func detail(_ job: Job, why: String? = nil) -> String {
    var pairs: [(String, String)] = [
      ("id", String(job.id)),
      ("type", job.type),
      ("state", job.state.name + running(job) + (job.cancelRequested ? " (cancel requested)" : "")),
      ("priority", String(job.priority)),
      ("attempts", "\(job.attempts) of \(job.maxAttempts)"),
      ("progress", "\(job.progress)%"),
      ("payload", job.payload),
      ("unique_key", job.uniqueKey ?? "-"),
      ("created_at", job.createdAt.rfc3339),
      ("run_at", job.runAt.rfc3339),
      ("started_at", job.startedAt?.rfc3339 ?? "-"),
      ("finished_at", job.finishedAt?.rfc3339 ?? "-"),
      ("worker_pid", job.workerPID.map { String($0) } ?? "-"),
    ]
    if let b = job.backoff {
      pairs.append(
        ("backoff", "base \(DurationText.format(b.base)), cap \(DurationText.format(b.cap))"))
    }
    func links(_ ls: [JobLink]) -> String {
      ls.map { "#\($0.id) (\($0.state?.name ?? "pruned"))" }.joined(separator: ", ")
    }
    if !job.parents.isEmpty {
      pairs.append(("parents", links(job.parents)))
      pairs.append(("on_parent_failure", job.onParentFailure.name))
    }
    if !job.children.isEmpty { pairs.append(("children", links(job.children))) }
    if let result = job.result { pairs.append(("result", result)) }
    if let t = job.traceparent { pairs.append(("traceparent", t)) }
    if let key = job.limitKey {
      pairs.append(("limit_key", key.isEmpty ? "\"\" (the pool's)" : key))
    }
    if job.cpuSeconds != nil || job.peakRSS != nil {
      pairs.append(
        (
          "resources",
          "cpu " + (job.cpuSeconds.map { seconds($0) } ?? "-") + ", peak rss "
            + (job.peakRSS.map { bytes(UInt64(max(0, $0))) } ?? "-")
        ))
    }
    if let why = why ?? DependencyHold.text(state: job.state, parents: job.parents) {
      pairs.append(("why", why))
    }
    let width = pairs.map(\.0.count).max()! + 1
    var lines = pairs.map { pad($0.0 + ":", width) + " " + $0.1 }
    if job.errors.isEmpty {
      lines.append(pad("errors:", width) + " none")
    } else {
      lines.append("errors:")
      for e in job.errors {
        let pid = e.workerPID.map { " (worker \($0))" } ?? ""
        // Line breaks kept (a traceback stays readable), continuation lines indented.
        let body = e.message.split(separator: "\n", omittingEmptySubsequences: false)
          .map { String($0.map { $0.isNewline ? " " : $0 }) }
          .joined(separator: "\n    ")
        lines.append("  attempt \(e.attempt) at \(e.at.rfc3339)\(pid): \(body)")
      }
    }
    return lines.joined(separator: "\n")
  }

  /// The text of `jobs stats`: one `state  count` line per state.
  static func table(stats: [JobState: Int]) -> String {
    align(JobState.allCases.map { [$0.name, String(stats[$0] ?? 0)] }, rightAligned: [1])
  }

  /// A byte count for people: `812 KiB`, `24.1 MiB`, `1.50 GiB`.
  static func bytes(_ n: UInt64) -> String {
    let x = Double(n)
    let mib = 1_048_576.0
    if x < mib { return "\(Int((x / 1024).rounded())) KiB" }
    if x < 1024 * mib { return decimals(x / mib, 1) + " MiB" }
    return decimals(x / (1024 * mib), 2) + " GiB"
  }

  /// CPU seconds for people: `0.31 s`, `12.5 s`, `1520 s`.
  static func seconds(_ s: Double) -> String {
    s < 10 ? decimals(s, 2) + " s" : s < 1000 ? decimals(s, 1) + " s" : "\(Int(s.rounded())) s"
  }

  /// `x` with `places` decimals (no Foundation formatter).
  static func decimals(_ x: Double, _ places: Int) -> String {
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    let n = Int((abs(x) * scale).rounded())
    let whole = n / Int(scale)
    let frac = String(n % Int(scale))
    return (x < 0 && n > 0 ? "-" : "") + "\(whole)."
      + String(repeating: "0", count: places - frac.count) + frac
  }

  /// A time to the second, for tables: `2026-11-23T16:11:02Z`.
  static func short(_ t: Timestamp) -> String {
    let full = t.rfc3339
    return String(full.prefix(19)) + "Z"
  }

  /// A multi-line error for a table: its last non-empty line (where a traceback or a log
  /// says what went wrong), then its first in parentheses (an exec error's "command exited
  /// with status 1"); a one-line error as it is.
  static func summary(_ message: String) -> String {
    let lines = message.split(whereSeparator: \.isNewline)
      .map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
    guard let first = lines.first, let last = lines.last, lines.count > 1 else {
      return message
    }
    return "\(last) (\(first))"
  }

  /// `text` on one line (line breaks become spaces), cut to `limit` characters with `…`.
  static func oneLine(_ text: String, limit: Int = .max) -> String {
    var s = String(text.map { $0.isNewline ? " " : $0 })
    if s.count > limit { s = String(s.prefix(limit - 1)) + "…" }
    return s
  }

  /// Rows as columns two spaces apart; the last column is not padded.
  static func align(_ rows: [[String]], rightAligned: Set<Int> = []) -> String {
    guard let columns = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: columns)
    for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
    return rows.map { r in
      var line = ""
      for (i, c) in r.enumerated() {
        if i > 0 { line += "  " }
        if rightAligned.contains(i) {
          line += String(repeating: " ", count: widths[i] - c.count) + c
        } else {
          line += i == r.count - 1 ? c : pad(c, widths[i])
        }
      }
      while line.last == " " { line.removeLast() }
      return line
    }.joined(separator: "\n")
  }

  private static func pad(_ s: String, _ width: Int) -> String {
    s + String(repeating: " ", count: max(0, width - s.count))
  }
}

extension Substring {
  fileprivate func trimmingWhitespace() -> Substring {
    var s = self
    while s.first?.isWhitespace == true { s = s.dropFirst() }
    while s.last?.isWhitespace == true { s = s.dropLast() }
    return s
  }
}
