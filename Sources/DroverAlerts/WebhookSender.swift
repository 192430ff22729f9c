import AsyncHTTPClient
import Crypto
import DroverCore
import DroverSystem
public import Logging

/// Delivers alert bodies to webhooks: a JSON POST to each URL, signed with HMAC-SHA256 of the
/// body (hex, `X-Drover-Signature`) when there is a secret, retried with exponential backoff on
/// a connection error or a non-2xx answer.
///
/// Each URL has its own thread and its own queue bounded in memory: `send` only appends (a
/// lock held for an append) and never waits on the network, so a slow or dead webhook delays
/// nothing but its own deliveries. A full queue drops its oldest body; drops are counted and
/// logged.
public final class WebhookSender: Sendable {
  /// How hard the sender tries.
  public struct Options: Sendable {
    /// Bodies waiting per webhook before the oldest is dropped.
    public var capacity = 1000
    /// Tries per body before it is given up (logged).
    public var maxAttempts = 8
    /// The wait after the first failed try; doubled after each, up to `maxDelay`.
    public var baseDelay: Duration = .milliseconds(250)
    /// The longest wait between two tries.
    public var maxDelay: Duration = .seconds(30)
    /// Per try: connect and whole-response limit.
    public var connectTimeout: Duration = .seconds(3)
    /// The longest a try may wait for an answer.
    public var requestTimeout: Duration = .seconds(10)
    /// The production settings.
    public init() {}
  }

  /// Counters of one sender, for logs and tests.
  public struct Counts: Sendable, Hashable {
    /// Bodies a webhook answered 2xx to.
    public var delivered = 0
    /// Bodies dropped from a full queue.
    public var dropped = 0
    /// Tries after a failed one.
    public var retries = 0
    /// Bodies given up after `maxAttempts` tries.
    public var givenUp = 0
  }

  let urls: [String]
  let secret: String?
  let options: Options
  let logger: Logger
  let client: HTTPClient
  private let monitor = Monitor()
  // Guarded by `monitor`: one queue per URL, the counters, and whether `stop` was called.
  nonisolated(unsafe) private var queues: [AlertQueue<String>]
  nonisolated(unsafe) private var tally = Counts()
  nonisolated(unsafe) private var stopped = false
  nonisolated(unsafe) private var running = 0
  nonisolated(unsafe) private var lastDropLog: Int64?

  /// A sender for `urls` (started by `start`; it must be stopped before it goes away).
  public init(urls: [String], secret: String?, options: Options = .init(), logger: Logger) {
    self.urls = urls
    self.secret = secret
    self.options = options
    self.logger = logger
    queues = urls.map { _ in AlertQueue(capacity: options.capacity) }
    var config = HTTPClient.Configuration()
    config.timeout = .init(
      connect: .nanoseconds(options.connectTimeout.saturatingNanoseconds),
      read: .nanoseconds(options.requestTimeout.saturatingNanoseconds))
    config.redirectConfiguration = .disallow
    client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
  }

  /// Starts one delivery thread per URL.
  public func start() {
    for index in urls.indices {
      monitor.locked { running += 1 }
      startThread { [self] in deliver(index) }
    }
  }

  /// Queues `body` for every webhook; never blocks on the network.
  public func send(_ body: String) {
    let report: Int? = monitor.locked {
      guard !stopped else { return nil }
      var droppedNow = 0
      for i in queues.indices where queues[i].push(body) { droppedNow += 1 }
      tally.dropped += droppedNow
      monitor.broadcast()
      // The first drop, then at most one line per 10 s: a dead webhook must not flood the log.
      let now = Monotonic.nanoseconds()
      guard droppedNow > 0, lastDropLog.map({ now - $0 >= 10_000_000_000 }) ?? true else {
        return nil
      }
      lastDropLog = now
      return tally.dropped
    }
    if let total = report {
      logger.warning(
        "alerts: webhook queue full, dropped the oldest alert (\(total) dropped so far)")
    }
  }

  /// The counters so far.
  public var counts: Counts { monitor.locked { tally } }

