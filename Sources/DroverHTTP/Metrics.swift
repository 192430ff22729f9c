import CoreMetrics
import DroverCore
import DroverSupervisor
import DroverSystem
import DroverWire
import Prometheus
import Synchronization

/// Prometheus metrics (CONTRACT.md, "Metrics"), through swift-metrics with a factory and a
/// registry of our own (not the process-global bootstrap: an embedding application may have
/// its own). Job and worker counters and the wait/run histograms are fed from the supervisor's
/// post-commit event stream by a thread of their own; the gauges are set at scrape time from
/// the store's counters and the loop's status, never by scanning.
final class DroverMetrics: Sendable {
  let registry = PrometheusCollectorRegistry()
  let factory: PrometheusMetricsFactory
  private let subscription: EventSubscription
  /// Finished and failed attempts per second, for the health error rate.
  private let window: Mutex<ErrorRateWindow>
  /// Each live worker's resource series, by pid (removed when the worker is gone).
  private let workerSeries = Mutex<[Int32: WorkerSeries]>([:])

  static let jobBuckets: [Duration] = [
    .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50),
    .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30),
    .seconds(60), .seconds(300), .seconds(1800), .seconds(3600),
  ]
  static let commitBuckets: [Duration] = [
    .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
    .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
    .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1),
  ]

  init(events: EventBus, errorWindow: Duration) {
    var f = PrometheusMetricsFactory(registry: registry)
    f.durationHistogramBuckets = [
      "drover_job_wait_seconds": Self.jobBuckets, "drover_job_run_seconds": Self.jobBuckets,
      "drover_commit_seconds": Self.commitBuckets,
    ]
    factory = f
    window = Mutex(ErrorRateWindow(window: errorWindow))
    // Room for a burst of a few seconds of a fast drain (three events per job).
    subscription = events.subscribe(capacity: 200_000).subscription
    let consumer = EventConsumer(metrics: self)
    let sub = subscription
    startThread {
      while true {
        let batch = sub.next(timeout: .seconds(1))
        if batch.isEmpty, sub.isClosed { return }
        consumer.consume(batch)
      }
    }
  }

  /// Stops reading events.
  func stop() { subscription.close() }

  /// (failed, finished) attempts in the error window.
  func errorTotals() -> (failed: Int, finished: Int) {
    let now = Int64(Timestamp.now().micros / 1_000_000)
    return window.withLock { $0.totals(now: now) }
  }

  func noteFinished(failed: Bool, at: Timestamp) {
    let s = at.micros / 1_000_000
    window.withLock { $0.record(failed: failed, now: s) }
  }

  func counter(_ name: String, _ labels: [(String, String)]) -> CoreMetrics.Counter {
    CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
  }

  func timer(_ name: String, _ labels: [(String, String)]) -> CoreMetrics.Timer {
    CoreMetrics.Timer(label: name, dimensions: labels, factory: factory)
  }

  func gauge(_ name: String, _ labels: [(String, String)]) -> CoreMetrics.Gauge {
    CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
  }

  /// Sets the scrape-time gauges and renders the registry as Prometheus text.
  func render(
    status s: StatusSnapshot, counts: [String: [JobState: Int]], oldest: [String: Duration]
  ) -> String {
    for (type, byState) in counts {
      for st in JobState.allCases {
        gauge("drover_jobs", [("state", st.name), ("type", type)]).record(byState[st] ?? 0)
      }
    }
    for p in s.pools {
      let age = oldest[p.name].map { Double($0.fractionalMilliseconds) / 1000 } ?? 0
      gauge("drover_oldest_ready_seconds", [("pool", p.name)]).record(age)
      var byState = ["busy": 0, "idle": 0, "starting": 0, "retiring": 0]
      for w in p.workers {
        let state =
          w.retiring ? "retiring" : !w.ready ? "starting" : w.busy ? "busy" : "idle"
        byState[state, default: 0] += 1
      }
      for (state, n) in byState {
        gauge("drover_workers", [("pool", p.name), ("state", state)]).record(n)
      }
      gauge("drover_pool_crash_looping", [("pool", p.name)]).record(p.crashLooping ? 1 : 0)
    }
    recordWorkers(s)
    // The loop keeps its last commit's duration: one observation per scrape samples it.
    timer("drover_commit_seconds", []).recordNanoseconds(
      Int64(s.loop.lastCommit.fractionalMilliseconds * 1e6))
    gauge("drover_loop_turn_max_seconds", []).record(s.loop.turnMax.fractionalMilliseconds / 1000)
    return registry.emitToString()
  }
}

/// One worker's `drover_worker_rss_bytes` and `drover_worker_cpu_seconds_total` series.
struct WorkerSeries: Sendable {
  var pool: String
  var rss: Prometheus.Gauge
  var cpu: Prometheus.Counter
  /// The CPU seconds the counter has been raised to.
  var cpuSeen: Double
}

extension DroverMetrics {
  /// Sets each worker's RSS gauge and raises its CPU counter to the loop's last reading (a
  /// counter only goes up, so by the difference); drops the series of workers that are gone
  /// (or whose pid now names a worker of another pool).
  func recordWorkers(_ s: StatusSnapshot) {
    workerSeries.withLock { series in
      var live = Set<Int32>()
      for p in s.pools {
        for w in p.workers {
          live.insert(w.pid)
          if let old = series[w.pid], old.pool != p.name {
            unregister(old)
            series[w.pid] = nil
          }
          let labels = [("pool", p.name), ("pid", String(w.pid))]
          var ws =
            series[w.pid]
            ?? WorkerSeries(
              pool: p.name,
              rss: registry.makeGauge(descriptor: Self.rssName, labels: labels),
              cpu: registry.makeCounter(descriptor: Self.cpuName, labels: labels),
              cpuSeen: 0)
          if let rss = w.rss { ws.rss.set(Double(rss)) }
          if let cpu = w.cpu.map({ $0.fractionalMilliseconds / 1000 }), cpu > ws.cpuSeen {
            ws.cpu.increment(by: cpu - ws.cpuSeen)
            ws.cpuSeen = cpu
          }
          series[w.pid] = ws
        }
      }
      for (pid, ws) in series where !live.contains(pid) {
        unregister(ws)
        series[pid] = nil
      }
    }
  }

