public import DroverCore

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
  /// The key its pool's limits count it under (`limit_key`; CLI `--key`), instead of the
  /// payload field the pool names.
  public var limitKey: String?
  /// A W3C trace context (`traceparent`): the job keeps it, its handler sees it, and with
  /// `[tracing]` its attempts are exported as spans of that trace.
  public var traceparent: String?

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
      "ref", "after", "on_parent_failure", "limit_key", "traceparent",
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
    if let k = v["limit_key"], !k.isNull {
      guard let s = k.stringValue else {
        throw ControlError("\"limit_key\" must be a string", field: "limit_key")
      }
      r.limitKey = s
    }
    if let t = v["traceparent"], !t.isNull {
      guard let s = t.stringValue, TraceParent(s) != nil else {
        throw ControlError(TraceParent.problem, field: "traceparent")
      }
      r.traceparent = s
    }
    return r
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
    if let k = r.limitKey { f.append(JSONField("limit_key", .string(k))) }
    if let t = r.traceparent { f.append(JSONField("traceparent", .string(t))) }
    return .object(f)
  }
}
