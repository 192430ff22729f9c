public import DroverCore
import DroverStore
public import DroverSupervisor
import DroverSystem
import DroverWire
public import Logging

/// Watches a running supervisor and sends `[alerts]` to their webhooks and channels (Slack,
/// PagerDuty, e-mail; CONTRACT.md, "Alerts").
///
/// One thread of its own reads the post-commit event stream (dead jobs, and the finished jobs
/// the error rate counts) and, about once a second, measures the other conditions: running jobs
/// and ready backlogs on a read-only store connection of its own, crash-looping pools and
/// workers below min from a status snapshot asked of the loop through its mailbox. The loop
/// never waits on the engine: it only answers the snapshot request and publishes events, and
/// the webhooks are the sender's threads' business.
///
/// Holding a subscription makes the loop build its routine events (completed, started, …),
/// which the error rate needs; without `[alerts]` the engine is never started.
public final class AlertEngine: Sendable {
  /// Timings, shortened by tests.
  public struct Options: Sendable {
    /// How often the conditions are measured.
    public var tick: Duration = .seconds(1)
    /// How long the oldest ready job of each pool is kept before it is read again (a pool
    /// whose backlog empties is seen at once).
    public var oldestReadyCacheFor: Duration = .seconds(5)
    /// How long a status snapshot may take before the tick goes on without it.
    public var statusTimeout: Duration = .seconds(2)
    /// How the webhooks and channels are tried.
    public var sender = AlertOutbox.Options()
    /// The production timings.
    public init() {}
  }

  let events: EventBus
  let mailbox: Mailbox
  let logger: Logger
  let options: Options
  private let monitor = Monitor()
  // Guarded by `monitor`.
  nonisolated(unsafe) private var pending: DroverConfig?
  nonisolated(unsafe) private var stopped = false
  nonisolated(unsafe) private var finished = false
  nonisolated(unsafe) private var subscription: EventSubscription?
  nonisolated(unsafe) private var current: DroverConfig

  /// An engine for `config` (its `[alerts]` may be nil: then it idles until a reload sets one).
  public init(
    config: DroverConfig, events: EventBus, mailbox: Mailbox, logger: Logger,
    options: Options = .init()
  ) {
    self.current = config
    self.events = events
    self.mailbox = mailbox
    self.logger = logger
    self.options = options
  }

  /// Opens the read-only store connection, subscribes and starts the engine's thread.
  public func start() throws {
    let config = monitor.locked { current }
    // Read-write: the engine keeps the alert history (a few rows when alerts fire).
    let store = try StoreFactory.open(config.store, access: .readWrite)
    let sub = events.subscribe(capacity: 100_000) { e in
      switch e.kind {
      case .completed, .failed, .dead, .lost: true
      default: false
      }
    }.subscription
    monitor.locked { subscription = sub }
    let reader = StoreBox(store)
    startThread { [self] in run(store: reader, subscription: sub, config: config) }
  }

  /// Takes a reloaded config (any thread): applied at the next tick.
  public func reload(_ config: DroverConfig) {
    monitor.locked { pending = config }
  }

  /// Stops the thread and the sender (queued alerts get a short grace). Harmless twice.
  public func stop() {
    let sub: EventSubscription? = monitor.locked {
      stopped = true
      return subscription
    }
    sub?.close()
    let deadline = Monotonic.nanoseconds() + 10_000_000_000
    monitor.locked {
      while !finished && Monotonic.nanoseconds() < deadline { monitor.wait(untilNS: deadline) }
    }
  }

  // MARK: The engine's thread

  /// What the thread keeps between ticks (its own, never shared).
  private struct State {
    var config: DroverConfig
    var sender: AlertChannels?
    var machine = AlertStateMachine(confirm: [.workersBelowMin: 3])
    var window: ErrorRateWindow
    var oldest: [String: Timestamp] = [:]
    var oldestReadAt: Int64 = 0
    /// The history's id of each firing alert of the state machine.
    var ids: [AlertKey: Int64] = [:]
    /// Transitions of this turn, recorded in one transaction before they are sent.
    var outgoing: [AlertTransition] = []
  }

  private func run(store box: StoreBox, subscription: EventSubscription, config: DroverConfig) {
    defer {
      monitor.locked {
        finished = true
        monitor.broadcast()
      }
    }
    let store = box.store
    var state = State(
      config: config,
      window: ErrorRateWindow(window: config.alerts?.errorRate?.window ?? .seconds(300)))
    state.sender = makeSender(config)
    defer { state.sender?.stop() }
    resume(&state, store: store)
    let tickNS = options.tick.saturatingNanoseconds
    var nextTick = Monotonic.nanoseconds() + tickNS
    while !monitor.locked({ stopped }) {
      let wait = max(0, nextTick - Monotonic.nanoseconds())
      for event in subscription.next(timeout: .nanoseconds(wait)) {
        handle(event, &state, store: store)
      }
      flush(&state, store: store)
      let now = Monotonic.nanoseconds()
      guard now >= nextTick else { continue }
      nextTick = max(nextTick + tickNS, now)
      if let new = monitor.locked({ () -> DroverConfig? in
        defer { pending = nil }
        return pending
      }) {
        apply(new, &state)
      }
      tick(&state, store: store)
    }
  }

