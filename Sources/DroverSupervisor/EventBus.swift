import DroverCore
import DroverSystem
public import DroverWire

/// The post-commit event stream: the loop publishes lifecycle events once they are durable;
/// each subscriber reads them on its own thread from a bounded queue of its own. The bus keeps
/// the last `historyLimit` events that are not routine (failures, rescues, workers, pools)
/// for subscribers that ask for a replay.
///
/// The loop never waits on a subscriber: `publish` takes each subscriber's lock for an append
/// and moves on. A subscriber that falls behind loses the newest events past its capacity and
/// is told how many (a `.lost` event before the next one it gets).
public final class EventBus: Sendable {
  private let monitor = Monitor()
  // Guarded by `monitor`.
  nonisolated(unsafe) private var subscribers: [EventSubscription] = []
  nonisolated(unsafe) private var history: [LifecycleEvent] = []
  nonisolated(unsafe) private var historyStart = 0
  /// How many recent events are kept for `subscribe(replay: true)`.
  let historyLimit: Int

  public init(historyLimit: Int = 1000) {
    self.historyLimit = historyLimit
  }

  /// Whether anyone listens: the loop builds routine events (`isRoutine`) only then.
  public var hasSubscribers: Bool { monitor.locked { !subscribers.isEmpty } }

  /// Hands `events` to every subscriber (loop thread; never blocks on a subscriber).
  public func publish(_ events: [LifecycleEvent]) {
    guard !events.isEmpty else { return }
    let subs = monitor.locked {
      for e in events where !e.isRoutine {
        if history.count < historyLimit {
          history.append(e)
        } else {
          history[historyStart] = e
          historyStart = (historyStart + 1) % historyLimit
        }
      }
      subscribers.removeAll { $0.isClosed }
      return subscribers
    }
    for s in subs { s.offer(events) }
  }

  /// A new subscriber with room for `capacity` unread events; `replay` queues the recent history
  /// first (`replayed` says how many of those passed `filter`). `filter` keeps only the events
  /// it accepts.
  public func subscribe(
    capacity: Int = 10_000, replay: Bool = false,
    filter: @escaping @Sendable (LifecycleEvent) -> Bool = { _ in true }
  ) -> (subscription: EventSubscription, replayed: Int) {
    let s = EventSubscription(capacity: capacity, filter: filter)
    let past: [LifecycleEvent] = monitor.locked {
      subscribers.append(s)
      guard replay else { return [] }
      return Array(history[historyStart...] + history[..<historyStart])
    }
    return (s, s.offer(past))
  }

  /// How many subscribers are attached (tests, status).
  public var subscriberCount: Int { monitor.locked { subscribers.filter { !$0.isClosed }.count } }
}

/// One reader of the event stream, with its own bounded queue.
public final class EventSubscription: Sendable {
  private let monitor = Monitor()
  let capacity: Int
  let filter: @Sendable (LifecycleEvent) -> Bool
  // Guarded by `monitor`.
  nonisolated(unsafe) private var queue: [LifecycleEvent] = []
  nonisolated(unsafe) private var lost = 0
  nonisolated(unsafe) private var closed = false

  init(capacity: Int, filter: @escaping @Sendable (LifecycleEvent) -> Bool) {
    self.capacity = max(1, capacity)
    self.filter = filter
  }

  /// Whether it was closed (by its reader, or a streamer that lost its peer).
  public var isClosed: Bool { monitor.locked { closed } }

  /// Queues the events that pass the filter; returns how many passed.
  @discardableResult
  func offer(_ events: [LifecycleEvent]) -> Int {
    let wanted = events.filter(filter)
    guard !wanted.isEmpty else { return 0 }
    monitor.locked {
      guard !closed else { return }
      let room = capacity - queue.count
      if room >= wanted.count {
        queue += wanted
      } else {
        if room > 0 { queue += wanted[..<room] }
        lost += wanted.count - max(0, room)
      }
      monitor.broadcast()
    }
    return wanted.count
  }

  /// Waits up to `timeout` for events; returns what is queued (a `.lost` marker first when
  /// events were dropped), or [] on timeout or once closed.
  public func next(timeout: Duration) -> [LifecycleEvent] {
    let deadline = Monotonic.nanoseconds() + timeout.saturatingNanoseconds
    return monitor.locked {
      while queue.isEmpty && lost == 0 && !closed && Monotonic.nanoseconds() < deadline {
        monitor.wait(untilNS: deadline)
      }
      var out: [LifecycleEvent] = []
      if lost > 0 {
        out.append(LifecycleEvent(at: .now(), .lost(count: lost)))
        lost = 0
      }
      out += queue
      queue.removeAll(keepingCapacity: true)
      return out
    }
  }

  /// Detaches: the bus forgets it at its next publish, and a waiting `next` returns.
  public func close() {
    monitor.locked {
      closed = true
      queue = []
      monitor.broadcast()
    }
  }
}

/// Serves one control connection that asked for `events`: a thread of its own writes each
/// event as a JSON line, blocking, with a send timeout. The loop handed over the socket and
/// never touches it again. Ends when the peer goes away or the bus's subscription closes.
enum EventStreamer {
  static func start(fd: Int32, subscription: EventSubscription, greeting: String) {
    startThread {
      defer {
        subscription.close()
        FD.close(fd)
      }
      // Blocking writes with a send timeout: a peer that stops reading blocks only this thread
      // (the bus drops its events meanwhile), and one that never reads again is dropped.
      try? FD.setNonBlocking(fd, false)
      try? UnixSocket.setTimeouts(fd, receive: nil, send: .seconds(5))
      guard (try? FD.writeAll(fd, greeting + "\n")) != nil else { return }
      while true {
        let events = subscription.next(timeout: .milliseconds(500))
        if subscription.isClosed { return }
        if events.isEmpty {
          // Nothing to say: check whether the peer hung up.
          if peerGone(fd) { return }
          continue
        }
        var text = ""
        for e in events { text += e.json.render() + "\n" }
        guard (try? FD.writeAll(fd, text)) != nil else { return }
      }
    }
  }

  /// True when the peer closed its side (readable with EOF, or an error).
  static func peerGone(_ fd: Int32) -> Bool {
    guard (try? FD.waitUntilReadable(fd, timeout: .zero)) == true else { return false }
    var sink = [UInt8](repeating: 0, count: 256)
    do {
      return try FD.read(fd, into: &sink) == 0
    } catch {
      return true
    }
  }
}
