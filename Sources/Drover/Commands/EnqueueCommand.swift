import ArgumentParser
import DroverCore
import DroverStore
import DroverSupervisor
import DroverWire

#if canImport(Glibc)
  import Glibc
#endif

/// `drover enqueue TYPE [JSON] …` and `drover enqueue --batch FILE|-`.
struct EnqueueCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "enqueue",
    abstract: "Add a job, or a batch of jobs, to the store.",
    discussion: """
      Prints the new job's id alone on stdout (with --batch: the number of jobs, new and \
      existing). A unique key that a live (scheduled, queued or running) job already holds \
      is not an error: that job's id is printed and stderr says so. A type that no pool runs \
      is accepted with a warning. A running supervisor is woken to pick the jobs up at once; \
      none need be running.

      A --batch file holds one JSON object per line (blank lines are skipped):
        {"type": "t", "payload": {…}, "priority": 0, "delay": "5s" | "at": "<RFC 3339>",
         "max_attempts": 5, "unique_key": "k", "backoff": {"base": "1s", "cap": "1m"}}
      Only "type" is required. One bad line fails the whole batch (the error names the line) \
      and nothing is enqueued; otherwise every line goes in in one transaction.

      Dependencies: with --after ID,… the job stays waiting until every parent completes; a \
      dead or cancelled parent cancels it (--on-parent-failure cancel, the default) or lets \
      it run once no parent is unfinished (run). Batch lines may carry "ref": "a" and \
      "after": [12, "a"] (integers: existing jobs; strings: refs of lines before or after), \
      and "on_parent_failure"; unknown parents, unknown refs and cycles are refused.

      Exit status: 0 on success, 1 on a runtime error (config, store, bad batch line), 64 on \
      a bad argument.
      """)

  @OptionGroup var options: ConfigOptions

  @Argument(help: "The job type.")
  var type: String?

  @Argument(help: ArgumentHelp("The payload: a JSON object (default {}).", valueName: "json"))
  var json: String?

  @Option(parsing: .unconditional, help: "Higher runs first (default 0; may be negative).")
  var priority: Int?

  @Option(help: ArgumentHelp("Run after this long, e.g. 30s, 5m, 1h.", valueName: "dur"))
  var delay: String?

  @Option(
    help: ArgumentHelp("Run at this time (RFC 3339, e.g. 2026-11-23T16:11:02Z).", valueName: "time")
  )
  var at: String?

  @Option(help: "The attempt budget (default: the pool's max_attempts, else 20).")
  var maxAttempts: Int?

  @Option(help: "An idempotency key: a live job holding it is returned instead of a new one.")
  var uniqueKey: String?

  @Option(
    help: ArgumentHelp(
      "Wait until these jobs complete (comma-separated ids): the job stays waiting till then.",
      valueName: "id,…"))
  var after: String?

  @Option(
    help: ArgumentHelp(
      "What a dead or cancelled parent does: cancel this job (default) or run it anyway.",
      valueName: "cancel|run"))
  var onParentFailure: String?

  @Option(
    help: ArgumentHelp(
      "The key its pool's concurrency_limit and rate count it under (instead of the payload "
        + "field the pool names).", valueName: "key"))
  var key: String?

  @Option(
    help: ArgumentHelp(
      "A W3C trace context (00-<trace id>-<span id>-<flags>) the job's attempts join; "
        + "default: $TRACEPARENT when set.", valueName: "traceparent"))
  var traceparent: String?

  @Option(
    help: ArgumentHelp("Read NDJSON jobs from this file, or from stdin for -.", valueName: "file"))
  var batch: String?

  func run() throws {
    try Self.checkArgumentsAreUTF8()
    if let batch {
      try runBatch(batch)
    } else {
      try runSingle()
    }
  }

  /// Swift repairs invalid UTF-8 in `CommandLine.arguments` to U+FFFD, which would change a
  /// payload silently; the raw `argv` bytes are checked instead, and such an argument refused.
  static func checkArgumentsAreUTF8() throws(CLIError) {
    for n in 1..<Int(CommandLine.argc) {
      guard let raw = CommandLine.unsafeArgv[n] else { continue }
      let bytes = UnsafeBufferPointer(start: raw, count: strlen(raw))
      let valid = bytes.withMemoryRebound(to: UInt8.self) {
        String(validating: $0, as: UTF8.self) != nil
      }
      if !valid { throw .usage("argument \(n) is not valid UTF-8") }
    }
  }

  /// Flags and arguments into a request; every problem here is a usage error. The bounds are
  /// those `EnqueueRequest.parse` applies to batch lines and control-socket requests.
  private func request() throws(CLIError) -> EnqueueRequest {
    guard let type else { throw .usage("missing TYPE (or --batch FILE)") }
    guard !type.isEmpty else { throw .usage("the job type must not be empty") }
    var r = EnqueueRequest(type: type)
    if let json {
      let value: JSONValue
      do {
        value = try JSONValue.parse(json)
      } catch {
        throw .usage("the payload is not valid JSON: \(error.description)")
      }
      guard case .object = value else {
        throw .usage("the payload must be a JSON object, not \(value.kindName)")
      }
      r.payload = value
    }
    if let priority {
      guard abs(priority) <= 1_000_000 else {
        throw .usage("--priority must be between -1000000 and 1000000, not \(priority)")
      }
      r.priority = priority
    }
    switch (delay, at) {
    case (.some, .some): throw .usage("--delay and --at exclude each other")
    case (let d?, nil):
      guard let duration = DurationText.parse(d) else {
        throw .usage("--delay: \"\(d)\" is not a duration (e.g. 250ms, 30s, 5m, 1h, 7d)")
      }
      if let problem = EnqueueRequest.delayProblem(duration) { throw .usage("--delay \(problem)") }
      r.delay = duration
    case (nil, let a?):
      guard let t = Timestamp.parse(a) else {
        throw .usage("--at: \"\(a)\" is not an RFC 3339 time (e.g. 2026-11-23T16:11:02Z)")
      }
      if let problem = EnqueueRequest.atProblem(t, now: .now()) { throw .usage("--at \(problem)") }
      r.at = t
    case (nil, nil): break
    }
    if let maxAttempts {
      guard (1...1_000_000).contains(maxAttempts) else {
        throw .usage("--max-attempts must be from 1 to 1000000, not \(maxAttempts)")
      }
      r.maxAttempts = maxAttempts
    }
    if let uniqueKey {
      guard !uniqueKey.isEmpty else { throw .usage("--unique-key must not be empty") }
      r.uniqueKey = uniqueKey
    }
    if let after {
      for part in after.split(separator: ",", omittingEmptySubsequences: false) {
        let text = String(part.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
        guard let id = JobID(text), id >= 1 else {
          throw .usage("--after: \"\(text)\" is not a job id (give ids such as --after 12,13)")
        }
        if !r.after.contains(.id(id)) { r.after.append(.id(id)) }
      }
    }
    if let onParentFailure {
      guard let p = ParentFailurePolicy(name: onParentFailure) else {
        throw .usage("--on-parent-failure must be cancel or run, not \"\(onParentFailure)\"")
      }
      guard after != nil else { throw .usage("--on-parent-failure needs --after") }
      r.onParentFailure = p
    }
    if let key {
      guard key.utf8.count <= 1024 else { throw .usage("--key must be at most 1024 bytes") }
      r.limitKey = key
    }
    let fromEnvironment = getenv("TRACEPARENT").map { String(cString: $0) }
    if let t = traceparent ?? fromEnvironment, !t.isEmpty {
      guard TraceParent(t) != nil else {
        throw .usage(
          (traceparent == nil ? "$TRACEPARENT: " : "--traceparent: ") + TraceParent.problem)
      }
      r.traceparent = t
    }
    return r
  }

  private func runSingle() throws(CLIError) {
    let request = try request()
    let config = try options.load()
    let context = try CommandContext(config: config)
    warnIfNoPool(for: [request.type], config: config)
    let params = request.params(now: .now(), config: config)
    let result = try context.run { store throws(StoreError) in try store.enqueue([params]) }
    guard let first = result.first else { throw CLIError("the store returned no job id") }
    if first.existed {
      Output.note("job \(first.id) with unique key \(request.uniqueKey ?? "") already exists")
    } else {
      context.nudgeSupervisor()
    }
    Output.out(String(first.id))
  }

  private func runBatch(_ path: String) throws(CLIError) {
    if type != nil || json != nil || priority != nil || delay != nil || at != nil
      || maxAttempts != nil || uniqueKey != nil || after != nil || onParentFailure != nil
      || key != nil || traceparent != nil
    {
      throw .usage("--batch takes no TYPE, JSON or job flags: put them on the batch lines")
    }
    let config = try options.load()
    let bytes = try FileInput.readAll(path, maxLine: config.store.maxPayload + (64 << 10))
    let name = path == "-" ? "stdin" : path
    let now = Timestamp.now()
    var requests: [EnqueueRequest] = []
    var lineNumbers: [Int] = []
    var types: [String] = []
    var seenTypes = Set<String>()
    for line in FileInput.lines(bytes) {
      func fail(_ message: String) -> CLIError {
        CLIError("line \(line.number) of \(name): \(message); nothing was enqueued")
      }
      guard let text = String(validating: line.text, as: UTF8.self) else {
        throw fail("not valid UTF-8")
      }
      let request: EnqueueRequest
      do {
        request = try EnqueueRequest.parse(JSONValue.parse(text))
      } catch let error as JSONError {
        throw fail(error.description)
      } catch {
        throw fail(String(describing: error))
      }
      if seenTypes.insert(request.type).inserted { types.append(request.type) }
      requests.append(request)
      lineNumbers.append(line.number)
    }
    // Refs name lines of this file, before or after: resolved once every line is read.
    let parents: [[JobParentRef]]
    do {
      parents = try EnqueueRequest.resolveParents(requests, label: { "line \(lineNumbers[$0])" })
    } catch {
      throw CLIError("\(name): \(error.message); nothing was enqueued")
    }
    var params: [EnqueueParams] = []
    params.reserveCapacity(requests.count)
    for (i, request) in requests.enumerated() {
      let p = request.params(now: now, config: config, parents: parents[i])
      do throws(StoreError) { try p.validate() } catch {
        throw CLIError(
          "line \(lineNumbers[i]) of \(name): \(error.description); nothing was enqueued")
      }
      params.append(p)
    }
    let context = try CommandContext(config: config)
    warnIfNoPool(for: types, config: config)
    var existed = 0
    if !params.isEmpty {
      let results = try context.run { store throws(StoreError) in try store.enqueue(params) }
      existed = results.count(where: \.existed)
      if existed < results.count { context.nudgeSupervisor() }
    }
    if existed > 0 {
      Output.note(
        "\(existed) of \(params.count) jobs already existed (a live job held their unique key)")
    }
    Output.out(String(params.count))
  }

  /// A warning on stderr for each type no pool runs (a reload may add its pool).
  private func warnIfNoPool(for types: [String], config: DroverConfig) {
    let orphans = types.filter { config.pool(forType: $0) == nil }
    for t in orphans.prefix(10) {
      Output.warn("no pool runs job type \"\(t)\"; its jobs wait until one does")
    }
    if orphans.count > 10 { Output.warn("… and \(orphans.count - 10) more types without a pool") }
  }
}