  /// Stops: bodies still queued get until `grace` to go out, then the threads end (a try under
  /// way ends at its timeout). Calling it again is harmless.
  public func stop(grace: Duration = .seconds(2)) {
    let deadline = Monotonic.nanoseconds() + grace.saturatingNanoseconds
    monitor.locked {
      while queues.contains(where: { !$0.isEmpty }) && Monotonic.nanoseconds() < deadline {
        monitor.wait(untilNS: min(deadline, Monotonic.nanoseconds() + 50_000_000))
      }
      stopped = true
      monitor.broadcast()
      while running > 0 && Monotonic.nanoseconds() < deadline + 1_000_000_000 {
        monitor.wait(untilNS: deadline + 1_000_000_000)
      }
    }
    try? client.syncShutdown()
  }

  /// The hex HMAC-SHA256 of `body` keyed with `secret`.
  public static func signature(of body: String, secret: String) -> String {
    let mac = HMAC<SHA256>.authenticationCode(
      for: Array(body.utf8), using: SymmetricKey(data: Array(secret.utf8)))
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in mac {
      out.append(digits[Int(byte >> 4)])
      out.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
  }

  // MARK: Delivery thread

  private func deliver(_ index: Int) {
    defer {
      monitor.locked {
        running -= 1
        monitor.broadcast()
      }
    }
    while let body = next(index) {
      var attempt = 1
      while true {
        let outcome = post(body, to: urls[index])
        if outcome == nil {
          monitor.locked {
            tally.delivered += 1
            monitor.broadcast()
          }
          break
        }
        if attempt >= options.maxAttempts {
          monitor.locked { tally.givenUp += 1 }
          logger.error(
            "alerts: gave up on \(urls[index]) after \(attempt) tries: \(outcome ?? "")")
          break
        }
        let delay = backoff(after: attempt)
        logger.warning(
          "alerts: \(urls[index]) failed (\(outcome ?? "")), try \(attempt + 1) in \(DurationText.format(delay))"
        )
        monitor.locked { tally.retries += 1 }
        if !pause(delay) { return }
        attempt += 1
      }
    }
  }

  /// The next body for webhook `index`, waiting for one; nil once stopped.
  private func next(_ index: Int) -> String? {
    monitor.locked {
      while queues[index].isEmpty && !stopped { monitor.wait() }
      if stopped { return nil }
      let body = queues[index].pop()
      monitor.broadcast()
      return body
    }
  }

  /// Sleeps `d` unless stopped first; false when stopped.
  private func pause(_ d: Duration) -> Bool {
    let deadline = Monotonic.nanoseconds() + d.saturatingNanoseconds
    return monitor.locked {
      while !stopped && Monotonic.nanoseconds() < deadline { monitor.wait(untilNS: deadline) }
      return !stopped
    }
  }

  /// `baseDelay · 2^(attempt-1)`, at most `maxDelay`.
  func backoff(after attempt: Int) -> Duration {
    var d = options.baseDelay
    for _ in 1..<max(1, min(attempt, 40)) {
      d = d * 2
      if d >= options.maxDelay { return options.maxDelay }
    }
    return min(d, options.maxDelay)
  }

  /// One try: nil when the webhook answered 2xx, else what went wrong.
  private func post(_ body: String, to url: String) -> String? {
    do {
      let request = try HTTPClient.Request(url: url, method: .POST)
      var r = request
      r.headers.add(name: "Content-Type", value: "application/json")
      r.headers.add(name: "User-Agent", value: "drover/\(DroverVersion.current)")
      if let secret {
        r.headers.add(name: "X-Drover-Signature", value: Self.signature(of: body, secret: secret))
      }
      r.body = .string(body)
      // The read timeout bounds a try: a webhook that stops answering fails it.
      let response = try client.execute(request: r).wait()
      let code = Int(response.status.code)
      return (200..<300).contains(code) ? nil : "HTTP \(code)"
    } catch {
      return "\(error)"
    }
  }
}
