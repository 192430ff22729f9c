public import DroverCore

/// A request on the control socket: one JSON object per line (see CONTRACT.md).
public enum ControlRequest: Sendable, Hashable {
  /// Supervisor state, pools, workers and job counts.
  case status
  /// Pin a pool's worker count (`.count`) or return it to autoscaling (`.auto`).
  case scale(pool: String, target: ScaleTarget)
  /// Quiet mode: stop dispatching (one pool, or all when nil) and let running jobs finish.
  case drain(pool: String?)
  /// End quiet mode for one pool, or all when nil.
  case resume(pool: String?)
  /// Re-read the config file.
  case reload
  /// Enqueue one job; the reply carries its `id`.
  case enqueue(EnqueueRequest)
  /// Enqueue several jobs in one commit, all or nothing (HTTP `POST /jobs` with an array or
  /// NDJSON; `{"cmd": "enqueue_batch", "jobs": [...]}` on the socket); the reply is
  /// `.enqueuedBatch` in request order, or one failure for the whole batch.
  case enqueueBatch([EnqueueRequest])
  /// "The store changed, look again": sent by CLI processes after they enqueue or cancel.
  /// Optional since the supervisor notices other writers by itself; it makes pick-up instant.
  case wake
  /// Jobs newest first, optionally of one state and type (read off the loop thread).
  case jobs(state: JobState?, type: String?, limit: Int)
  /// One job with its errors (read off the loop thread).
  case job(JobID)
  /// Turn this connection into a stream of lifecycle events (`LifecycleEvent.json` lines),
  /// optionally of one job type; `replay` first sends the recent history the supervisor keeps.
  case events(type: String?, replay: Bool)
  /// Re-execute the executable now on disk in place (same pid), keeping the listeners, the
  /// store lock and the workers; the reply comes from the new program image.
  case upgrade
}

/// `scale POOL N|auto`.
public enum ScaleTarget: Sendable, Hashable {
  case count(Int)
  case auto
}

/// A bad control request; the text goes back as `{"ok": false, "error": …}`.
public struct ControlError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  /// The request field at fault (`priority`, `payload`, …), when one is: HTTP replies name it.
  public var field: String?
  public init(_ message: String, field: String? = nil) {
    self.message = message
    self.field = field
  }
  public var description: String { message }
}

extension ControlRequest {
  /// Parses one request line.
  public static func parse(line: String) throws(ControlError) -> ControlRequest {
    let v: JSONValue
    do { v = try JSONValue.parse(line) } catch { throw ControlError(error.description) }
    guard v.objectValue != nil else { throw ControlError("a request must be a JSON object") }
    guard let cmd = v["cmd"]?.stringValue else {
      throw ControlError("missing \"cmd\" (\(Self.commandNames))")
    }
    func pool(required: Bool) throws(ControlError) -> String? {
      guard let p = v["pool"], !p.isNull else {
        if required { throw ControlError("\"\(cmd)\" needs \"pool\"") }
        return nil
      }
      guard let s = p.stringValue, !s.isEmpty else {
        throw ControlError("\"pool\" must be a non-empty string")
      }
      return s
    }
    switch cmd {
    case "status": return .status
    case "reload": return .reload
    case "upgrade": return .upgrade
    case "wake": return .wake
    case "drain": return .drain(pool: try pool(required: false))
    case "resume": return .resume(pool: try pool(required: false))
    case "scale":
      let p = try pool(required: true)!
      switch v["workers"] {
      case .string("auto")?: return .scale(pool: p, target: .auto)
      case let w? where w.intValue != nil:
        guard let n = Int(exactly: w.intValue!), n >= 0 else {
          throw ControlError("\"workers\" must be a whole number ≥ 0 or \"auto\"")
        }
        return .scale(pool: p, target: .count(n))
      default: throw ControlError("\"workers\" must be a whole number or \"auto\"")
      }
    case "enqueue":
      return .enqueue(try EnqueueRequest.parse(v, ignoring: ["cmd"]))
    case "enqueue_batch":
      guard let jobs = v["jobs"]?.arrayValue, !jobs.isEmpty else {
        throw ControlError("\"enqueue_batch\" needs \"jobs\", a non-empty array", field: "jobs")
      }
      var requests: [EnqueueRequest] = []
      for (i, j) in jobs.enumerated() {
        do {
          requests.append(try EnqueueRequest.parse(j))
        } catch {
          throw ControlError("jobs[\(i)]: \(error.message)", field: error.field)
        }
      }
      return .enqueueBatch(requests)
    case "jobs":
      var state: JobState?
      if let s = v["state"], !s.isNull {
        guard let name = s.stringValue, let st = JobState(name: name) else {
          throw ControlError(
            "\"state\" must be one of "
              + JobState.allCases.map(\.name).joined(separator: ", "))
        }
        state = st
      }
      var type: String?
      if let t = v["type"], !t.isNull {
        guard let s = t.stringValue, !s.isEmpty else {
          throw ControlError("\"type\" must be a non-empty string")
        }
        type = s
      }
      var limit = 100
      if let l = v["limit"], !l.isNull {
        guard let n = l.intValue, n >= 1, n <= 10_000 else {
          throw ControlError("\"limit\" must be an integer from 1 to 10000")
        }
        limit = Int(n)
      }
      return .jobs(state: state, type: type, limit: limit)
    case "job":
      guard let n = v["id"]?.intValue, n >= 1 else {
        throw ControlError("\"job\" needs \"id\", a positive integer")
      }
      return .job(n)
    case "events":
      var type: String?
      if let t = v["type"], !t.isNull {
        guard let s = t.stringValue, !s.isEmpty else {
          throw ControlError("\"type\" must be a non-empty string")
        }
        type = s
      }
      return .events(type: type, replay: v["replay"]?.boolValue ?? false)
    default:
      throw ControlError("unknown cmd \"\(cmd)\" (\(Self.commandNames))")
    }
  }

