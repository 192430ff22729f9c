extension ConfigLoader {
  /// The keys a `[pools.NAME]` table may hold.
  static let poolKeys = [
    "types", "handler", "command", "min", "max", "idle_timeout", "concurrency", "timeout",
    "max_attempts", "backoff", "max_jobs", "max_rss",
  ]

  /// Every `[pools.NAME]`, in file order; at least one, and no job type in two pools.
  static func poolConfigs(_ s: Section?, file: String?, base: String) throws(ConfigError)
    -> [PoolConfig]
  {
    guard let s, !s.table.entries.isEmpty else {
      throw ConfigError(
        file: file, line: s?.line, key: "pools",
        message: "no pools defined; add a [pools.NAME] table")
    }
    var pools: [PoolConfig] = []
    // Which pool claimed each job type first, to name it when another claims it too.
    var owners: [String: String] = [:]
    for entry in s.table.entries {
      guard let pool = try s.section(entry.key, example: "[pools.\(entry.key)]") else { continue }
      let config = try poolConfig(entry.key, pool, base: base)
      let typesLine = pool.table.entry("types")?.line ?? pool.line
      for type in config.types {
        if let owner = owners[type] {
          throw pool.error(
            "types", line: typesLine,
            "job type \(TOMLKey.basicString(type)) is already run by pool "
              + TOMLKey.basicString(owner))
        }
        owners[type] = config.name
      }
      pools.append(config)
    }
    return pools
  }

  /// One `[pools.NAME]` table, with the contract's defaults for what it leaves out.
  static func poolConfig(_ name: String, _ s: Section, base: String) throws(ConfigError)
    -> PoolConfig
  {
    guard isName(name) else {
      throw s.error(
        nil, line: s.line,
        name.isEmpty
          ? "a pool name must not be empty"
          : "a pool name may only use A-Z a-z 0-9 _ . : -")
    }
    try s.rejectUnknownKeys(poolKeys)
    var pool = PoolConfig(name: name)

    if let types = try s.stringArray("types") {
      guard !types.value.isEmpty else {
        throw s.error("types", line: types.line, "must list at least one job type")
      }
      var seen: Set<String> = []
      for type in types.value {
        guard isName(type) else {
          throw s.error(
            "types", line: types.line,
            type.isEmpty
              ? "a job type must not be empty"
              : "job type \(TOMLKey.basicString(type)) may only use A-Z a-z 0-9 _ . : -")
        }
        guard seen.insert(type).inserted else {
          throw s.error(
            "types", line: types.line, "job type \(TOMLKey.basicString(type)) is listed twice")
        }
      }
      pool.types = types.value
    }

    let handler = try s.string("handler")
    if let handler {
      guard isName(handler.value) else {
        throw s.error(
          "handler", line: handler.line,
          handler.value.isEmpty
            ? "must not be empty"
            : "must be noop, sleep, fail, crash, exec or a handler's name (A-Z a-z 0-9 _ . : -),"
              + " got \(TOMLKey.basicString(handler.value))")
      }
      pool.handler = handler.value
    }
    try readCommand(s, into: &pool, handlerLine: handler?.line ?? s.line, base: base)

    let min = try s.integer("min", in: ConfigLimits.minWorkers)
    let max = try s.integer("max", in: ConfigLimits.maxWorkers)
    pool.min = min?.value ?? 1
    pool.max = max?.value ?? Swift.max(pool.min, 4)
    if let min, pool.min > pool.max {
      throw s.error("min", line: min.line, "min (\(pool.min)) is greater than max (\(pool.max))")
    }
    if let d = try s.duration("idle_timeout", in: ConfigLimits.idleTimeout) {
      pool.idleTimeout = d.value
    }
    if let n = try s.integer("concurrency", in: ConfigLimits.concurrency) {
      pool.concurrency = n.value
    }
    if let d = try s.duration("timeout", in: ConfigLimits.timeout) { pool.timeout = d.value }
    if let n = try s.integer("max_attempts", in: ConfigLimits.maxAttempts) {
      pool.maxAttempts = n.value
    }
    if let backoff = try s.section("backoff", example: "{ base = \"1s\", cap = \"1h\" }") {
      pool.backoff = try backoffPolicy(backoff)
    }
    if let n = try s.integer("max_jobs", in: ConfigLimits.maxJobs) { pool.maxJobs = n.value }
    if let size = try s.size("max_rss", in: ConfigLimits.maxRSS) { pool.maxRSS = size.value }
    return pool
  }

  /// `command`: required for `exec`, refused for any other handler. A program named with a
  /// relative path (`scripts/x.sh`) resolves against the config's folder; a bare name
  /// (`python3`) is left for a PATH search, as a shell would.
  static func readCommand(
    _ s: Section, into pool: inout PoolConfig, handlerLine: Int?, base: String
  ) throws(ConfigError) {
    let command = try s.stringArray("command")
    guard pool.handler == "exec" else {
      if let command {
        throw s.error(
          "command", line: command.line,
          "only used with handler \"exec\" (this pool's handler is "
            + "\(TOMLKey.basicString(pool.handler)))")
      }
      return
    }
    guard let command, let program = command.value.first else {
      throw s.error(
        "command", line: command?.line ?? handlerLine,
        "required when handler is \"exec\" (e.g. command = [\"/usr/bin/env\", \"my-job\"])")
    }
    try s.checkText(program, key: "command", line: command.line, what: "the program ")
    for argument in command.value.dropFirst() where argument.utf8.contains(0) {
      throw s.error("command", line: command.line, "an argument must not contain a NUL character")
    }
    pool.command = command.value
    if program.contains("/") { pool.command[0] = absolutePath(program, relativeTo: base) }
  }

  /// `backoff = { base = "1s", cap = "1h" }`; either key may be left out.
  static func backoffPolicy(_ s: Section) throws(ConfigError) -> BackoffPolicy {
    try s.rejectUnknownKeys(["base", "cap"])
    var policy = BackoffPolicy.standard
    let base = try s.duration("base", in: ConfigLimits.backoff)
    let cap = try s.duration("cap", in: ConfigLimits.backoff)
    if let base { policy.base = base.value }
    if let cap { policy.cap = cap.value }
    if policy.base > policy.cap {
      throw s.error(
        cap == nil ? "base" : "cap", line: cap?.line ?? base?.line ?? s.line,
        "base (\(DurationText.format(policy.base))) is greater than cap "
          + "(\(DurationText.format(policy.cap)))")
    }
    return policy
  }

  /// Pool names and job types: not empty, and only `A-Z a-z 0-9 _ . : -`, so they can be used
  /// in metrics labels, log fields and command lines without quoting.
  static func isName(_ text: String) -> Bool {
    !text.isEmpty
      && text.utf8.allSatisfy { c in
        TOMLKey.isBareKeyByte(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: ":")
      }
  }
}
