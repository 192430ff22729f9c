extension ConfigLoader {
  /// A pool's `concurrency_limit = { limit, key }` and `rate = { limit, per, burst, key }`
  /// (or `rate = "100/1m"`), or nil when it has neither. Both must name the same `key`: a job
  /// has one key, which both limits count by.
  static func poolLimits(_ s: Section, pool: PoolConfig) throws(ConfigError) -> PoolLimits? {
    var limits = PoolLimits(pool: pool.name, types: pool.types)
    var keys: [(field: String?, line: Int)] = []
    if let c = try s.section("concurrency_limit", example: "{ limit = 5, key = \"account_id\" }") {
      try c.rejectUnknownKeys(["limit", "key"])
      guard let n = try c.integer("limit", in: ConfigLimits.concurrencyLimit) else {
        throw c.error("limit", line: c.line, "required: how many jobs of a key may run at once")
      }
      limits.concurrency = n.value
      keys.append((try keyField(c), c.line ?? s.line ?? 0))
    }
    if let entry = s.table.entry("rate") {
      if let text = entry.value.string {
        guard let rate = parseRate(text) else {
          throw s.error(
            "rate", line: entry.line,
            "invalid rate \(TOMLKey.basicString(text)) (use e.g. \"100/1m\", or a table "
              + "{ limit = 100, per = \"1m\", burst = 10, key = \"account_id\" })")
        }
        limits.rate = rate
        keys.append((nil, entry.line))
      } else {
        let r = try s.section(
          "rate", example: "{ limit = 100, per = \"1m\", burst = 10, key = \"account_id\" }")!
        try r.rejectUnknownKeys(["limit", "per", "burst", "key"])
        guard let n = try r.integer("limit", in: ConfigLimits.rateTokens) else {
          throw r.error("limit", line: r.line, "required: how many jobs may start per `per`")
        }
        guard let per = try r.duration("per", in: ConfigLimits.ratePer) else {
          throw r.error("per", line: r.line, "required: the period, e.g. per = \"1m\"")
        }
        let burst = try r.integer("burst", in: ConfigLimits.rateTokens)
        limits.rate = RateLimit(limit: n.value, per: per.value, burst: burst?.value ?? 1)
        keys.append((try keyField(r), r.line ?? entry.line))
      }
    }
    guard let first = keys.first else { return nil }
    if keys.count == 2, keys[0].field != keys[1].field {
      throw s.error(
        "rate", line: keys[1].line,
        "rate's key (\(keys[1].field.map(TOMLKey.basicString) ?? "none")) differs from "
          + "concurrency_limit's (\(keys[0].field.map(TOMLKey.basicString) ?? "none")): a job has "
          + "one key, so both limits must name the same payload field")
    }
    limits.keyField = first.field
    return limits
  }

  /// A limit's `key`: a payload field name, not empty.
  private static func keyField(_ s: Section) throws(ConfigError) -> String? {
    guard let k = try s.nonEmptyString("key") else { return nil }
    return k.value
  }

  /// `"100/1m"` (a count, a slash, a duration; `"5/s"` means per second), burst 1.
  static func parseRate(_ text: String) -> RateLimit? {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let n = Int(parts[0].trimmingSpaces),
      ConfigLimits.rateTokens.contains(n)
    else { return nil }
    var per = String(parts[1].trimmingSpaces)
    if let unit = per.first, unit.isLetter { per = "1" + per }
    guard let d = DurationText.parse(per), ConfigLimits.ratePer.contains(d) else { return nil }
    return RateLimit(limit: n, per: d)
  }
}

extension Substring {
  fileprivate var trimmingSpaces: Substring {
    var s = self
    while s.first == " " { s.removeFirst() }
    while s.last == " " { s.removeLast() }
    return s
  }
}