  /// Every `cmd`, for error messages.
  static let commandNames =
    "status, scale, drain, resume, reload, enqueue, enqueue_batch, wake, jobs, job, events"

  /// The request as one JSON line (without the newline), as `drover ctl` sends it.
  public var line: String {
    switch self {
    case .jobs(let state, let type, let limit):
      var f: [JSONField] = [JSONField("cmd", "jobs"), JSONField("limit", .int(Int64(limit)))]
      if let state { f.append(JSONField("state", .string(state.name))) }
      if let type { f.append(JSONField("type", .string(type))) }
      return JSONValue.object(f).render()
    case .job(let id):
      return JSONValue.object([JSONField("cmd", "job"), JSONField("id", .int(id))]).render()
    case .events(let type, let replay):
      var f: [JSONField] = [JSONField("cmd", "events"), JSONField("replay", .bool(replay))]
      if let type { f.append(JSONField("type", .string(type))) }
      return JSONValue.object(f).render()
    case .status: return #"{"cmd":"status"}"#
    case .reload: return #"{"cmd":"reload"}"#
    case .upgrade: return #"{"cmd":"upgrade"}"#
    case .wake: return #"{"cmd":"wake"}"#
    case .drain(let p), .resume(let p):
      var fields: [JSONField] = [JSONField("cmd", .string(self.cmdName))]
      if let p { fields.append(JSONField("pool", .string(p))) }
      return JSONValue.object(fields).render()
    case .scale(let p, let t):
      let w: JSONValue =
        switch t {
        case .auto: "auto"
        case .count(let n): .int(Int64(n))
        }
      return JSONValue.object([
        JSONField("cmd", "scale"), JSONField("pool", .string(p)), JSONField("workers", w),
      ]).render()
    case .enqueueBatch(let rs):
      return JSONValue.object([
        JSONField("cmd", "enqueue_batch"), JSONField("jobs", .array(rs.map(\.json))),
      ]).render()
    case .enqueue(let r):
      return r.json(cmd: "enqueue").render()
    }
  }

  var cmdName: String {
    switch self {
    case .status: "status"
    case .scale: "scale"
    case .drain: "drain"
    case .resume: "resume"
    case .reload: "reload"
    case .enqueue: "enqueue"
    case .enqueueBatch: "enqueue_batch"
    case .wake: "wake"
    case .jobs: "jobs"
    case .job: "job"
    case .events: "events"
    case .upgrade: "upgrade"
    }
  }
}
