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

/// One job to enqueue as a request: a control-socket `enqueue`, an NDJSON batch line, or an
/// HTTP body. Fields follow CONTRACT.md: `type` (required), `payload` (an object, default
/// `{}`), `priority`, `delay` or `at`, `max_attempts`, `unique_key`, `backoff`.
public struct EnqueueRequest: Sendable, Hashable {
  public var type: String
  public var payload: JSONValue
  public var priority: Int
  public var delay: Duration?
  public var at: Timestamp?
  public var maxAttempts: Int?
  public var uniqueKey: String?
  public var backoff: BackoffPolicy?
  /// A name other jobs of the same batch use in their `after` (`"ref": "a"`).
  public var ref: String?
  /// The jobs this one waits on: existing ids, or refs of the same batch (earlier or later).
  public var after: [Parent]
  /// What a dead or cancelled parent does (nil: `cancel`).
  public var onParentFailure: ParentFailurePolicy?

  /// One entry of `after`: a JSON integer names an existing job, a string a `ref` of the batch.
  public enum Parent: Sendable, Hashable {
    case id(JobID)
    case ref(String)
  }

  public init(
    type: String, payload: JSONValue = .object([]), priority: Int = 0, delay: Duration? = nil,
    at: Timestamp? = nil, maxAttempts: Int? = nil, uniqueKey: String? = nil,
    backoff: BackoffPolicy? = nil, ref: String? = nil, after: [Parent] = [],
    onParentFailure: ParentFailurePolicy? = nil
  ) {
    self.ref = ref
    self.after = after
    self.onParentFailure = onParentFailure
    self.type = type
    self.payload = payload
    self.priority = priority
    self.delay = delay
    self.at = at
    self.maxAttempts = maxAttempts
    self.uniqueKey = uniqueKey
    self.backoff = backoff
  }

  /// Why `delay` cannot be used, or nil: a delay beyond `ConfigLimits.maxScheduleAhead`
  /// (100 years) is refused rather than saturated (it is a mistake, and it must never wrap to
  /// a date in the past and run at once). The text follows the field's name in an error.
  public static func delayProblem(_ delay: Duration) -> String? {
    guard delay > ConfigLimits.maxScheduleAhead else { return nil }
    return "must be at most \(DurationText.format(ConfigLimits.maxScheduleAhead)) (100 years), "
      + "got \(DurationText.format(delay))"
  }

  /// Why `at` cannot be used at time `now`, or nil: more than
  /// `ConfigLimits.maxScheduleAhead` (100 years) ahead is refused. A time in the past is fine
  /// (the job is due at once).
  public static func atProblem(_ at: Timestamp, now: Timestamp) -> String? {
    let limit = now.adding(ConfigLimits.maxScheduleAhead)
    guard at > limit else { return nil }
    return "must be at most 100 years ahead (before \(limit.rfc3339)), got \(at.rfc3339)"
  }

  /// Reads one request object; `ignoring` names extra keys allowed (e.g. `cmd`). Errors name
  /// the offending key.
  public static func parse(
    _ v: JSONValue, ignoring: Set<String> = []
  ) throws(ControlError) -> EnqueueRequest {
    guard let fields = v.objectValue else {
      throw ControlError("expected a JSON object, got \(v.kindName)")
    }
    let known: Set<String> = [
      "type", "payload", "priority", "delay", "at", "max_attempts", "unique_key", "backoff",
      "ref", "after", "on_parent_failure",
    ]
    for f in fields where !known.contains(f.key) && !ignoring.contains(f.key) {
      throw ControlError("unknown key \"\(f.key)\"", field: f.key)
    }
    guard let type = v["type"]?.stringValue, !type.isEmpty else {
      throw ControlError("\"type\" must be a non-empty string", field: "type")
    }
    var r = EnqueueRequest(type: type)
    if let p = v["payload"], !p.isNull {
      guard p.objectValue != nil else {
        throw ControlError("\"payload\" must be a JSON object, got \(p.kindName)", field: "payload")
      }
      r.payload = p
    }
    if let p = v["priority"], !p.isNull {
      guard let n = p.intValue, let i = Int(exactly: n), ConfigLimits.priority.contains(i) else {
        throw ControlError(
          "\"priority\" must be an integer between -1000000 and 1000000", field: "priority")
      }
      r.priority = i
    }
    if let d = v["delay"], !d.isNull {
      guard let s = d.stringValue, let dur = DurationText.parse(s) else {
        throw ControlError(
          "\"delay\" must be a duration such as \"250ms\", \"30s\" or \"5m\"", field: "delay")
      }
      if let problem = delayProblem(dur) {
        throw ControlError("\"delay\" \(problem)", field: "delay")
      }
      r.delay = dur
    }
    if let a = v["at"], !a.isNull {
      guard let s = a.stringValue, let t = Timestamp.parse(s) else {
        throw ControlError(
          "\"at\" must be an RFC 3339 time such as \"2026-11-23T16:11:02Z\"", field: "at")
      }
      if let problem = atProblem(t, now: .now()) {
        throw ControlError("\"at\" \(problem)", field: "at")
      }
      r.at = t
    }
    if r.delay != nil && r.at != nil {
      throw ControlError("give \"delay\" or \"at\", not both", field: "at")
    }
    if let m = v["max_attempts"], !m.isNull {
      guard let n = m.intValue, n >= 1, n <= 1_000_000 else {
        throw ControlError(
          "\"max_attempts\" must be an integer from 1 to 1000000", field: "max_attempts")
      }
      r.maxAttempts = Int(n)
    }
    if let k = v["unique_key"], !k.isNull {
      guard let s = k.stringValue, !s.isEmpty else {
        throw ControlError("\"unique_key\" must be a non-empty string", field: "unique_key")
      }
      r.uniqueKey = s
    }
    if let b = v["backoff"], !b.isNull {
      guard let base = b["base"]?.stringValue.flatMap(DurationText.parse),
        let cap = b["cap"]?.stringValue.flatMap(DurationText.parse), base <= cap,
        ConfigLimits.backoff.contains(base), ConfigLimits.backoff.contains(cap)
      else {
        throw ControlError(
          "\"backoff\" must be {\"base\": DURATION, \"cap\": DURATION} with base ≤ cap ≤ "
            + DurationText.format(ConfigLimits.backoff.upperBound), field: "backoff")
      }
      r.backoff = BackoffPolicy(base: base, cap: cap)
    }
    if let v = v["ref"], !v.isNull {
      guard let s = v.stringValue, !s.isEmpty else {
        throw ControlError("\"ref\" must be a non-empty string", field: "ref")
      }
      r.ref = s
    }
    if let a = v["after"], !a.isNull {
      guard let items = a.arrayValue else {
        throw ControlError(
          "\"after\" must be an array of job ids and refs, e.g. [12, \"a\"]", field: "after")
      }
      for item in items {
        if let n = item.intValue {
          guard n >= 1 else {
            throw ControlError("\"after\": \(n) is not a job id", field: "after")
          }
          r.after.append(.id(n))
        } else if let s = item.stringValue, !s.isEmpty {
          r.after.append(.ref(s))
        } else {
          throw ControlError(
            "\"after\" entries must be job ids (integers) or refs (non-empty strings), got "
              + item.kindName, field: "after")
        }
      }
    }
    if let p = v["on_parent_failure"], !p.isNull {
      guard let s = p.stringValue, let policy = ParentFailurePolicy(name: s) else {
        throw ControlError(
          "\"on_parent_failure\" must be \"cancel\" or \"run\"", field: "on_parent_failure")
      }
      r.onParentFailure = policy
    }
    return r
  }

