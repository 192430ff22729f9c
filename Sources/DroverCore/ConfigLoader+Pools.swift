#if canImport(Glibc)
  import Glibc
#endif

extension ConfigLoader {
  /// The keys a `[pools.NAME]` table may hold.
  static let poolKeys = [
    "types", "handler", "command", "min", "max", "idle_timeout", "concurrency", "timeout",
    "max_attempts", "backoff", "max_jobs", "max_rss", "max_snoozes",
    "concurrency_limit", "rate",
  ]

  /// Every `[pools.NAME]`, in file order; at least one, and no job type in two pools.
  static func poolConfigs(
    _ s: Section?, file: String?, base: String, knownHandlers: Set<String>? = nil
  ) throws(ConfigError) -> [PoolConfig] {
    guard let s, !s.table.entries.isEmpty else {
      throw ConfigError(
        file: file, line: s?.line, key: "pools",
        message: "no pools defined; add a [pools.NAME] table")
    }
    var pools: [PoolConfig] = []
    // Which pool claimed each job type first, to name it when another claims it too.
    var owners: [String: String] = [:]
    // Each pool is checked even after another failed.
    let problems = ConfigProblems()
    for entry in s.table.entries {
      let read = problems.value { () throws(ConfigError) -> (Section, PoolConfig)? in
        guard let pool = try s.section(entry.key, example: "[pools.\(entry.key)]") else {
          return nil
        }
        return (pool, try poolConfig(entry.key, pool, base: base, knownHandlers: knownHandlers))
      }
      guard let (pool, config) = read ?? nil else { continue }
      let typesLine = pool.table.entry("types")?.line ?? pool.line
      for type in config.types {
        if let owner = owners[type] {
          problems.record(
            pool.error(
              "types", line: typesLine,
              "job type \(TOMLKey.basicString(type)) is already run by pool "
                + TOMLKey.basicString(owner)))
        }
        owners[type] = owners[type] ?? config.name
      }
      pools.append(config)
    }
    try problems.throwIfAny()
    return pools
  }

  /// One `[pools.NAME]` table, with the contract's defaults for what it leaves out.
  static func poolConfig(
    _ name: String, _ s: Section, base: String, knownHandlers: Set<String>? = nil
  ) throws(ConfigError) -> PoolConfig {
    guard isName(name) else {
      throw s.error(
        nil, line: s.line,
        name.isEmpty
          ? "a pool name must not be empty"
          : "a pool name may only use A-Z a-z 0-9 _ . : -")
    }
    // Each key is checked even after another failed: all of a pool's problems at once.
    let problems = ConfigProblems()
    problems.check { () throws(ConfigError) in try s.rejectUnknownKeys(poolKeys) }
    var pool = PoolConfig(name: name)

    problems.check { () throws(ConfigError) in
      guard let types = try s.stringArray("types") else { return }
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

    var handlerLine = s.line
    problems.check { () throws(ConfigError) in
      guard let handler = try s.string("handler") else { return }
      handlerLine = handler.line
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
    if let known = knownHandlers, !known.contains(pool.handler) {
      let names = known.sorted()
      var message =
        "no handler is registered as \(TOMLKey.basicString(pool.handler)) "
        + "(known: \(names.joined(separator: ", ")))"
      if let near = nearest(pool.handler, among: names) {
        message += "; did you mean \(TOMLKey.basicString(near))?"
      }
      problems.record(s.error("handler", line: handlerLine, message))
    }
    problems.check { () throws(ConfigError) in
      try readCommand(
        s, into: &pool, handlerLine: handlerLine, base: base, checkProgram: knownHandlers != nil)
    }

    problems.check { () throws(ConfigError) in
      let min = try s.integer("min", in: ConfigLimits.minWorkers)
      let max = try s.integer("max", in: ConfigLimits.maxWorkers)
      pool.min = min?.value ?? 1
      pool.max = max?.value ?? Swift.max(pool.min, 4)
      if let min, pool.min > pool.max {
        throw s.error("min", line: min.line, "min (\(pool.min)) is greater than max (\(pool.max))")
      }
    }
    problems.check { () throws(ConfigError) in
      if let d = try s.duration("idle_timeout", in: ConfigLimits.idleTimeout) {
        pool.idleTimeout = d.value
      }
    }
    problems.check { () throws(ConfigError) in
      if let n = try s.integer("concurrency", in: ConfigLimits.concurrency) {
        pool.concurrency = n.value
      }
    }
    problems.check { () throws(ConfigError) in
      if let d = try s.duration("timeout", in: ConfigLimits.timeout) { pool.timeout = d.value }
    }
    problems.check { () throws(ConfigError) in
      if let n = try s.integer("max_attempts", in: ConfigLimits.maxAttempts) {
        pool.maxAttempts = n.value
      }
    }
    problems.check { () throws(ConfigError) in
      if let n = try s.integer("max_snoozes", in: ConfigLimits.maxSnoozes) {
        pool.maxSnoozes = n.value
      }
    }
    problems.check { () throws(ConfigError) in
      if let backoff = try s.section("backoff", example: "{ base = \"1s\", cap = \"1h\" }") {
        pool.backoff = try backoffPolicy(backoff)
      }
    }
    problems.check { () throws(ConfigError) in
      if let n = try s.integer("max_jobs", in: ConfigLimits.maxJobs) { pool.maxJobs = n.value }
    }
    problems.check { () throws(ConfigError) in
      if let size = try s.size("max_rss", in: ConfigLimits.maxRSS) { pool.maxRSS = size.value }
    }
    problems.check { () throws(ConfigError) in pool.limits = try poolLimits(s, pool: pool) }
    try problems.throwIfAny()
    return pool
  }

  /// `command`: required for `exec`, refused for any other handler. A program named with a
  /// relative path (`scripts/x.sh`) resolves against the config's folder; a bare name
  /// (`python3`) is left for a PATH search, as a shell would.
  ///
  /// With `checkProgram` (a load for this host), the program must exist and be executable.
  static func readCommand(
    _ s: Section, into pool: inout PoolConfig, handlerLine: Int?, base: String,
    checkProgram: Bool = false
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
    if checkProgram, let problem = programProblem(pool.command[0]) {
      throw s.error("command", line: command.line, problem)
    }
  }

  /// Why `program` cannot be run, or nil when it can: a path must name an executable regular
  /// file; a bare name must be found so on `$PATH` (as the supervisor's `posix_spawnp` would).
  /// Checked at load so that a typo is a config error, not a pool that only ever crash-loops.
  static func programProblem(_ program: String) -> String? {
    func check(_ path: String) -> String? {
      var st = stat()
      guard stat(path, &st) == 0 else {
        return "\(path): \(String(cString: strerror(errno)))"
      }
      guard (st.st_mode & S_IFMT) == S_IFREG else { return "\(path) is not a regular file" }
      guard access(path, X_OK) == 0 else { return "\(path) is not executable" }
      return nil
    }
    if program.contains("/") { return check(program) }
    let search = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in search.split(separator: ":") where !dir.isEmpty {
      if check(dir + "/" + program) == nil { return nil }
    }
    return "\(TOMLKey.basicString(program)) is not an executable found on PATH (\(search))"
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
