#if canImport(Glibc)
  import Glibc
#endif

extension ConfigLoader {
  static let scheduleKeys = [
    "cron", "every", "timezone", "type", "payload", "priority", "on_gap", "on_repeat",
    "catch_up", "catch_up_limit", "overlap",
  ]

  /// Every `[schedules.NAME]`, in file order, each checked on its own.
  static func scheduleConfigs(_ s: Section?) throws(ConfigError) -> [ScheduleConfig] {
    guard let s else { return [] }
    let problems = ConfigProblems()
    var schedules: [ScheduleConfig] = []
    for entry in s.table.entries {
      let read = problems.value { () throws(ConfigError) -> ScheduleConfig? in
        guard let t = try s.section(entry.key, example: "[schedules.\(entry.key)]") else {
          return nil
        }
        return try scheduleConfig(entry.key, t)
      }
      if let config = read ?? nil { schedules.append(config) }
    }
    try problems.throwIfAny()
    return schedules
  }

  static func scheduleConfig(_ name: String, _ s: Section) throws(ConfigError) -> ScheduleConfig {
    guard isName(name) else {
      throw s.error(nil, line: s.line, "a schedule name may only use A-Z a-z 0-9 _ . : -")
    }
    let problems = ConfigProblems()
    problems.check { () throws(ConfigError) in try s.rejectUnknownKeys(scheduleKeys) }
    var when: ScheduleConfig.When?
    problems.check { () throws(ConfigError) in
      let cron = try s.string("cron")
      let every = try s.duration("every", in: ConfigLimits.scheduleEvery)
      switch (cron, every) {
      case (nil, nil):
        throw s.error(nil, line: s.line, "needs cron = \"…\" or every = \"…\"")
      case (.some(let c), .some):
        throw s.error("every", line: c.line, "give cron or every, not both")
      case (.some(let c), nil):
        do throws(CronExpression.ParseError) {
          when = .cron(try CronExpression(parsing: c.value))
        } catch {
          throw s.error("cron", line: c.line, error.message)
        }
      case (nil, .some(let e)):
        when = .every(e.value)
      }
    }
    var type: String?
    problems.check { () throws(ConfigError) in
      guard let t = try s.nonEmptyString("type") else {
        throw s.error(nil, line: s.line, "needs type = \"…\" (the job type to enqueue)")
      }
      guard isName(t.value) else {
        throw s.error("type", line: t.line, "a job type may only use A-Z a-z 0-9 _ . : -")
      }
      type = t.value
    }
    var timezone = "UTC"
    problems.check { () throws(ConfigError) in
      guard let z = try s.nonEmptyString("timezone") else { return }
      guard isZoneName(z.value) else {
        throw s.error(
          "timezone", line: z.line,
          "unknown time zone \(TOMLKey.basicString(z.value)) (an IANA name such as "
            + "\"Europe/Berlin\", from /usr/share/zoneinfo)")
      }
      timezone = z.value
    }
    var payload = JSONValue.object([])
    problems.check { () throws(ConfigError) in
      guard let entry = s.table.entry("payload") else { return }
      guard entry.value.table != nil else {
        throw s.error("payload", line: entry.line, "must be a table, e.g. payload = { to = \"x\" }")
      }
      payload = json(entry.value)
    }
    var priority = 0
    problems.check { () throws(ConfigError) in
      if let p = try s.integer("priority", in: ConfigLimits.priority) { priority = p.value }
    }
    func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ fallback: T) -> T
    where T.RawValue == String {
      problems.value { () throws(ConfigError) -> T in
        guard let v = try s.string(key) else { return fallback }
        guard let c = T(rawValue: v.value) else {
          throw s.error(
            key, line: v.line,
            "must be " + T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
              + ", got \(TOMLKey.basicString(v.value))")
        }
        return c
      } ?? fallback
    }
    let onGap = choice("on_gap", ScheduleConfig.OnGap.shift)
    let onRepeat = choice("on_repeat", ScheduleConfig.OnRepeat.first)
    let catchUp = choice("catch_up", ScheduleConfig.CatchUp.latest)
    let overlap = choice("overlap", ScheduleConfig.Overlap.allow)
    var catchUpLimit = 100
    problems.check { () throws(ConfigError) in
      if let n = try s.integer("catch_up_limit", in: ConfigLimits.catchUpLimit) {
        catchUpLimit = n.value
      }
    }
    try problems.throwIfAny()
    guard let when, let type else { throw s.error(nil, line: s.line, "incomplete schedule") }
    return ScheduleConfig(
      name: name, when: when, timezone: timezone, type: type, payload: payload,
      priority: priority, onGap: onGap, onRepeat: onRepeat, catchUp: catchUp,
      catchUpLimit: catchUpLimit, overlap: overlap)
  }

  /// Whether `name` is a zone of the system's tzdata (`UTC` always is): a regular file under
  /// /usr/share/zoneinfo, named without `..`.
  static func isZoneName(_ name: String) -> Bool {
    if name == "UTC" { return true }
    guard !name.hasPrefix("/"), !name.split(separator: "/").contains("..") else { return false }
    var st = stat()
    return stat("/usr/share/zoneinfo/" + name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
  }

  /// A TOML value as JSON (integers stay integers, floats keep their value).
  static func json(_ value: TOMLValue) -> JSONValue {
    if let s = value.string { return .string(s) }
    if let n = value.integer { return .int(n) }
    if let d = value.float { return .double(d) }
    if let b = value.boolean { return .bool(b) }
    if let a = value.array { return .array(a.map(json)) }
    if let t = value.table {
      return .object(t.entries.map { JSONField($0.key, json($0.value)) })
    }
    return .null
  }
}