  /// Each request's `after` as store parents: ids as given, refs as positions in `requests`
  /// (earlier or later). `label` names a request in errors ("line 3", "jobs[2]").
  ///
  /// - Throws: naming the request and the ref for a ref defined twice or not defined, or the
  ///   refs of a cycle ("a → b → a").
  public static func resolveParents(
    _ requests: [EnqueueRequest], label: (Int) -> String = { "job \($0 + 1)" }
  ) throws(ControlError) -> [[JobParentRef]] {
    var position: [String: Int] = [:]
    for (i, r) in requests.enumerated() {
      guard let ref = r.ref else { continue }
      if let first = position[ref] {
        throw ControlError(
          "\(label(i)): ref \"\(ref)\" is already used by \(label(first))", field: "ref")
      }
      position[ref] = i
    }
    var out: [[JobParentRef]] = []
    out.reserveCapacity(requests.count)
    for (i, r) in requests.enumerated() {
      var parents: [JobParentRef] = []
      for p in r.after {
        switch p {
        case .id(let id): parents.append(.job(id))
        case .ref(let ref):
          guard let k = position[ref] else {
            throw ControlError(
              "\(label(i)): \"after\" names ref \"\(ref)\", which no job of the batch has",
              field: "after")
          }
          guard k != i else {
            throw ControlError("\(label(i)): it waits on itself (ref \"\(ref)\")", field: "after")
          }
          parents.append(.batch(k))
        }
      }
      out.append(parents)
    }
    let graph = out.map {
      $0.compactMap { p -> Int? in if case .batch(let k) = p { k } else { nil } }
    }
    if let cycle = DependencyHold.cycle(graph) {
      throw ControlError(
        "a dependency cycle among refs: "
          + cycle.map { requests[$0].ref ?? label($0) }.joined(separator: " → "), field: "after")
    }
    return out
  }
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

extension EnqueueRequest {
  /// The request as the JSON object `parse` reads (with `cmd` first when given).
  public var json: JSONValue { json(cmd: nil) }

  func json(cmd: String?) -> JSONValue {
    let r = self
    var f: [JSONField] = cmd.map { [JSONField("cmd", .string($0))] } ?? []
    f += [JSONField("type", .string(r.type)), JSONField("payload", r.payload)]
    if r.priority != 0 { f.append(JSONField("priority", .int(Int64(r.priority)))) }
    if let d = r.delay { f.append(JSONField("delay", .string(DurationText.format(d)))) }
    if let a = r.at { f.append(JSONField("at", .string(a.rfc3339))) }
    if let m = r.maxAttempts { f.append(JSONField("max_attempts", .int(Int64(m)))) }
    if let k = r.uniqueKey { f.append(JSONField("unique_key", .string(k))) }
    if let b = r.backoff {
      f.append(
        JSONField(
          "backoff",
          .object([
            JSONField("base", .string(DurationText.format(b.base))),
            JSONField("cap", .string(DurationText.format(b.cap))),
          ])))
    }
    if let ref = r.ref { f.append(JSONField("ref", .string(ref))) }
    if !r.after.isEmpty {
      let items: [JSONValue] = r.after.map {
        switch $0 {
        case .id(let id): .int(id)
        case .ref(let ref): .string(ref)
        }
      }
      f.append(JSONField("after", .array(items)))
    }
    if let p = r.onParentFailure { f.append(JSONField("on_parent_failure", .string(p.name))) }
    return .object(f)
  }
}