  private func makeSender(_ config: DroverConfig) -> AlertChannels? {
    guard let alerts = config.alerts else { return nil }
    let s = AlertChannels(
      alerts: alerts, http: config.http, options: options.sender, logger: logger)
    s.start()
    return s
  }

  /// Whether `a` and `b` build the same channels: a reload that changes none of what they
  /// are built from keeps them (and their queues).
  private static func sameChannels(_ a: DroverConfig, _ b: DroverConfig) -> Bool {
    let x = a.alerts
    let y = b.alerts
    return x?.webhooks == y?.webhooks && x?.secret == y?.secret && x?.slack == y?.slack
      && x?.pagerDuty == y?.pagerDuty && x?.email == y?.email
      && AlertText.linkBase(x, http: a.http) == AlertText.linkBase(y, http: b.http)
  }

  private func apply(_ new: DroverConfig, _ state: inout State) {
    let old = state.config.alerts
    let rebuild = !Self.sameChannels(state.config, new)
    state.config = new
    if rebuild {
      state.sender?.stop()
      state.sender = makeSender(new)
    }
    if old?.errorRate?.window != new.alerts?.errorRate?.window {
      state.window = ErrorRateWindow(window: new.alerts?.errorRate?.window ?? .seconds(300))
    }
    logger.notice("alerts: settings reloaded")
  }

  private func handle(_ event: LifecycleEvent, _ state: inout State, store: any JobStore) {
    let second = event.at.micros / 1_000_000
    switch event.kind {
    case .completed:
      state.window.record(failed: false, now: second)
    case .failed:
      state.window.record(failed: true, now: second)
    case .dead(let id, _, let attempt, let pool, _, _):
      state.window.record(failed: true, now: second)
      guard state.config.alerts != nil else { return }
      let job = (try? store.job(id))?.map(JobJSON.job)
      let m = AlertMeasurement(
        key: AlertKey(.jobDead, String(id)), breached: true, value: .int(Int64(attempt)),
        threshold: .null, pool: pool, job: job ?? .object([JSONField("id", .int(id))]))
      state.outgoing.append(AlertTransition(.firing, m))
    case .lost(let n):
      logger.warning("alerts: the event stream dropped \(n) events (error rate and dead jobs)")
    default:
      break
    }
  }

  private func tick(_ state: inout State, store: any JobStore) {
    guard let alerts = state.config.alerts else { return }
    let now = Timestamp.now()
    var input = AlertInputs(now: now)
    input.status = status()
    // Only what a configured threshold needs is read (an unset one is measured as empty).
    let needsBacklog = alerts.backlogAbove != nil || alerts.oldestReadyAbove != nil
    input.backlog = needsBacklog ? try? store.backlog(now: now) : [:]
    input.running =
      alerts.stuckAfter == nil ? [] : try? store.list(ListParams(state: .running, limit: 100_000))
    let totals = state.window.totals(now: now.micros / 1_000_000)
    input.errorTotals = (totals.failed, totals.finished)
    if alerts.oldestReadyAbove != nil, let backlog = input.backlog {
      let mono = Monotonic.nanoseconds()
      if mono - state.oldestReadAt >= options.oldestReadyCacheFor.saturatingNanoseconds {
        var fresh: [String: Timestamp] = [:]
        var ok = true
        for pool in state.config.pools {
          do throws(StoreError) {
            if let t = try store.oldestReady(OldestReadyParams(types: pool.types, now: now)) {
              fresh[pool.name] = t
            }
          } catch {
            ok = false
          }
        }
        if ok {
          state.oldest = fresh
          state.oldestReadAt = mono
        }
      }
      // A pool with nothing ready has no oldest job, whatever the cache says.
      var oldest = state.oldest
      for pool in state.config.pools where pool.types.allSatisfy({ (backlog[$0] ?? 0) == 0 }) {
        oldest[pool.name] = nil
      }
      input.oldestReady = oldest
    } else if alerts.oldestReadyAbove == nil {
      input.oldestReady = [:]
    }
    let (kinds, measurements) = AlertConditions.measure(alerts, pools: state.config.pools, input)
    state.outgoing += state.machine.update(kinds: kinds, measurements)
    flush(&state, store: store)
    remind(&state, store: store, every: alerts.renotify)
  }

