import DroverAlerts
import DroverCore
import DroverSupervisor
import DroverSystem
import Logging

/// The alert engine of `drover serve`: started before the loop runs when `[alerts]` is set,
/// or by the first reload that sets it; a reload hands the engine its new settings.
final class ServeAlerts: Sendable {
  private let monitor = Monitor()
  // Guarded by `monitor`.
  nonisolated(unsafe) private var engine: AlertEngine?
  nonisolated(unsafe) private var stopped = false
  nonisolated(unsafe) private var starting = false
  private let events: EventBus
  private let mailbox: Mailbox
  private let logger = Logger(label: "drover.alerts")

  init(_ supervisor: Supervisor) {
    events = supervisor.events
    mailbox = supervisor.mailbox
    start(supervisor.currentConfig)
    supervisor.onReload = { [self] config in reloaded(config) }
  }

  private func start(_ config: DroverConfig) {
    guard config.alerts != nil else { return }
    // One engine at most, even when two reloads race to start it.
    let go = monitor.locked { () -> Bool in
      guard self.engine == nil, !starting, !stopped else { return false }
      starting = true
      return true
    }
    guard go else { return }
    let engine = AlertEngine(config: config, events: events, mailbox: mailbox, logger: logger)
    do {
      try engine.start()
    } catch {
      logger.error("alerts: cannot start: \(error)")
      monitor.locked { starting = false }
      return
    }
    let lateStop = monitor.locked { () -> Bool in
      starting = false
      self.engine = engine
      return stopped
    }
    if lateStop { engine.stop() }
  }

  private func reloaded(_ config: DroverConfig) {
    if let engine = monitor.locked({ engine }) {
      engine.reload(config)
    } else if config.alerts != nil {
      // Opening the engine's store connection is I/O: not on the loop's thread.
      startThread { [self] in start(config) }
    }
  }

  /// Stops the engine (queued alerts get a short grace). Harmless twice.
  func stop() {
    monitor.locked { () -> AlertEngine? in
      stopped = true
      return engine
    }?.stop()
  }
}
