import DroverCore
import DroverSystem
public import Logging

/// What one try of a delivery came to.
public enum DeliveryOutcome: Sendable, Equatable {
  /// The destination took it.
  case delivered
  /// A failure worth another try (a connection error, a 5xx, a 429, a 4xx SMTP reply).
  case retry(String)
  /// A failure no retry can mend (the destination refused the message itself): given up now.
  case reject(String)
}

/// One place an outbox delivers to: its name (in logs) and one try of one body.
public struct AlertDestination: Sendable {
  /// The URL or `slack`, `pagerduty`, `email`: what log lines name.
  public var name: String
  /// One try: blocking, bounded by the destination's own timeouts.
  public var deliver: @Sendable (String) -> DeliveryOutcome
  /// A destination called `name` that tries a body with `deliver`.
  public init(name: String, deliver: @escaping @Sendable (String) -> DeliveryOutcome) {
    self.name = name
    self.deliver = deliver
  }
}

/// The queue and retry machinery of every alert channel: each destination has its own thread
/// and its own queue bounded in memory. `send` only appends (a lock held for an append) and
/// never waits on the network, so a slow or dead destination delays nothing but its own
/// deliveries. A full queue drops its oldest body; drops are counted and logged. A failed try
/// is retried with exponential backoff up to `maxAttempts`; a rejected one is given up at once.
public final class AlertOutbox: Sendable {
  /// How hard the outbox tries.
  public struct Options: Sendable {
    /// Bodies waiting per destination before the oldest is dropped.
    public var capacity = 1000
    /// Tries per body before it is given up (logged).
    public var maxAttempts = 8
    /// The wait after the first failed try; doubled after each, up to `maxDelay`.
    public var baseDelay: Duration = .milliseconds(250)
    /// The longest wait between two tries.
    public var maxDelay: Duration = .seconds(30)
    /// Per try: connect limit (HTTP channels).
    public var connectTimeout: Duration = .seconds(3)
    /// The longest an HTTP try may wait for an answer.
    public var requestTimeout: Duration = .seconds(10)
    /// The production settings.
    public init() {}
  }

  /// Counters of one outbox, for logs and tests.
  public struct Counts: Sendable, Hashable {
    /// Bodies a destination took.
    public var delivered = 0
    /// Bodies dropped from a full queue.
    public var dropped = 0
    /// Tries after a failed one.
    public var retries = 0
    /// Bodies given up: after `maxAttempts` tries, or rejected.
    public var givenUp = 0
  }

  let label: String
  let destinations: [AlertDestination]
  let options: Options
  let logger: Logger
  private let monitor = Monitor()
  // Guarded by `monitor`: one queue per destination, the counters, and whether stopped.
  nonisolated(unsafe) private var queues: [AlertQueue<String>]
  nonisolated(unsafe) private var tally = Counts()
  nonisolated(unsafe) private var stopped = false
  nonisolated(unsafe) private var running = 0
  nonisolated(unsafe) private var lastDropLog: Int64?

  /// An outbox for `destinations`, `label` naming them in logs (`webhook`, `slack`, …).
  /// Started by `start`; it must be stopped before it goes away.
  public init(
    label: String, destinations: [AlertDestination], options: Options = .init(), logger: Logger
  ) {
    self.label = label
    self.destinations = destinations
    self.options = options
    self.logger = logger
    queues = destinations.map { _ in AlertQueue(capacity: options.capacity) }
  }

  /// Starts one delivery thread per destination.
  public func start() {
    for index in destinations.indices {
      monitor.locked { running += 1 }
      startThread { [self] in deliver(index) }
    }
  }

  /// Queues `body` for every destination; never blocks on the network.
  public func send(_ body: String) {
    let report: Int? = monitor.locked {
      guard !stopped else { return nil }
      var droppedNow = 0
      for i in queues.indices where queues[i].push(body) { droppedNow += 1 }
      tally.dropped += droppedNow
      monitor.broadcast()
      // The first drop, then at most one line per 10 s: a dead destination must not flood
      // the log.
      let now = Monotonic.nanoseconds()
      guard droppedNow > 0, lastDropLog.map({ now - $0 >= 10_000_000_000 }) ?? true else {
        return nil
      }
      lastDropLog = now
      return tally.dropped
    }
    if let total = report {
      logger.warning(
        "alerts: \(label) queue full, dropped the oldest alert (\(total) dropped so far)")
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

  // MARK: Delivery thread

  private func deliver(_ index: Int) {
    defer {
      monitor.locked {
        running -= 1
        monitor.broadcast()
      }
    }
    let destination = destinations[index]
    while let body = next(index) {
      var attempt = 1
      while true {
        switch destination.deliver(body) {
        case .delivered:
          monitor.locked {
            tally.delivered += 1
            monitor.broadcast()
          }
        case .reject(let why):
          monitor.locked { tally.givenUp += 1 }
          logger.error("alerts: \(destination.name) refused an alert, not retried: \(why)")
        case .retry(let failure):
          if attempt >= options.maxAttempts {
            monitor.locked { tally.givenUp += 1 }
            logger.error(
              "alerts: gave up on \(destination.name) after \(attempt) tries: \(failure)")
            break
          }
          let delay = backoff(after: attempt)
          logger.warning(
            "alerts: \(destination.name) failed (\(failure)), try \(attempt + 1) in \(DurationText.format(delay))"
          )
          monitor.locked { tally.retries += 1 }
          if !pause(delay) { return }
          attempt += 1
          continue
        }
        break
      }
    }
  }

  /// The next body for destination `index`, waiting for one; nil once stopped.
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
}