  /// The alerts a previous run left firing in the history are firing here too: a restart
  /// neither sends them again nor forgets to resolve them.
  private func resume(_ state: inout State, store: any JobStore) {
    guard let open = try? store.alerts(open: true, limit: 10_000) else { return }
    for r in open {
      guard let kind = AlertKind(rawValue: r.kind), kind != .jobDead else { continue }
      let key = AlertKey(kind, r.subject)
      state.ids[key] = r.id
      state.machine.assumeFiring(
        AlertMeasurement(key: key, breached: true, value: .null, threshold: .null, pool: r.pool))
    }
  }

  /// Firing alerts nobody acknowledged, last notified `every` ago or more, are sent again.
  private func remind(_ state: inout State, store: any JobStore, every: Duration) {
    guard every > .zero, !state.ids.isEmpty,
      let open = try? store.alerts(open: true, limit: 10_000)
    else { return }
    let now = Timestamp.now()
    let byID = Dictionary(open.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    for (key, id) in state.ids {
      guard let r = byID[id], r.ackedAt == nil, let m = state.machine.firing[key],
        now.micros - r.notifiedAt.micros >= every.microseconds
      else { continue }
      var t = AlertTransition(.firing, m)
      t.id = id
      t.reminder = true
      try? store.noteAlertNotified(id, at: now)
      deliver(t, state.sender)
    }
  }

  /// Records this turn's transitions in the history (one transaction for the firings: a storm
  /// of dead jobs is one write, not one per job), then sends them.
  private func flush(_ state: inout State, store: any JobStore) {
    guard !state.outgoing.isEmpty else { return }
    var out = state.outgoing
    state.outgoing.removeAll()
    let now = Timestamp.now()
    let firing = out.indices.filter { out[$0].state == .firing }
    let records = firing.map { i -> NewAlert in
      let m = out[i].measurement
      return NewAlert(
        kind: m.key.kind.rawValue, severity: m.key.kind.severity.rawValue, pool: m.pool,
        job: m.job?["id"]?.intValue, subject: m.key.subject, message: AlertText.sentence(out[i]),
        details: AlertBody.json(out[i], at: now).render(), at: now,
        resolvesByAck: m.key.kind == .jobDead)
    }
    do {
      let ids = try store.recordAlerts(records)
      for (n, i) in firing.enumerated() where n < ids.count {
        out[i].id = ids[n]
        let key = out[i].measurement.key
        if key.kind != .jobDead { state.ids[key] = ids[n] }
      }
    } catch {
      logger.warning("alerts: cannot record \(records.count) alerts in the history: \(error)")
    }
    for i in out.indices where out[i].state == .resolved {
      let key = out[i].measurement.key
      guard let id = state.ids.removeValue(forKey: key) else { continue }
      out[i].id = id
      do { try store.resolveAlert(id, at: now) } catch {
        logger.warning("alerts: cannot record \(key) resolved in the history: \(error)")
      }
    }
    for t in out { deliver(t, state.sender) }
  }

  private func deliver(_ t: AlertTransition, _ sender: AlertChannels?) {
    let m = t.measurement
    logger.notice(
      "alert \(m.key.kind.rawValue) \(t.state.rawValue)",
      metadata: [
        "pool": .string(m.pool ?? "-"), "subject": .string(m.key.subject ?? "-"),
        "value": .string(m.value.render()),
      ])
    sender?.send(t, at: .now())
  }

  /// A status snapshot from the loop, or nil when it does not answer in time.
  private func status() -> StatusSnapshot? {
    let box = ReplyBox()
    mailbox.post(.request(.status, reply: { reply in box.put(reply) }))
    guard let reply = box.take(timeout: options.statusTimeout), case .status(let s) = reply else {
      return nil
    }
    return s
  }
}

/// Moves the engine's store connection to its thread. `@unchecked Sendable` is sound: the
/// connection is created by `start` and used by the engine's one thread only, after the
/// hand-over; nothing else keeps a reference.
private final class StoreBox: @unchecked Sendable {
  let store: any JobStore
  init(_ store: any JobStore) { self.store = store }
}

/// One reply from the loop, waited for with a deadline.
private final class ReplyBox: Sendable {
  private let monitor = Monitor()
  // Guarded by `monitor`.
  nonisolated(unsafe) private var reply: ControlReply?

  func put(_ r: ControlReply) {
    monitor.locked {
      reply = r
      monitor.broadcast()
    }
  }

  func take(timeout: Duration) -> ControlReply? {
    let deadline = Monotonic.nanoseconds() + timeout.saturatingNanoseconds
    return monitor.locked {
      while reply == nil && Monotonic.nanoseconds() < deadline { monitor.wait(untilNS: deadline) }
      return reply
    }
  }
}
