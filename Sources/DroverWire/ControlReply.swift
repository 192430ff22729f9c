public import DroverCore

/// The answer to one `ControlRequest`, whichever transport carried it (control socket now,
/// HTTP later). Rendered as one JSON object: `{"ok": true, …}` or `{"ok": false, "error": …}`.
public enum ControlReply: Sendable, Hashable {
  case status(StatusSnapshot)
  /// A committed enqueue: the job's id, whether a live job with the unique key existed, and a
  /// warning when no pool runs the type.
  case enqueued(id: JobID, existed: Bool, warning: String?)
  /// A committed `enqueueBatch`: one id per job in request order, and for each whether a live
  /// job with its unique key existed (then the id names that job).
  case enqueuedBatch(ids: [JobID], existed: [Bool])
  case scaled(pool: String, target: Int, auto: Bool)
  /// `drain` / `resume`: the pools affected.
  case pools([String])
  /// `reload`, `wake`.
  case done
  case jobs([Job])
  case job(Job)
  /// `events`: the stream of events follows on this connection, one JSON object per line,
  /// starting with `replayed` events from the recent history.
  case subscribed(replayed: Int)
  /// `upgrade`: done, answered by the new program image (same pid), with both versions and
  /// how long the handover took.
  case upgraded(from: String, to: String, pid: Int32, took: Duration)
  case failure(String)

  /// Whether the request succeeded.
  public var ok: Bool {
    if case .failure = self { return false }
    return true
  }

  /// The reply's JSON object.
  public var json: JSONValue {
    var f: [JSONField] = [JSONField("ok", .bool(ok))]
    switch self {
    case .status(let s):
      if case .object(let fields) = s.json { f += fields }
    case .enqueued(let id, let existed, let warning):
      f.append(JSONField("id", .int(id)))
      if existed { f.append(JSONField("existed", true)) }
      if let warning { f.append(JSONField("warning", .string(warning))) }
    case .enqueuedBatch(let ids, let existed):
      f.append(JSONField("ids", .array(ids.map { .int($0) })))
      f.append(JSONField("existed", .array(existed.map { .bool($0) })))
    case .scaled(let pool, let target, let auto):
      f.append(JSONField("auto", .bool(auto)))
      f.append(JSONField("pool", .string(pool)))
      f.append(JSONField("target", .int(Int64(target))))
    case .pools(let names):
      f.append(JSONField("pools", .array(names.map { .string($0) })))
    case .subscribed(let n):
      f.append(JSONField("replayed", .int(Int64(n))))
    case .done:
      break
    case .upgraded(let from, let to, let pid, let took):
      f.append(JSONField("from", .string(from)))
      f.append(JSONField("to", .string(to)))
      f.append(JSONField("pid", .int(Int64(pid))))
      f.append(JSONField("took_ms", .double(Double(took.saturatingNanoseconds) / 1e6)))
    case .jobs(let jobs):
      f.append(JSONField("jobs", .array(jobs.map(JobJSON.job))))
    case .job(let job):
      f.append(JSONField("job", JobJSON.job(job)))
    case .failure(let message):
      f.append(JSONField("error", .string(message)))
    }
    return .object(f)
  }

  /// The reply as one line (without the newline).
  public var line: String { json.render() }
}
