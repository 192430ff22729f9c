public import DroverCore

/// A subscriber to a running supervisor's lifecycle events (`{"cmd":"events"}` on the control
/// socket): the probe tests wait on instead of sleeping or grepping logs.
public final class EventProbe {
  let socket: ControlSocket
  /// Every event read so far, oldest first.
  public private(set) var seen: [JSONValue] = []
  /// How many history events the supervisor replayed first.
  public let replayed: Int

  init(socketPath: String, type: String?, replay: Bool) throws {
    socket = try ControlSocket(path: socketPath)
    var request = #"{"cmd":"events","replay":\#(replay)"#
    if let type { request += #","type":"\#(type)""# }
    try socket.send(request + "}\n")
    guard let line = try socket.readLine(), let greeting = try? JSONValue.parse(line),
      greeting["ok"]?.boolValue == true
    else { throw HarnessError("the supervisor refused the event subscription") }
    replayed = Int(greeting["replayed"]?.intValue ?? 0)
  }

  /// The next event, or nil at end of stream; throws after `timeout`.
  public func next(timeout: Duration = .seconds(20)) throws -> JSONValue? {
    guard let line = try socket.readLine(timeout: timeout) else { return nil }
    let v = try JSONValue.parse(line)
    seen.append(v)
    return v
  }

  /// Reads events until one matches (already seen ones count too); throws after `timeout`
  /// naming `what` and the last events read.
  @discardableResult
  public func waitFor(
    _ what: String, timeout: Duration = .seconds(30), _ match: (JSONValue) -> Bool
  ) throws -> JSONValue {
    if let e = seen.first(where: match) { return e }
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      let left = deadline - ContinuousClock.now
      guard let e = try? next(timeout: left) else { break }
      if match(e) { return e }
    }
    let tail = seen.suffix(10).map { $0.render() }.joined(separator: "\n")
    throw HarnessError("no event \(what) within \(timeout); last events:\n\(tail)")
  }

  /// Reads whatever arrives until the stream is quiet for `quiet`; returns everything seen.
  @discardableResult
  public func drain(quiet: Duration = .milliseconds(300)) -> [JSONValue] {
    while (try? next(timeout: quiet)) ?? nil != nil {}
    return seen
  }

  /// Seen events named `name` that match `match`.
  public func count(_ name: String, where match: (JSONValue) -> Bool = { _ in true }) -> Int {
    seen.filter { $0["event"]?.stringValue == name && match($0) }.count
  }

  /// Waits for the event named `name` (e.g. `job_completed`) about job `id`, if given.
  @discardableResult
  public func waitFor(_ name: String, job id: JobID? = nil, timeout: Duration = .seconds(30))
    throws -> JSONValue
  {
    try waitFor("\(name)\(id.map { " for job \($0)" } ?? "")", timeout: timeout) {
      $0["event"]?.stringValue == name && (id == nil || $0["id"]?.intValue == id)
    }
  }
}

extension SupervisorHarness {
  /// Subscribes to the running supervisor's events (of one job type, if given); `replay`
  /// starts with its recent history.
  public func events(type: String? = nil, replay: Bool = false) throws -> EventProbe {
    try EventProbe(socketPath: socketPath, type: type, replay: replay)
  }
}