  static var rssName: MetricNameDescriptor {
    MetricNameDescriptor(
      metricName: "drover_worker_rss", unitName: "bytes",
      helpText: "Resident set size of the worker process (sampled every 2 s)")
  }
  static var cpuName: MetricNameDescriptor {
    MetricNameDescriptor(
      metricName: "drover_worker_cpu_seconds", unitName: "total",
      helpText: "CPU time of the worker process and its reaped exec commands")
  }

  private func unregister(_ ws: WorkerSeries) {
    registry.unregisterGauge(ws.rss)
    registry.unregisterCounter(ws.cpu)
  }
}

/// The event stream's consumer: runs on the metrics thread only, so its caches need no lock.
/// `@unchecked Sendable`: handed once to that thread and used there alone.
final class EventConsumer: @unchecked Sendable {
  unowned let metrics: DroverMetrics
  /// A metric series: its name and label values (no string is built per event to find it).
  private struct Series: Hashable {
    var name: StaticString.ID
    var a: String
    var b: String
  }
  private var counters: [Series: CoreMetrics.Counter] = [:]
  private var timers: [Series: CoreMetrics.Timer] = [:]
  /// When each running attempt started (for the run-time histogram); bounded.
  private var startedAt: [JobID: Timestamp] = [:]

  init(metrics: DroverMetrics) { self.metrics = metrics }

  /// `labels` are (name, value) pairs, at most two.
  private func count(_ name: StaticString, _ labels: [(String, String)]) {
    let key = Series(
      name: name.id, a: labels.first?.1 ?? "", b: labels.count > 1 ? labels[1].1 : "")
    if let c = counters[key] { return c.increment() }
    let c = metrics.counter(name.description, labels)
    counters[key] = c
    c.increment()
  }

  private func observe(_ name: StaticString, type: String, _ d: Duration) {
    let key = Series(name: name.id, a: type, b: "")
    let t = timers[key] ?? metrics.timer(name.description, [("type", type)])
    timers[key] = t
    t.recordNanoseconds(Int64(d.fractionalMilliseconds * 1e6))
  }

  private func ran(_ id: JobID, type: String, until at: Timestamp) {
    if let start = startedAt.removeValue(forKey: id), at >= start {
      observe("drover_job_run_seconds", type: type, .microseconds(at.micros - start.micros))
    }
  }

  func consume(_ events: [LifecycleEvent]) {
    for e in events {
      switch e.kind {
      case .created(_, let type, _, _):
        count("drover_jobs_enqueued_total", [("type", type)])
      case .started(let id, let type, _, let pool, _, let runAt):
        count("drover_jobs_started_total", [("type", type), ("pool", pool)])
        if e.at >= runAt {
          observe("drover_job_wait_seconds", type: type, .microseconds(e.at.micros - runAt.micros))
        }
        // A lost finish event must not grow this forever.
        if startedAt.count > 100_000 { startedAt.removeAll() }
        startedAt[id] = e.at
      case .completed(let id, let type, _, let pool, _):
        count("drover_jobs_completed_total", [("type", type), ("pool", pool)])
        ran(id, type: type, until: e.at)
        metrics.noteFinished(failed: false, at: e.at)
      case .failed(let id, let type, _, let pool, _, _, _):
        count("drover_jobs_failed_total", [("type", type), ("pool", pool)])
        ran(id, type: type, until: e.at)
        metrics.noteFinished(failed: true, at: e.at)
      case .dead(let id, let type, _, let pool, _, _):
        // The attempt that made the job dead failed too.
        count("drover_jobs_failed_total", [("type", type), ("pool", pool)])
        count("drover_jobs_dead_total", [("type", type), ("pool", pool)])
        ran(id, type: type, until: e.at)
        metrics.noteFinished(failed: true, at: e.at)
      case .cancelled(let id, let type):
        count("drover_jobs_cancelled_total", [("type", type)])
        startedAt.removeValue(forKey: id)
      case .rescued(let id, _, let state):
        count(
          "drover_jobs_rescued_total",
          [("reason", state == .cancelled ? "owner_died_cancel_requested" : "owner_died")])
        startedAt.removeValue(forKey: id)
      case .workerExited(let pool, _, let cause, let expected) where !expected:
        count("drover_worker_restarts_total", [("pool", pool), ("cause", Self.cause(cause))])
      case .snoozed(let id, _, _):
        startedAt.removeValue(forKey: id)
      default:
        break
      }
    }
  }

  /// A bounded label from an exit cause: `signal_9`, `exit_1`, or its first word.
  static func cause(_ text: String) -> String {
    let words = text.split(separator: " ")
    for (i, w) in words.enumerated() where i + 1 < words.count {
      if w == "signal", let n = Int(words[i + 1].prefix { $0.isNumber }) { return "signal_\(n)" }
      if w == "status" || w == "code", let n = Int(words[i + 1].prefix { $0.isNumber }) {
        return "exit_\(n)"
      }
    }
    return words.first.map { String($0.prefix { $0.isLetter }) }.flatMap { $0.isEmpty ? nil : $0 }
      ?? "other"
  }
}

extension StaticString {
  /// Identity of a literal (its address): a cheap hash key for metric names.
  typealias ID = UInt

  var id: UInt { UInt(bitPattern: utf8Start) }
}
